/**
 * Page validation and repair. A page is checked the first time a process touches it, and
 * repaired whenever it is found marked mid-change (its writer died), mid-compaction, or
 * inconsistent (bytes flipped on disk). Repair keeps every item whose header, checksum and
 * keyed hash hold, drops the rest (reporting them as 'repaired'), and rebuilds the slot table
 * and the counts from the items. The caller holds the page lock.
 */
import { crc32 } from 'node:zlib';
import { FAULTS, fault } from '../faults.js';
import type { Segment } from '../file.js';
import {
  ITEM_DEAD, ITEM_HEADER_SIZE, ITEM_LIVE, I_CRC_OFF, I_CRC_START, I_EXPIRES_OFF, I_HASH_OFF, I_KEY_LEN_OFF, I_LEN_OFF,
  I_PRIORITY_OFF, I_STATE_OFF, I_TICK_OFF, I_TYPE_OFF, I_VERSION_OFF, P_COMPACT_IDX, P_COUNT_IDX, P_C_DONE_IDX,
  P_C_DST_IDX, P_C_END_IDX, P_C_LEN_IDX, P_C_READ_IDX, P_C_SRC_IDX, P_C_WRITE_IDX, P_DEAD_BYTES_IDX, P_DIRTY_IDX,
  P_FREE_IDX, P_EVICTED_HIGH_IDX, beginChange, endChange, P_LIVE_BYTES_IDX, P_REPAIRS_IDX, P_R_REPAIRED_IDX, P_VERSION_IDX, PAGE_HEADER_SIZE,
  P_FIRST_DEAD_IDX, P_LAYOUT_EPOCH_IDX, P_MOVED_IDX, PAGE_MOVED, P_NEXT_EXPIRY_IDX, EVICTED_TTL_BUCKETS, P_EVICTED_LIVE_IDX, P_EVICTED_TTL_IDX,
} from '../layout.js';
import { TYPE_MAX } from '../serializer.js';
import { resumeCompaction } from './compact.js';
import { rebuildSlots, resetPage, walkLog } from './log.js';
import { alignItem, type Pages } from './pages.js';
import { slotOfItem } from './slots.js';

export interface RepairResult {
  /** What was wrong; empty when the page was consistent. */
  problems: string[];
  /** Items dropped because they were torn or unreadable. */
  dropped: number;
}

const MID_CHANGE = 'marked mid-change';

/** True when the item at page offset `off` is whole: sane lengths, checksum and keyed hash. */
function itemIsWhole(pages: Pages, s: Segment, b: number, off: number, maxKeyBytes: number): boolean {
  const a = b + off;
  // The length of a live item is its header, key and value: the value's length follows from it.
  const len = s.u32[(a + I_LEN_OFF) >> 2];
  const klen = s.u16[(a + I_KEY_LEN_OFF) >> 1];
  if (klen < 1 || klen > maxKeyBytes || len < ITEM_HEADER_SIZE + klen || len > pages.pageSize - off) return false;
  const type = s.buf[a + I_TYPE_OFF];
  if (type < 1 || type > TYPE_MAX || s.buf[a + I_PRIORITY_OFF] > 2) return false;
  // Expiry and access clock are outside the checksum (they change in place): they must be plain numbers.
  const exp = s.f64[(a + I_EXPIRES_OFF) >> 3];
  const tick = s.f64[(a + I_TICK_OFF) >> 3];
  if (!(exp >= 0 && exp < 8.64e15) || !Number.isSafeInteger(tick) || tick < 0) return false;
  if (crc32(s.buf.subarray(a + I_CRC_START, a + len)) !== s.u32[(a + I_CRC_OFF) >> 2]) return false;
  s.buf.copy(pages.scratch2, 0, a + ITEM_HEADER_SIZE, a + ITEM_HEADER_SIZE + klen);
  return pages.hashKey2(klen) === s.u32[(a + I_HASH_OFF) >> 2];
}

/** Whether an item could start at `off`: a state word, and a length that stays in the page. */
function headerLooksValid(pages: Pages, s: Segment, b: number, off: number): boolean {
  const state = s.u32[(b + off + I_STATE_OFF) >> 2];
  const len = s.u32[(b + off + I_LEN_OFF) >> 2];
  return (state === ITEM_LIVE || state === ITEM_DEAD) && len >= 8 && len <= pages.pageSize - off && off + alignItem(len) <= pages.pageSize;
}

