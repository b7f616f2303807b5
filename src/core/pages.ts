/**
 * The page engine: slot table, item log, allocation, eviction and compaction inside one page.
 * Every method here expects the caller to hold the page's lock.
 *
 * A page is a header, an open-addressed slot table (linear probing, backward-shift deletion)
 * and an item log. New items go at the log's end or into a hole left by dead items; when
 * neither fits but dead space would, the page is compacted. Writes are ordered so that a
 * process killed at any instruction leaves a log that can be walked from its start: see
 * docs/file-format.md, "Crash consistency".
 */
import { crc32 } from 'node:zlib';
import { sessmapError } from '../errors.js';
import { FAULTS, fault } from './faults.js';
import type { Segment } from './file.js';
import { halfSipHash } from './hash.js';
import {
  FLAG_LIVE, ITEM_HEADER_SIZE, ITEM_MAGIC, I_CRC_OFF, I_CRC_START, I_CREATED_OFF, I_EXPIRES_OFF, I_FLAGS_OFF, I_HASH_OFF,
  I_KEY_LEN_OFF, I_LEN_OFF, I_PRIORITY_OFF, I_TICK_OFF, I_TYPE_OFF, I_VALUE_LEN_OFF, I_VERSION_OFF, MAX_SLOT_LOAD,
  PAGE_HEADER_SIZE, P_COUNT_IDX, P_C_DONE_IDX, P_C_DST_IDX, P_C_END_IDX, P_C_LEN_IDX, P_C_READ_IDX, P_C_SRC_IDX,
  P_C_WRITE_IDX, P_COMPACT_IDX, P_DEAD_BYTES_IDX, P_EVICTED_HIGH_IDX, P_EVICTED_LIVE_IDX, P_FREE_IDX, P_LIVE_BYTES_IDX, P_R_EVICTED_IDX,
  P_R_EXPIRED_IDX, P_VERSION_IDX, SLOT_SIZE,
} from './layout.js';
import { dataStart, type FileGeometry, type SegmentPlan } from './options.js';
import { copyOut, writeEncoded, type Encoded } from './serializer.js';
import type { EvictionPolicy, RemovalReason } from './types.js';

/**
 * Access ticks per millisecond. A tick is the time of a use in ms times this, plus a count that
 * keeps a thread's successive uses within one millisecond in order: LRU order is exact within a
 * thread and of millisecond resolution between threads and processes.
 */
export const TICKS_PER_MS = 1024;
let lastTick = 0;

/** The access tick for a use at `now` (ms): strictly increasing within this thread. */
export function nextTick(now: number): number {
  const t = Math.floor(now) * TICKS_PER_MS;
  lastTick = t > lastTick ? t : lastTick + 1;
  return lastTick;
}

/** Items start and end on 16-byte boundaries, so the smallest dead filler (magic, length, flags) always fits. */
export function alignItem(n: number): number {
  return (n + 15) & ~15;
}

/** Thrown when a page turns out to be damaged mid-operation; the cache repairs it and retries. */
export class PageDamaged extends Error {
  constructor(readonly page: number) {
    super(`page ${page} is damaged`);
  }
}

/** A removal collected under the lock; the value (if captured) is decoded after the lock is released. */
export interface PendingRemoval {
  key: string;
  reason: RemovalReason;
  page: number;
  ttlLeft: number | undefined;
  expiresAt: number | undefined;
  type: number;
  raw: string | Buffer | undefined;
}

/** Collected removals, handed to the hook after the lock is released. */
export type RemovalSink = PendingRemoval[] | null;

export class Pages {
  readonly segs: Segment[];
  readonly segOf: Uint32Array;
  readonly baseOf: Uint32Array;
  readonly pageCount: number;
  readonly pageSize: number;
  readonly slots: number;
  readonly mask: number;
  readonly slotShift: number;
  readonly ds: number;
  readonly maxItems: number;
  readonly policy: EvictionPolicy;
  readonly k0: number;
  readonly k1: number;
  /** Key bytes of the operation under way (and their words, for hashing and comparing). */
  readonly scratch: Buffer;
  readonly scratchI32: Int32Array;
  /** A second scratch for validation and repair, which may run in the middle of an operation. */
  readonly scratch2: Buffer;
  readonly scratch2I32: Int32Array;
  /** Where removals are collected; null when no hook listens. */
  sink: RemovalSink;
  /** Copy each removed value for the hook. */
  captureValues = false;
  /** Result of the last findHole: start and length of the hole. */
  holeAt = 0;
  holeLen = 0;

  constructor(segs: Segment[], plans: SegmentPlan[], g: FileGeometry, policy: EvictionPolicy, seed: Buffer, sink: RemovalSink) {
    this.segs = segs;
    this.pageCount = g.pageCount;
    this.pageSize = g.pageSize;
    this.slots = g.slotsPerPage;
    this.mask = g.slotsPerPage - 1;
    this.slotShift = 32 - Math.log2(g.slotsPerPage);
    this.ds = dataStart(g.slotsPerPage);
    this.maxItems = Math.max(1, Math.floor(g.slotsPerPage * MAX_SLOT_LOAD));
    this.policy = policy;
    this.k0 = seed.readInt32LE(0);
    this.k1 = seed.readInt32LE(4);
    const ab = new ArrayBuffer(alignItem(g.maxKeyBytes * 3 + 8));
    this.scratch = Buffer.from(ab);
    this.scratchI32 = new Int32Array(ab);
    const ab2 = new ArrayBuffer(alignItem(g.maxKeyBytes * 3 + 8));
    this.scratch2 = Buffer.from(ab2);
    this.scratch2I32 = new Int32Array(ab2);
    this.sink = sink;
    this.segOf = new Uint32Array(g.pageCount);
    this.baseOf = new Uint32Array(g.pageCount);
    plans.forEach((plan, si) => {
      for (let i = 0; i < plan.pageCount; i++) {
        this.segOf[plan.firstPage + i] = si;
        this.baseOf[plan.firstPage + i] = i * g.pageSize;
      }
    });
  }

  // ------------------------------------------------------------ keys and slots
  /** Keyed hash of the `klen` key bytes in scratch. */
  hashKey(klen: number): number {
    return halfSipHash(this.k0, this.k1, this.scratch, this.scratchI32, klen);
  }

  /** Keyed hash of the `klen` key bytes in scratch2. */
  hashKey2(klen: number): number {
    return halfSipHash(this.k0, this.k1, this.scratch2, this.scratch2I32, klen);
  }

  pageOf(h: number): number {
    return h % this.pageCount;
  }

  /** First slot to probe: the high bits of a multiplicative mix, independent of the page choice. */
  idealSlot(h: number): number {
    return Math.imul(h, 0x9e3779b1) >>> this.slotShift;
  }

  /** Slot index holding the key in scratch, or -1. */
  findSlot(s: Segment, b: number, h: number, klen: number): number {
    const u32 = s.u32;
    const mask = this.mask;
    const st = (b + PAGE_HEADER_SIZE) >> 2;
    let i = this.idealSlot(h);
    for (let n = 0; n <= mask; n++) {
      const off = u32[st + (i << 2) + 1];
      if (off === 0) return -1;
      if (u32[st + (i << 2)] === h && off >= this.ds && off + ITEM_HEADER_SIZE <= this.pageSize && this.keyEquals(s, b + off, klen)) return i;
      i = (i + 1) & mask;
    }
    return -1;
  }

  private keyEquals(s: Segment, a: number, klen: number): boolean {
    if (s.u16[(a + I_KEY_LEN_OFF) >> 1] !== klen || a + ITEM_HEADER_SIZE + klen > s.buf.length) return false;
    const words = klen >> 2;
    const w0 = (a + ITEM_HEADER_SIZE) >> 2;
    const mine = this.scratchI32;
    const i32 = s.i32;
    for (let j = 0; j < words; j++) if (mine[j] !== i32[w0 + j]) return false;
    const buf = s.buf;
    const scratch = this.scratch;
    for (let j = words << 2; j < klen; j++) if (scratch[j] !== buf[a + ITEM_HEADER_SIZE + j]) return false;
    return true;
  }

  slotOffset(s: Segment, b: number, si: number): number {
    return s.u32[((b + PAGE_HEADER_SIZE) >> 2) + (si << 2) + 1];
  }