/** Walks the log read-only and lists every inconsistency; [] means the page is sound. */
export function checkPage(pages: Pages, s: Segment, b: number, maxKeyBytes: number): string[] {
  const problems: string[] = [];
  const u32 = s.u32;
  const h = b >> 2;
  if ((s.i32[h + P_DIRTY_IDX] & 1) !== 0) problems.push(MID_CHANGE);
  if (u32[h + P_COMPACT_IDX] !== 0) problems.push('compaction unfinished');
  const free = u32[h + P_FREE_IDX];
  if (free < pages.ds || free > pages.pageSize || (free & 7) !== 0) {
    problems.push(`log end ${free} out of range`);
    return problems;
  }
  const seen = new Map<string, number>();
  let live = 0;
  let liveBytes = 0;
  let deadBytes = 0;
  let earliest = Infinity;
  // The first-dead bound: 0, or an item boundary (or the log end) with no dead item below it.
  const firstDead = u32[h + P_FIRST_DEAD_IDX];
  let boundSeen = firstDead === 0 || firstDead === free;
  let deadBelow = false;
  const stop = walkLog(pages, s, b, (a, off, len) => {
    if (!headerLooksValid(pages, s, b, off)) return false;
    if (off === firstDead) boundSeen = true;
    if (off < firstDead && u32[(a + I_STATE_OFF) >> 2] !== ITEM_LIVE) deadBelow = true;
    if (u32[(a + I_STATE_OFF) >> 2] === ITEM_LIVE) {
      if (!itemIsWhole(pages, s, b, off, maxKeyBytes)) problems.push(`torn item at ${off}`);
      else {
        const key = s.buf.toString('latin1', a + ITEM_HEADER_SIZE, a + ITEM_HEADER_SIZE + s.u16[(a + I_KEY_LEN_OFF) >> 1]);
        if (seen.has(key)) problems.push(`duplicate key at ${off}`);
        seen.set(key, off);
        if (slotOfItem(pages, s, b, u32[(a + I_HASH_OFF) >> 2], off) < 0) problems.push(`item at ${off} not in the slot table`);
      }
      live++;
      liveBytes += len;
      const exp = s.f64[(a + I_EXPIRES_OFF) >> 3];
      if (exp > 0 && exp < earliest) earliest = exp;
    } else deadBytes += len;
  });
  if (stop < free) {
    problems.push(`bad item header at ${stop}`);
    return problems;
  }
  if (stop !== free) problems.push(`log overruns its end ${free}`);
  if (!boundSeen || deadBelow) problems.push(`first-dead bound ${firstDead} is not a dead item's lower bound`);
  // The 16 bytes past the log end (where the next item's state word and length go) are zero: writes keep them so.
  // Further out, stale bytes are harmless (a walk never passes the log end, and resync accepts
  // only whole items), and reading a whole large page on first touch would cost more than it finds.
  const zeroEnd = Math.min(b + pages.pageSize, b + free + 16) >> 2;
  for (let w = (b + free) >> 2; w < zeroEnd; w++) {
    if (u32[w] !== 0) {
      problems.push(`bytes beyond the log end at ${(w << 2) - b}`);
      break;
    }
  }
  let occupied = 0;
  const st = (b + PAGE_HEADER_SIZE) >> 2;
  for (let i = 0; i < pages.slots; i++) {
    const o = u32[st + (i << 2) + 1];
    if (o === 0) continue;
    occupied++;
    if (o < pages.ds || o >= free || !headerLooksValid(pages, s, b, o) || u32[(b + o + I_STATE_OFF) >> 2] !== ITEM_LIVE || u32[st + (i << 2)] !== u32[(b + o + I_HASH_OFF) >> 2]) {
      problems.push(`slot ${i} points at no live item`);
    }
  }
  if (occupied !== live || u32[h + P_COUNT_IDX] !== live) problems.push(`counts disagree (slots ${occupied}, header ${u32[h + P_COUNT_IDX]}, items ${live})`);
  if (u32[h + P_LIVE_BYTES_IDX] !== liveBytes || u32[h + P_DEAD_BYTES_IDX] !== deadBytes) problems.push('byte counts disagree');
  // The next-expiry bound may be low or unknown (0), never past a live item's deadline.
  const bound = s.f64[(b >> 3) + P_NEXT_EXPIRY_IDX];
  if (bound > earliest || Number.isNaN(bound)) problems.push('next-expiry bound past a deadline');
  for (let i = P_EVICTED_HIGH_IDX; i <= P_REPAIRS_IDX; i++) {
    const v = s.f64[(b >> 3) + i];
    if (!Number.isSafeInteger(v) || v < 0) {
      problems.push('counter out of range');
      break;
    }
  }
  if (evictedTtlSum(s, b) > s.f64[(b >> 3) + P_EVICTED_LIVE_IDX]) problems.push('eviction TTL histogram exceeds the live evictions');
  // Moved (resize.ts: then empty) or not: any other word there is damage, never read as either.
  const moved = u32[h + P_MOVED_IDX];
  if (moved !== 0 && moved !== PAGE_MOVED) problems.push('moved mark is damaged');
  else if (moved === PAGE_MOVED && (live !== 0 || free !== pages.ds)) problems.push('a moved page is not empty');
  return problems;
}