  /** Float64Array index of a slot's access tick (recency for LRU; written by lock-free readers too). */
  tickIdx(b: number, si: number): number {
    return ((b + PAGE_HEADER_SIZE) >> 3) + (si << 1) + 1;
  }

  /** Points a slot at another item (same key): recency is kept. */
  setSlotOffset(s: Segment, b: number, si: number, off: number): void {
    s.u32[((b + PAGE_HEADER_SIZE) >> 2) + (si << 2) + 1] = off;
  }

  /** The slot pointing at the item at page offset `off` (whose hash is `h`), or -1. */
  slotOfItem(s: Segment, b: number, h: number, off: number): number {
    const u32 = s.u32;
    const st = (b + PAGE_HEADER_SIZE) >> 2;
    let i = this.idealSlot(h);
    for (let n = 0; n <= this.mask; n++) {
      const o = u32[st + (i << 2) + 1];
      if (o === 0) return -1;
      if (o === off) return i;
      i = (i + 1) & this.mask;
    }
    return -1;
  }

  /** Puts an item in the slot table with access tick `tick`; false when the table has no empty slot. */
  insertSlot(s: Segment, b: number, h: number, off: number, tick: number): boolean {
    const u32 = s.u32;
    const st = (b + PAGE_HEADER_SIZE) >> 2;
    let i = this.idealSlot(h);
    for (let n = 0; n <= this.mask; n++) {
      if (u32[st + (i << 2) + 1] === 0) {
        u32[st + (i << 2)] = h;
        s.f64[this.tickIdx(b, i)] = tick;
        u32[st + (i << 2) + 1] = off; // the offset makes the slot visible: written last
        return true;
      }
      i = (i + 1) & this.mask;
    }
    return false;
  }

  /** Empties a slot and shifts the rest of its probe run back, so no tombstones are needed. */
  removeSlot(s: Segment, b: number, si: number): void {
    const u32 = s.u32;
    const st = (b + PAGE_HEADER_SIZE) >> 2;
    const mask = this.mask;
    let hole = si;
    let j = si;
    for (let n = 0; n < mask; n++) {
      j = (j + 1) & mask;
      const off = u32[st + (j << 2) + 1];
      if (off === 0) break;
      const ideal = this.idealSlot(u32[st + (j << 2)]);
      // Move j back into the hole unless its ideal slot lies cyclically in (hole, j].
      const between = hole <= j ? ideal > hole && ideal <= j : ideal > hole || ideal <= j;
      if (!between) {
        u32[st + (hole << 2)] = u32[st + (j << 2)];
        s.f64[this.tickIdx(b, hole)] = s.f64[this.tickIdx(b, j)];
        u32[st + (hole << 2) + 1] = off;
        hole = j;
      }
    }
    u32[st + (hole << 2) + 1] = 0;
    u32[st + (hole << 2)] = 0;
    s.f64[this.tickIdx(b, hole)] = 0;
  }

  clearSlots(s: Segment, b: number): void {
    s.buf.fill(0, b + PAGE_HEADER_SIZE, b + PAGE_HEADER_SIZE + this.slots * SLOT_SIZE);
  }

  /**
   * Rebuilds the slot table from the live items of the log, each with the access tick its header
   * holds (its last write, or its recency when the page was last compacted). False if they did
   * not all fit.
   */
  rebuildSlots(s: Segment, b: number): boolean {
    this.clearSlots(s, b);
    const end = s.u32[(b >> 2) + P_FREE_IDX];
    let count = 0;
    let ok = true;
    for (let off = this.ds; off < end; ) {
      const a = b + off;
      const len = s.u32[(a + I_LEN_OFF) >> 2];
      if (len < 16) return false;
      if (s.u32[(a + I_FLAGS_OFF) >> 2] === FLAG_LIVE) {
        if (count < this.maxItems && this.insertSlot(s, b, s.u32[(a + I_HASH_OFF) >> 2], off, s.f64[(a + I_TICK_OFF) >> 3])) count++;
        else ok = false;
      }
      off += len;
    }
    s.u32[(b >> 2) + P_COUNT_IDX] = count;
    return ok;
  }

  // ------------------------------------------------------------ items
  keyOf(s: Segment, a: number): string {
    const klen = s.u16[(a + I_KEY_LEN_OFF) >> 1];
    return s.buf.toString('utf8', a + ITEM_HEADER_SIZE, a + ITEM_HEADER_SIZE + klen);
  }

  /** Records a removal for the hook (when one listens). */
  report(s: Segment, a: number, page: number, reason: RemovalReason, ttlLeft: number | undefined): void {
    if (this.sink === null) return;
    const exp = s.f64[(a + I_EXPIRES_OFF) >> 3];
    let type = 0;
    let raw: string | Buffer | undefined;
    if (this.captureValues) {
      type = s.buf[a + I_TYPE_OFF];
      const start = a + ITEM_HEADER_SIZE + s.u16[(a + I_KEY_LEN_OFF) >> 1];
      raw = copyOut(s.buf, type, start, start + s.u32[(a + I_VALUE_LEN_OFF) >> 2]);
    }
    this.sink.push({ key: this.keyOf(s, a), reason, page, ttlLeft, expiresAt: exp === 0 ? Infinity : exp, type, raw });
  }

  /** Marks an item dead and drops it from the slot table and the counts. */
  removeItem(s: Segment, b: number, si: number, off: number): void {
    const a = b + off;
    const len = s.u32[(a + I_LEN_OFF) >> 2];
    const h = b >> 2;
    s.u32[(a + I_FLAGS_OFF) >> 2] = 0;
    this.removeSlot(s, b, si);
    s.u32[h + P_COUNT_IDX]--;
    s.u32[h + P_LIVE_BYTES_IDX] -= len;
    s.u32[h + P_DEAD_BYTES_IDX] += len;
  }

  /** Removes every expired live item except the one at `keep`; returns how many. */
  expireAll(page: number, s: Segment, b: number, now: number, keep: number): number {
    const end = s.u32[(b >> 2) + P_FREE_IDX];
    let n = 0;
    for (let off = this.ds; off < end; ) {
      const a = b + off;
      const len = s.u32[(a + I_LEN_OFF) >> 2];
      if (len < 16) throw new PageDamaged(page);
      if (off !== keep && s.u32[(a + I_FLAGS_OFF) >> 2] === FLAG_LIVE) {
        const exp = s.f64[(a + I_EXPIRES_OFF) >> 3];
        if (exp !== 0 && exp <= now) {
          const si = this.slotOfItem(s, b, s.u32[(a + I_HASH_OFF) >> 2], off);
          if (si >= 0) {
            this.report(s, a, page, 'expired', undefined);
            this.removeItem(s, b, si, off);
            n++;
          }
        }
      }
      off += len;
    }
    s.f64[(b >> 3) + P_R_EXPIRED_IDX] += n;
    return n;
  }

  /**
   * Evicts the least recently used live item (low priority first), never the one at `keep`.
   * Recency is the slot's access tick; a tick that is not a plain number (damage) counts as oldest.
   */
  evictOne(page: number, s: Segment, b: number, now: number, keep: number): boolean {
    const u32 = s.u32;
    const f64 = s.f64;
    const st = (b + PAGE_HEADER_SIZE) >> 2;
    const end = u32[(b >> 2) + P_FREE_IDX];
    let victim = -1;
    let vSlot = -1;
    let vPrio = 256;
    let vTick = Infinity;
    for (let i = 0; i <= this.mask; i++) {
      const off = u32[st + (i << 2) + 1];
      if (off === 0 || off === keep) continue;
      if (off < this.ds || off + ITEM_HEADER_SIZE > end) throw new PageDamaged(page);
      const a = b + off;
      if (u32[(a + I_FLAGS_OFF) >> 2] !== FLAG_LIVE) throw new PageDamaged(page);
      const prio = s.buf[a + I_PRIORITY_OFF];
      let tick = f64[this.tickIdx(b, i)];
      if (!(tick < Infinity)) tick = -Infinity;
      if (prio < vPrio || (prio === vPrio && tick < vTick)) {
        victim = off;
        vSlot = i;
        vPrio = prio;
        vTick = tick;
      }
    }
    if (victim < 0) return false;
    const a = b + victim;
    const si = vSlot;
    const exp = s.f64[(a + I_EXPIRES_OFF) >> 3];
    const left = exp === 0 ? Infinity : Math.max(0, exp - now);
    this.report(s, a, page, 'evicted', left);
    if (FAULTS) {
      s.u32[(a + I_FLAGS_OFF) >> 2] = 0;
      fault('evict:partial');
    }
    if (si >= 0) this.removeItem(s, b, si, victim);
    else s.u32[(a + I_FLAGS_OFF) >> 2] = 0;
    s.f64[(b >> 3) + P_R_EVICTED_IDX]++;
    if (left > 0) s.f64[(b >> 3) + P_EVICTED_LIVE_IDX]++;
    if (left > 0 && vPrio === 2) s.f64[(b >> 3) + P_EVICTED_HIGH_IDX]++;
    return true;
  }