/** The page's live evictions counted in its TTL histogram (never more than P_EVICTED_LIVE). */
function evictedTtlSum(s: Segment, b: number): number {
  let n = 0;
  for (let i = 0; i < EVICTED_TTL_BUCKETS; i++) n += s.u32[(b >> 2) + P_EVICTED_TTL_IDX + i];
  return n;
}

function isWholeLive(pages: Pages, s: Segment, b: number, off: number, maxKeyBytes: number): boolean {
  return s.u32[(b + off + I_STATE_OFF) >> 2] === ITEM_LIVE && itemIsWhole(pages, s, b, off, maxKeyBytes);
}

/** Finds the next whole live item at or after `from` (8-byte steps), or -1. */
function nextWhole(pages: Pages, s: Segment, b: number, from: number, maxKeyBytes: number): number {
  for (let off = from; off + ITEM_HEADER_SIZE <= pages.pageSize; off += 8) {
    if (isWholeLive(pages, s, b, off, maxKeyBytes)) {
      return off;
    }
  }
  return -1;
}

/** Whether the compaction journal in the header is one that compaction itself could have left. */
function journalIsSane(pages: Pages, s: Segment, b: number): boolean {
  const u32 = s.u32;
  const h = b >> 2;
  const r = u32[h + P_C_READ_IDX];
  const w = u32[h + P_C_WRITE_IDX];
  const end = u32[h + P_C_END_IDX];
  const len = u32[h + P_C_LEN_IDX];
  const ok = u32[h + P_COMPACT_IDX] === 1 && pages.ds <= w && w <= r && r <= end && end <= pages.pageSize && ((r | w | end) & 7) === 0;
  if (!ok) return false;
  if (len === 0) return true;
  return u32[h + P_C_SRC_IDX] === r && u32[h + P_C_DST_IDX] === w && r + len <= end && u32[h + P_C_DONE_IDX] <= len && (len & 7) === 0;
}

/**
 * Rebuilds a page from its whole items. Finishes an interrupted compaction first when its
 * journal is sane; otherwise resynchronises past damage by looking for the next whole item.
 */