  /**
   * Finds a run of dead items at least `need` bytes long, merging neighbouring dead items as
   * it walks (one length store each, so the log stays walkable) and giving a dead run at the
   * end of the log back to the free tail. Sets holeAt/holeLen; returns false when none fits.
   */
  findHole(page: number, s: Segment, b: number, need: number): boolean {
    const u32 = s.u32;
    const hIdx = b >> 2;
    let end = u32[hIdx + P_FREE_IDX];
    for (let off = this.ds; off < end; ) {
      const a = b + off;
      let len = u32[(a + I_LEN_OFF) >> 2];
      if (len < 16) throw new PageDamaged(page);
      if (u32[(a + I_FLAGS_OFF) >> 2] !== FLAG_LIVE) {
        while (off + len < end && u32[(b + off + len + I_FLAGS_OFF) >> 2] !== FLAG_LIVE) {
          const next = u32[(b + off + len + I_LEN_OFF) >> 2];
          if (next < 16) throw new PageDamaged(page);
          len += next;
          u32[(a + I_LEN_OFF) >> 2] = len;
        }
        if (off + len >= end) {
          // A dead run at the end: shorten the log, then clear what it covered (magic first).
          u32[hIdx + P_FREE_IDX] = off;
          u32[hIdx + P_DEAD_BYTES_IDX] -= len;
          s.buf.fill(0, a, b + end);
          end = off;
          break;
        }
        if (len >= need) {
          this.holeAt = off;
          this.holeLen = len;
          return true;
        }
      }
      off += len;
    }
    return false;
  }

  /**
   * Makes room for an item of `need` bytes (and a slot when `newKey`): the free tail, then a
   * hole, then compaction when the dead bytes would do, after removing expired items, then
   * evicting the least recently used, one at a time. Returns the offset to write at; sets
   * holeAt (0 when writing at the tail). The item at `keep` (the key's old value) stays.
   */
  place(page: number, s: Segment, b: number, need: number, newKey: boolean, keep: number, now: number): number {
    const u32 = s.u32;
    const hIdx = b >> 2;
    let expired = false;
    for (;;) {
      const slotOk = !newKey || u32[hIdx + P_COUNT_IDX] < this.maxItems;
      if (slotOk) {
        const free = u32[hIdx + P_FREE_IDX];
        if (this.pageSize - free >= need) {
          this.holeAt = 0;
          return free;
        }
        if (u32[hIdx + P_DEAD_BYTES_IDX] > 0 && this.findHole(page, s, b, need)) {
          return this.holeAt + this.holeLen - need;
        }
        const tail = this.pageSize - u32[hIdx + P_FREE_IDX];
        if (u32[hIdx + P_DEAD_BYTES_IDX] + tail >= need) {
          if (!this.compact(s, b)) throw new PageDamaged(page);
          this.holeAt = 0;
          return u32[hIdx + P_FREE_IDX];
        }
      }
      if (!expired) {
        expired = true;
        if (this.expireAll(page, s, b, now, keep) > 0) continue;
      }
      if (this.policy === 'none') {
        throw sessmapError('SESSMAP_ERR_CACHE_FULL', `page ${page} is full of live entries and the eviction policy is 'none'`, { page, need });
      }
      if (!this.evictOne(page, s, b, now, keep)) {
        throw sessmapError('SESSMAP_ERR_CACHE_FULL', `page ${page} cannot make ${need} bytes of room`, { page, need });
      }
    }
  }

  /**
   * Writes an item at `off` (from place()) without making it findable. The key bytes are in
   * scratch. The order of stores keeps the log walkable if the process dies between any two.
   */
  writeItem(s: Segment, b: number, off: number, need: number, h: number, klen: number, value: Encoded, vlen: number,
    type: number, expires: number, priority: number, createdAt: number, tick: number): void {
    const a = b + off;
    const buf = s.buf;
    const u32 = s.u32;
    const f64 = s.f64;
    const hIdx = b >> 2;
    const version = (u32[hIdx + P_VERSION_IDX] + 1) >>> 0;
    u32[hIdx + P_VERSION_IDX] = version;
    f64[(a + I_EXPIRES_OFF) >> 3] = expires;
    f64[(a + I_TICK_OFF) >> 3] = tick;
    u32[(a + I_HASH_OFF) >> 2] = h;
    u32[(a + I_VERSION_OFF) >> 2] = version;
    u32[(a + I_VALUE_LEN_OFF) >> 2] = vlen;
    s.u16[(a + I_KEY_LEN_OFF) >> 1] = klen;
    buf[a + I_TYPE_OFF] = type;
    buf[a + I_PRIORITY_OFF] = priority;
    buf[a + I_PRIORITY_OFF + 1] = 0;
    u32[(a + 52) >> 2] = 0;
    f64[(a + I_CREATED_OFF) >> 3] = createdAt;
    this.scratch.copy(buf, a + ITEM_HEADER_SIZE, 0, klen);
    const vstart = a + ITEM_HEADER_SIZE + klen;
    if (FAULTS) {
      // Half the value, then the fault point: a write cut short.
      if (typeof value === 'string') buf.write(value.slice(0, value.length >> 1), vstart, 'utf8');
      else buf.set(value.subarray(0, vlen >> 1), vstart);
      fault('write:partial');
    }
    writeEncoded(buf, vstart, value, vlen, type);
    u32[(a + I_CRC_OFF) >> 2] = crc32(buf.subarray(a + I_CRC_START, vstart + vlen));
    const holeAt = this.holeAt;
    if (holeAt === 0) {
      // At the log's end, beyond which everything is zero: the magic word publishes it to the log.
      u32[(a + I_LEN_OFF) >> 2] = need;
      u32[(a + I_FLAGS_OFF) >> 2] = 0;
      u32[a >> 2] = ITEM_MAGIC;
      u32[hIdx + P_FREE_IDX] = off + need;
      // Keep the next item's header position clear (stale bytes may lie past the end after damage).
      if (off + need + 16 <= this.pageSize) buf.fill(0, a + need, a + need + 16);
    } else if (off !== holeAt) {
      // Inside a hole, at its end: the hole's own header still covers it until the hole shrinks.
      u32[(a + I_LEN_OFF) >> 2] = need;
      u32[(a + I_FLAGS_OFF) >> 2] = 0;
      u32[a >> 2] = ITEM_MAGIC;
      u32[(b + holeAt + I_LEN_OFF) >> 2] = off - holeAt;
      u32[hIdx + P_DEAD_BYTES_IDX] -= need;
    } else {
      // The item fills the hole exactly: magic and length are already right; it is dead until flagged.
      u32[hIdx + P_DEAD_BYTES_IDX] -= need;
    }
  }

  // ------------------------------------------------------------ compaction
  /** Slides every live item down over the dead ones. Resumable: see resumeCompaction. */
  compact(s: Segment, b: number): boolean {
    const u32 = s.u32;
    const hIdx = b >> 2;
    this.saveTicks(s, b);
    u32[hIdx + P_C_LEN_IDX] = 0;
    u32[hIdx + P_C_READ_IDX] = this.ds;
    u32[hIdx + P_C_WRITE_IDX] = this.ds;
    u32[hIdx + P_C_END_IDX] = u32[hIdx + P_FREE_IDX];
    u32[hIdx + P_COMPACT_IDX] = 1;
    return this.resumeCompaction(s, b);
  }