export function repairPage(pages: Pages, page: number, s: Segment, b: number, maxKeyBytes: number): RepairResult {
  const problems = checkPage(pages, s, b, maxKeyBytes);
  const u32 = s.u32;
  const h = b >> 2;
  if (problems.length === 0) return { problems, dropped: 0 };
  if (problems.length === 1 && problems[0] === MID_CHANGE) {
    // A writer stopped (or failed) between steps but left everything consistent: nothing to rebuild.
    endChange(s.i32, b);
    return { problems: [], dropped: 0 };
  }
  // What the page header claimed, before anything is rebuilt: to count losses no item trace shows.
  const claimed = u32[h + P_COUNT_IDX];
  beginChange(s.i32, b);
  if (u32[h + P_MOVED_IDX] === PAGE_MOVED && pages.moveUnderWay(page)) {
    // A resize copied every entry of this page to the new layout before it set the mark: a
    // resizer killed while it emptied the page left the rest.
    resetPage(pages, s, b);
    s.f64[(b >> 3) + P_REPAIRS_IDX]++;
    endChange(s.i32, b);
    return { problems, dropped: 0 };
  }
  if (u32[h + P_COMPACT_IDX] !== 0) {
    if (!journalIsSane(pages, s, b) || !resumeCompaction(pages, s, b)) u32[h + P_COMPACT_IDX] = 0;
  }
  let dropped = 0;
  const keep = new Map<string, number>();
  // Where the old slot table says items were: counts the losses inside a damaged stretch.
  const slotted = new Set<number>();
  const st = (b + PAGE_HEADER_SIZE) >> 2;
  for (let i = 0; i < pages.slots; i++) {
    const o = u32[st + (i << 2) + 1];
    if (o >= pages.ds && o < pages.pageSize && (o & 7) === 0) slotted.add(o);
  }
  const drop = (o: number): void => {
    dropped++;
    reportTorn(pages, s, b, page, o, maxKeyBytes);
    u32[(b + o + I_STATE_OFF) >> 2] = ITEM_DEAD;
  };
  let off = pages.ds;
  let end = pages.ds;
  const known = [...slotted].sort((x, y) => x - y);
  let ki = 0;
  let prevOff = -1;
  let prevMin = pages.ds;
  while (off < pages.pageSize) {
    if (headerLooksValid(pages, s, b, off)) {
      const a = b + off;
      let len = alignItem(u32[(a + I_LEN_OFF) >> 2]);
      // A damaged length must not swallow items the slot table knows: cut it at the first whole one inside.
      while (ki < known.length && known[ki] <= off) ki++;
      for (let j = ki; j < known.length && known[j] < off + len; j++) {
        if (isWholeLive(pages, s, b, known[j], maxKeyBytes)) {
          len = known[j] - off;
          u32[(a + I_LEN_OFF) >> 2] = len;
          break;
        }
      }
      const live = u32[(a + I_STATE_OFF) >> 2] === ITEM_LIVE;
      prevOff = off;
      prevMin = off + 8;
      if (!live && slotted.has(off)) {
        // Dead but still indexed (its remover died, or its state word was damaged into the other one): report it.
        drop(off);
      } else if (live) {
        if (itemIsWhole(pages, s, b, off, maxKeyBytes)) {
          prevMin = off + alignItem(u32[(a + I_LEN_OFF) >> 2]);
          const key = s.buf.toString('latin1', a + ITEM_HEADER_SIZE, a + ITEM_HEADER_SIZE + s.u16[(a + I_KEY_LEN_OFF) >> 1]);
          const prev = keep.get(key);
          if (prev === undefined) keep.set(key, off);
          else {
            // Two whole copies of a key: a writer died between publishing and retiring the old one.
            const newer = ((u32[(a + I_VERSION_OFF) >> 2] - u32[(b + prev + I_VERSION_OFF) >> 2]) | 0) > 0;
            u32[((newer ? b + prev : a) + I_STATE_OFF) >> 2] = ITEM_DEAD;
            if (newer) keep.set(key, off);
          }
        } else drop(off);
      }
      off += len;
      end = off;
      continue;
    }
    // Damage: look for the next whole item from the earliest place the previous item could end.
    const from = prevOff >= 0 && prevMin < off ? prevMin : off + 8;
    const next = nextWhole(pages, s, b, from, maxKeyBytes);
    // Count what the damaged stretch held: places the slot table pointed at or marked live.
    for (let q = Math.min(from, off); q < (next < 0 ? pages.pageSize : next); q += 8) {
      if (q === prevOff) continue;
      if (slotted.has(q) || (q + 8 <= pages.pageSize && u32[(b + q + I_STATE_OFF) >> 2] === ITEM_LIVE)) {
        dropped++;
        reportTorn(pages, s, b, page, q, maxKeyBytes);
      }
    }
    if (next < 0) {
      if (prevOff >= 0 && prevMin < off) {
        // The previous item's length ran past the log's real end: cut it back.
        u32[(b + prevOff + I_LEN_OFF) >> 2] = prevMin - prevOff;
        end = prevMin;
      }
      break;
    }
    if (next < off) {
      // The previous item's length was too long: end it where the next whole item begins.
      u32[(b + prevOff + I_LEN_OFF) >> 2] = next - prevOff;
    } else {
      // Cover the damage with a dead filler so the log can be walked past it.
      u32[(b + off + I_LEN_OFF) >> 2] = next - off;
      u32[(b + off + I_STATE_OFF) >> 2] = ITEM_DEAD;
    }
    off = next;
    end = off;
  }
  // Entries whose every trace (header, flags, slot) was destroyed: the header's count still knows them.
  const unaccounted = claimed <= pages.maxItems ? claimed - keep.size - dropped : 0;
  for (let i = 0; i < unaccounted; i++) {
    dropped++;
    if (pages.sink !== null) pages.sink.push({ key: '', reason: 'repaired', page, ttlLeft: undefined, expiresAt: undefined, type: 0, raw: undefined });
  }
  if (FAULTS) fault('repair:partial');
  s.buf.fill(0, b + end, b + pages.pageSize);
  u32[h + P_FREE_IDX] = end;
  if (!rebuildSlots(pages, s, b)) {
    // More items than slots (only after damage): drop the ones left out.
    for (const o of keep.values()) {
      if (slotOfItem(pages, s, b, u32[(b + o + I_HASH_OFF) >> 2], o) < 0) drop(o);
    }
  }
  recount(pages, s, b);
  const f = b >> 3;
  // Whatever the bound said, the next scan for expired items finds out again; the ticks came
  // back from the items' headers (older for entries read since), so victim pools are made again.
  s.f64[f + P_NEXT_EXPIRY_IDX] = 0;
  u32[h + P_LAYOUT_EPOCH_IDX]++;
  for (let i = P_EVICTED_HIGH_IDX; i <= P_REPAIRS_IDX; i++) if (!Number.isSafeInteger(s.f64[f + i]) || s.f64[f + i] < 0) s.f64[f + i] = 0;
  // A histogram that claims more live evictions than were counted is damage: it would mislead, so it starts again.
  if (evictedTtlSum(s, b) > s.f64[f + P_EVICTED_LIVE_IDX]) u32.fill(0, h + P_EVICTED_TTL_IDX, h + P_EVICTED_TTL_IDX + EVICTED_TTL_BUCKETS);
  // Any other word there, or a mark on a page no resize moves, is damage: the page is not moved.
  u32[h + P_MOVED_IDX] = 0;
  s.f64[f + P_REPAIRS_IDX]++;
  s.f64[f + P_R_REPAIRED_IDX] += dropped;
  u32[h + P_C_LEN_IDX] = 0;
  u32[h + P_COMPACT_IDX] = 0;
  endChange(s.i32, b);
  return { problems, dropped };
}

function reportTorn(pages: Pages, s: Segment, b: number, page: number, off: number, maxKeyBytes: number): void {
  if (pages.sink === null) return;
  const a = b + off;
  const klen = s.u16[(a + I_KEY_LEN_OFF) >> 1];
  let key = '';
  if (klen >= 1 && klen <= maxKeyBytes && off + ITEM_HEADER_SIZE + klen <= pages.pageSize) {
    const candidate = s.buf.toString('utf8', a + ITEM_HEADER_SIZE, a + ITEM_HEADER_SIZE + klen);
    s.buf.copy(pages.scratch2, 0, a + ITEM_HEADER_SIZE, a + ITEM_HEADER_SIZE + klen);
    // Name the key only when its bytes are the ones the hash was taken of.
    if (pages.hashKey2(klen) === s.u32[(a + I_HASH_OFF) >> 2]) key = candidate;
  }
  pages.sink.push({ key, reason: 'repaired', page, ttlLeft: undefined, expiresAt: undefined, type: 0, raw: undefined });
}

/** Recomputes the counts, byte totals and version counter from the log. */
function recount(pages: Pages, s: Segment, b: number): void {
  const u32 = s.u32;
  const h = b >> 2;
  let liveBytes = 0;
  let deadBytes = 0;
  let maxVersion = u32[h + P_VERSION_IDX];
  walkLog(pages, s, b, (a, off, len) => {
    if (u32[(a + I_STATE_OFF) >> 2] === ITEM_LIVE) {
      liveBytes += len;
      const v = u32[(a + I_VERSION_OFF) >> 2];
      if (((v - maxVersion) | 0) > 0) maxVersion = v;
    } else deadBytes += len;
  });
  u32[h + P_LIVE_BYTES_IDX] = liveBytes;
  u32[h + P_DEAD_BYTES_IDX] = deadBytes;
  u32[h + P_VERSION_IDX] = maxVersion;
}