  /**
   * Copies each slot's access tick into its item's header, where the items carry it through a
   * compaction (which rebuilds the slot table from the log). Ticks that are not plain
   * non-negative integers (damage) become 0, the oldest.
   */
  private saveTicks(s: Segment, b: number): void {
    const u32 = s.u32;
    const f64 = s.f64;
    const st = (b + PAGE_HEADER_SIZE) >> 2;
    const end = u32[(b >> 2) + P_FREE_IDX];
    for (let i = 0; i <= this.mask; i++) {
      const off = u32[st + (i << 2) + 1];
      if (off < this.ds || off + ITEM_HEADER_SIZE > end || (off & 15) !== 0) continue;
      const t = f64[this.tickIdx(b, i)];
      f64[(b + off + I_TICK_OFF) >> 3] = Number.isSafeInteger(t) && t >= 0 ? t : 0;
    }
  }

  /**
   * Runs (or finishes, after a crash) a compaction from the journal in the page header. An item
   * is moved in chunks no longer than the gap between source and destination, recording the
   * bytes done after each, so the not-yet-copied part of the source is never overwritten and
   * a move cut short is redone from where it stopped.
   */
  resumeCompaction(s: Segment, b: number): boolean {
    const u32 = s.u32;
    const buf = s.buf;
    const hIdx = b >> 2;
    if (u32[hIdx + P_C_LEN_IDX] !== 0) this.finishMove(s, b);
    const end = u32[hIdx + P_C_END_IDX];
    let r = u32[hIdx + P_C_READ_IDX];
    let w = u32[hIdx + P_C_WRITE_IDX];
    let moved = 0;
    while (r < end) {
      const len = u32[(b + r + I_LEN_OFF) >> 2];
      if (len < 16 || (len & 15) !== 0 || r + len > end) return false;
      if (u32[(b + r + I_FLAGS_OFF) >> 2] === FLAG_LIVE) {
        if (r !== w) {
          u32[hIdx + P_C_SRC_IDX] = r;
          u32[hIdx + P_C_DST_IDX] = w;
          u32[hIdx + P_C_DONE_IDX] = 0;
          u32[hIdx + P_C_LEN_IDX] = len;
          this.finishMove(s, b);
          if (FAULTS && ++moved === 2) fault('compact:unfinished');
        }
        w += len;
      }
      r += len;
      u32[hIdx + P_C_WRITE_IDX] = w;
      u32[hIdx + P_C_READ_IDX] = r;
    }
    if (end > w) buf.fill(0, b + w, b + end);
    u32[hIdx + P_FREE_IDX] = w;
    u32[hIdx + P_DEAD_BYTES_IDX] = 0;
    this.rebuildSlots(s, b);
    u32[hIdx + P_COMPACT_IDX] = 0;
    return true;
  }

  private finishMove(s: Segment, b: number): void {
    const u32 = s.u32;
    const hIdx = b >> 2;
    const src = u32[hIdx + P_C_SRC_IDX];
    const dst = u32[hIdx + P_C_DST_IDX];
    const len = u32[hIdx + P_C_LEN_IDX];
    const gap = src - dst;
    let done = u32[hIdx + P_C_DONE_IDX];
    while (done < len) {
      const chunk = Math.min(gap, len - done);
      s.buf.copy(s.buf, b + dst + done, b + src + done, b + src + done + chunk);
      done += chunk;
      u32[hIdx + P_C_DONE_IDX] = done;
      if (FAULTS) fault('compact:move');
    }
    u32[hIdx + P_C_WRITE_IDX] = dst + len;
    u32[hIdx + P_C_READ_IDX] = src + len;
    u32[hIdx + P_C_LEN_IDX] = 0;
  }

  /** Lays out an empty page (the counters are kept). */
  resetPage(s: Segment, b: number): void {
    const hIdx = b >> 2;
    s.buf.fill(0, b + PAGE_HEADER_SIZE, b + this.pageSize);
    s.u32[hIdx + P_COUNT_IDX] = 0;
    s.u32[hIdx + P_LIVE_BYTES_IDX] = 0;
    s.u32[hIdx + P_DEAD_BYTES_IDX] = 0;
    s.u32[hIdx + P_COMPACT_IDX] = 0;
    s.u32[hIdx + P_C_LEN_IDX] = 0;
    s.u32[hIdx + P_FREE_IDX] = this.ds;
  }
}
