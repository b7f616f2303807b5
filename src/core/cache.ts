/**
 * SharedCache: the public, synchronous API over one cache file. Keys are hashed (keyed by the
 * file's seed) to a page; every operation takes that page's lock for a few hundred
 * nanoseconds, and values are (de)serialized outside the lock where the operation allows.
 */
import { sessmapError, type SessmapError } from '../errors.js';
import { attachExisting, createOrAttach, type Attachment, type InternalCreateOptions } from './attach.js';
import { FAULTS, fault } from './faults.js';
import { pathStatus, type FileIdentity, type Segment } from './file.js';
import {
  FLAG_LIVE, H_EPOCH_IDX, ITEM_HEADER_SIZE, PAGE_HEADER_SIZE, I_CRC_OFF, I_CRC_START, I_CREATED_OFF, I_EXPIRES_OFF, I_FLAGS_OFF,
  I_KEY_LEN_OFF, I_LEN_OFF, I_PRIORITY_OFF, I_TYPE_OFF, I_VALUE_LEN_OFF, I_VERSION_OFF, P_COMPACT_IDX,
  P_COUNT_IDX, P_DEAD_BYTES_IDX, P_DIRTY_IDX, P_EVICTED_HIGH_IDX, P_EVICTED_LIVE_IDX, P_FREE_IDX, P_HITS_IDX, P_LIVE_BYTES_IDX,
  P_LOCK_IDX, P_LOCK_RECOVERIES_IDX, P_LOCK_WAITS_IDX, P_MISSES_IDX, P_REPAIRS_IDX, P_R_CLEARED_IDX, P_R_DELETED_IDX,
  P_R_EVICTED_IDX, P_R_EXPIRED_IDX, P_R_REPAIRED_IDX, P_SETS_IDX, beginChange, endChange,
  P_FAST_HITS_IDX, P_FAST_MISSES_IDX,
} from './layout.js';
import { OWNER_ID, THREAD_OWNERS, held, isOwnerAlive, ownerIdOf, ownerPid, ownerTag, sleep, threadTag } from './lock.js';
import { maxItemBytesOf, normaliseHandleOptions, validateTtl, validateEnum, type HandleOptions } from './options.js';
import { PageDamaged, Pages, alignItem, nextTick, type PendingRemoval } from './pages.js';
import { checkPage, repairPage } from './repair.js';
import { TYPE_MAX, TYPE_OF, copyOut, decode, encode, encodedLength, typeOfEncoded, type Encoded } from './serializer.js';
import { crc32 } from 'node:zlib';
import { createHmac } from 'node:crypto';
import type {
  CacheStats, CreateOptions, EntryInfo, Geometry, LockRecoveryEvent, OpenOptions, PageStats, PathStatus, Priority, RemovalEvent,
  RepairEvent, SetOptions, UpdateOptions,
} from './types.js';

const MODE_SET = 0;
const MODE_ADD = 1;
const MODE_REPLACE = 2;
const PRIORITY_CODE: Record<Priority, number> = { low: 0, normal: 1, high: 2 };
const PRIORITY_NAME: Priority[] = ['low', 'normal', 'high'];

/** White-box access for tests; not part of the public API. */
export const INTERNALS = new WeakMap<object, CacheInternals>();
export interface CacheInternals {
  checkPage(p: number): string[];
  pageOf(key: string): number;
  lockWord(p: number): number;
  ownerId: number;
}

/** Lock-free read counts reach the file after this many reads by a handle, or this many ms. */
const READ_COUNTS_BATCH = 65_536;
const READ_COUNTS_INTERVAL = 1_000;
/** A page's lock-free counters (u32) are moved into its f64 counters once past this. */
const READ_COUNTS_DRAIN = 0x40000000;

/** This thread's open handles: stats() adds every handle's pending read counts first, and so does exit. */
const openHandles = new Set<SharedCache<any>>();
let exitHook = false;

export class SharedCache<V = unknown> {
  /** The file this handle is attached to. */
  readonly path: string;
  readonly geometry: Geometry;
  /** The largest key bytes + serialized value bytes that can always be stored. */
  readonly maxItemBytes: number;
  readonly #pages: Pages;
  readonly #segs: Segment[];
  readonly #header: Segment;
  readonly #epoch: number;
  readonly #identity: FileIdentity;
  readonly #type: number;
  readonly #defaultTtl: number;
  readonly #lockTimeout: number;
  readonly #clock: () => number;
  readonly #verifyReads: boolean;
  readonly #maxKeyBytes: number;
  readonly #opts: HandleOptions;
  /** Pages this handle has validated since it attached. */
  readonly #validated: Uint8Array;
  /** Secret for digest(): bytes 8-31 of the file's seed. */
  readonly #secret: Buffer;
  /** Removals collected under a lock, for onRemove (null when nobody listens). */
  readonly #removals: PendingRemoval[] | null;
  #recoveries: LockRecoveryEvent[] = [];
  #repairs: RepairEvent[] = [];
  #pending = false;
  #closed = false;
  /** Expiry of the entry the last successful get returned, or the last write set (for getEntry, updateEntry). */
  #lastExpiry = 0;
  /** Hits and misses of lock-free reads not yet added to the file, per page (see #countRead). */
  readonly #readHits: Uint32Array;
  readonly #readMisses: Uint32Array;
  #readCounts = 0;
  #readCountsDue = 0;

  /** Creates (and sizes) a cache file; see {@link CreateOptions.ifExists} for an existing one. */
  static create<V = unknown>(path: string, options: CreateOptions = {}): SharedCache<V> {
    const handle = normaliseHandleOptions(options);
    return new SharedCache<V>(createOrAttach(path, options as InternalCreateOptions), handle);
  }

  /** Attaches to an existing cache file, taking its geometry from the header. */
  static open<V = unknown>(path: string, options: OpenOptions = {}): SharedCache<V> {
    const handle = normaliseHandleOptions(options);
    return new SharedCache<V>(attachExisting(path, (options as { _segmentBytes?: number })._segmentBytes), handle);
  }

  private constructor(att: Attachment, o: HandleOptions) {
    const info = att.info;
    this.path = att.path;
    this.geometry = Object.freeze({ pageCount: info.pageCount, pageSize: info.pageSize, slotsPerPage: info.slotsPerPage, maxKeyBytes: info.maxKeyBytes, fileSize: info.fileSize });
    this.maxItemBytes = maxItemBytesOf(info.pageSize, info.slotsPerPage);
    this.#removals = o.onRemove ? [] : null;
    this.#pages = new Pages(att.segments, att.plans, info, info.policy, info.seed, this.#removals);
    this.#pages.captureValues = o.removalValues && o.onRemove !== undefined;
    this.#segs = att.segments;
    this.#header = att.header;
    this.#epoch = att.epoch;
    this.#identity = att.identity;
    this.#type = TYPE_OF[o.serializer ?? info.serializer];
    this.#defaultTtl = o.defaultTtl ?? info.defaultTtl;
    this.#lockTimeout = o.lockTimeout;
    this.#clock = o.clock;
    this.#verifyReads = o.verifyReads;
    this.#maxKeyBytes = info.maxKeyBytes;
    this.#opts = o;
    this.#validated = new Uint8Array(info.pageCount);
    this.#readHits = new Uint32Array(info.pageCount);
    this.#readMisses = new Uint32Array(info.pageCount);
    openHandles.add(this);
    if (!exitHook) {
      exitHook = true;
      // A process that ends without closing its handles still adds its read counts to the file.
      process.once('exit', SharedCache.#flushAllReadCounts);
    }
    this.#secret = info.seed.subarray(8);
    INTERNALS.set(this, {
      checkPage: (p) => this.#withPageLock(p, (s, b) => checkPage(this.#pages, s, b, this.#maxKeyBytes), false),
      pageOf: (key) => this.#pages.pageOf(this.#pages.hashKey(this.#key(key))),
      lockWord: (p) => Atomics.load(this.#segs[this.#pages.segOf[p]].i32, (this.#pages.baseOf[p] >> 2) + P_LOCK_IDX),
      ownerId: OWNER_ID,
    });
  }

  // ------------------------------------------------------------ reads
  /** The value stored under `key`, or undefined. Counts as a use for LRU order. */
  get(key: string): V | undefined {
    this.#enter();
    const pages = this.#pages;
    const klen = this.#key(key);
    const h = pages.hashKey(klen);
    const p = pages.pageOf(h);
    const s = this.#segs[pages.segOf[p]];
    const b = pages.baseOf[p];
    // Read without the lock when the page is known sound; the locked path handles the rest. A
    // write under way on the page makes the read try again (a few microseconds' worth of tries)
    // rather than queue for the lock behind the writer.
    if (this.#validated[p] === 1 && !this.#verifyReads) {
      for (let n = 0; n < OPTIMISTIC_TRIES; n++) {
        const r = this.#getOptimistic(p, s, b, h, klen);
        if (r === LOCKED) break;
        if (r !== RETRY) return r as V | undefined;
      }
    }
    this.#lock(p, s, b);
    let raw: string | Buffer;
    let type: number;
    try {
      const now = this.#clock();
      const si = pages.findSlot(s, b, h, klen);
      if (si < 0) {
        s.f64[(b >> 3) + P_MISSES_IDX]++;
        return undefined;
      }
      const off = pages.slotOffset(s, b, si);
      const a = b + off;
      const exp = s.f64[(a + I_EXPIRES_OFF) >> 3];
      if (exp !== 0 && exp <= now) {
        this.#expire(p, s, b, si, off);
        s.f64[(b >> 3) + P_MISSES_IDX]++;
        return undefined;
      }
      const start = a + ITEM_HEADER_SIZE + klen;
      const end = start + s.u32[(a + I_VALUE_LEN_OFF) >> 2];
      if (this.#verifyReads && crc32(s.buf.subarray(a + I_CRC_START, end)) !== s.u32[(a + I_CRC_OFF) >> 2]) {
        this.#repair(p, s, b);
        s.f64[(b >> 3) + P_MISSES_IDX]++;
        return undefined;
      }
      s.f64[pages.tickIdx(b, si)] = nextTick(now);
      s.f64[(b >> 3) + P_HITS_IDX]++;
      this.#lastExpiry = exp;
      type = s.buf[a + I_TYPE_OFF];
      raw = copyOut(s.buf, type, start, end);
    } finally {
      this.#unlock(s, b);
      if (this.#pending) this.#flush();
    }
    return this.#decode(p, type, raw);
  }

  /**
   * A read without the lock, validated by the page's change sequence (a seqlock): readers never
   * wait for each other or write shared state but the entry's access tick, and a writer only
   * makes them retry. A change under way (or made meanwhile) returns RETRY; what needs the lock
   * (an expired entry to remove, lengths or types that are wrong on a page that did not change)
   * returns LOCKED. The access tick is stored after the value was validated; if a writer
   * rearranged the slot table in between, the store lands on another slot's tick, which can only
   * misorder recency (never data): see docs/file-format.md.
   */
  #getOptimistic(p: number, s: Segment, b: number, h: number, klen: number): unknown {
    const pages = this.#pages;
    const i32 = s.i32;
    const seqIdx = (b >> 2) + P_DIRTY_IDX;
    const seq = Atomics.load(i32, seqIdx);
    if ((seq & 1) !== 0) return RETRY;
    const si = pages.findSlot(s, b, h, klen);
    if (si < 0) {
      if (Atomics.load(i32, seqIdx) !== seq) return RETRY;
      this.#countRead(p, this.#readMisses);
      this.#maybeFlush();
      return undefined;
    }
    const off = pages.slotOffset(s, b, si);
    const a = b + off;
    const vlen = s.u32[(a + I_VALUE_LEN_OFF) >> 2];
    const start = a + ITEM_HEADER_SIZE + klen;
    if (vlen > this.maxItemBytes || off + ITEM_HEADER_SIZE + klen + vlen > pages.pageSize) return Atomics.load(i32, seqIdx) === seq ? LOCKED : RETRY;
    const now = this.#clock();
    const exp = s.f64[(a + I_EXPIRES_OFF) >> 3];
    if (exp !== 0 && exp <= now) return LOCKED;
    const type = s.buf[a + I_TYPE_OFF];
    if (type < 1 || type > TYPE_MAX) return Atomics.load(i32, seqIdx) === seq ? LOCKED : RETRY;
    const raw = copyOut(s.buf, type, start, start + vlen);
    if (Atomics.load(i32, seqIdx) !== seq) return RETRY;
    s.f64[pages.tickIdx(b, si)] = nextTick(now);
    this.#countRead(p, this.#readHits);
    if (now >= this.#readCountsDue) this.#flushReadCounts();
    this.#lastExpiry = exp;
    this.#maybeFlush();
    return this.#decode(p, type, raw);
  }

  /**
   * Counts a lock-free hit or miss in this handle. An atomic add to the page per read would cost
   * a locked instruction on a shared cache line, about what the lock costs; so counts collect here
   * and reach the file every 65,536 reads, every second (on the next hit), on stats(), on close()
   * and when the thread exits.
   */
  #countRead(p: number, counts: Uint32Array): void {
    counts[p]++;
    if (++this.#readCounts >= READ_COUNTS_BATCH) this.#flushReadCounts();
  }

  static #flushAllReadCounts(): void {
    for (const h of openHandles) if (!h.#closed && held.count === 0) h.#flushReadCounts();
  }

  #flushReadCounts(): void {
    this.#readCountsDue = this.#clock() + READ_COUNTS_INTERVAL;
    if (this.#readCounts === 0) return;
    this.#readCounts = 0;
    const pages = this.#pages;
    const hits = this.#readHits;
    const misses = this.#readMisses;
    for (let p = 0; p < hits.length; p++) {
      if (hits[p] === 0 && misses[p] === 0) continue;
      const s = this.#segs[pages.segOf[p]];
      const idx = (pages.baseOf[p] >> 2) + P_FAST_HITS_IDX;
      let top = 0;
      if (hits[p] !== 0) top = Atomics.add(s.i32, idx, hits[p]) >>> 0;
      if (misses[p] !== 0) top = Math.max(top, Atomics.add(s.i32, idx + 1, misses[p]) >>> 0);
      hits[p] = 0;
      misses[p] = 0;
      // The lock holder moves these counts into the page's counters; well before they could wrap,
      // take the lock for that.
      if (top >= READ_COUNTS_DRAIN && held.count === 0 && !this.#closed) this.#withPageLock(p, () => undefined, false);
    }
  }

  /** Like get, with the entry's absolute expiry (Infinity when none), from the same read. */
  getEntry(key: string): { value: V; expiresAt: number } | undefined {
    const value = this.get(key);
    if (value === undefined) return undefined;
    return { value, expiresAt: this.#lastExpiry === 0 ? Infinity : this.#lastExpiry };
  }

  /** True when a live entry is stored under `key` (does not count as a use). */
  has(key: string): boolean {
    return this.#peek(key, (s, a) => a >= 0) as boolean;
  }

  /** Remaining lifetime in ms (Infinity without expiry), or undefined when absent. */
  ttl(key: string): number | undefined {
    const now = this.#clock();
    return this.#peek(key, (s, a) => {
      if (a < 0) return undefined;
      const exp = s.f64[(a + I_EXPIRES_OFF) >> 3];
      return exp === 0 ? Infinity : exp - now;
    }) as number | undefined;
  }

  /** Metadata of an entry, without its value. */
  inspect(key: string): EntryInfo | undefined {
    return this.#peek(key, (s, a) => {
      if (a < 0) return undefined;
      const exp = s.f64[(a + I_EXPIRES_OFF) >> 3];
      return {
        expiresAt: exp === 0 ? Infinity : exp,
        createdAt: s.f64[(a + I_CREATED_OFF) >> 3],
        version: s.u32[(a + I_VERSION_OFF) >> 2],
        priority: PRIORITY_NAME[s.buf[a + I_PRIORITY_OFF]],
        size: s.u32[(a + I_VALUE_LEN_OFF) >> 2],
      };
    }) as EntryInfo | undefined;
  }

  getMany(keys: Iterable<string>): (V | undefined)[] {
    const out: (V | undefined)[] = [];
    for (const k of keys) out.push(this.get(k));
    return out;
  }

  // ------------------------------------------------------------ writes
  /** Stores `value` under `key`. Throws a coded error (and keeps any old value) when it cannot. */
  set(key: string, value: V, options?: SetOptions): void {
    this.#store(MODE_SET, key, value, options);
  }

  /** Stores only when no live entry exists; returns whether it stored. */
  add(key: string, value: V, options?: SetOptions): boolean {
    return this.#store(MODE_ADD, key, value, options);
  }

  /** Stores only when a live entry exists; returns whether it stored. */
  replace(key: string, value: V, options?: SetOptions): boolean {
    return this.#store(MODE_REPLACE, key, value, options);
  }

  setMany(entries: Iterable<readonly [key: string, value: V, options?: SetOptions]>): void {
    for (const e of entries) this.#store(MODE_SET, e[0], e[1], e[2]);
  }

  /** Removes an entry; returns whether a live one was there. */
  delete(key: string): boolean {
    return this.#mutate(key, (p, s, b, si, off) => {
      if (si < 0) return false;
      beginChange(s.i32, b);
      this.#pages.report(s, b + off, p, 'deleted', undefined);
      this.#pages.removeItem(s, b, si, off);
      s.f64[(b >> 3) + P_R_DELETED_IDX]++;
      return true;
    });
  }

  /** Gives an entry a new TTL (from now; default: defaultTtl) without rewriting its value; returns whether it exists. */
  touch(key: string, ttl?: number): boolean {
    const expires = this.#expiry(ttl === undefined ? this.#defaultTtl : validateTtl('ttl', ttl), this.#clock());
    return this.#mutate(key, (p, s, b, si, off, kl, h, now) => {
      if (si < 0) return false;
      const a = b + off;
      s.f64[(a + I_EXPIRES_OFF) >> 3] = expires;
      s.f64[this.#pages.tickIdx(b, si)] = nextTick(now);
      return true;
    });
  }

  /**
   * Sets an entry's absolute expiry (ms since the epoch; 0 or Infinity: never) without rewriting
   * its value; returns whether it exists.
   */
  expireAt(key: string, at: number): boolean {
    validateTtl('at', at);
    const expires = at === Infinity ? 0 : at;
    return this.#mutate(key, (p, s, b, si, off, kl, h, now) => {
      if (si < 0) return false;
      const a = b + off;
      s.f64[(a + I_EXPIRES_OFF) >> 3] = expires;
      s.f64[this.#pages.tickIdx(b, si)] = nextTick(now);
      return true;
    });
  }

  /**
   * Read-modify-write under the page lock: `fn` gets the current value (or undefined) and
   * returns the new one; `undefined` deletes the entry. No update from any process is lost.
   * `fn` must be synchronous and must not call the cache.
   */
  update(key: string, fn: (current: V | undefined) => V | undefined | typeof UNCHANGED, options?: UpdateOptions<V>): V | undefined {
    const ttlOpt = options?.ttl;
    const prioOpt = options?.priority;
    const atOpt = options?.expiresAt;
    if (ttlOpt !== undefined && typeof ttlOpt !== 'function') validateTtl('ttl', ttlOpt);
    if (atOpt !== undefined && typeof atOpt !== 'function') validateTtl('expiresAt', atOpt);
    if (prioOpt !== undefined && typeof prioOpt !== 'function') validateEnum('priority', prioOpt, PRIORITY_NAME);
    return this.#mutate(key, (p, s, b, si, off, klen, h, now) => {
      let current: V | undefined;
      let oldExp = 0;
      let oldPrio = 1;
      if (si >= 0) {
        const a = b + off;
        const start = a + ITEM_HEADER_SIZE + klen;
        const type = s.buf[a + I_TYPE_OFF];
        current = decode(type, copyOut(s.buf, type, start, start + s.u32[(a + I_VALUE_LEN_OFF) >> 2])) as V;
        oldExp = s.f64[(a + I_EXPIRES_OFF) >> 3];
        oldPrio = s.buf[a + I_PRIORITY_OFF];
      }
      let next: V | undefined | typeof UNCHANGED;
      let ttl: number | undefined;
      let at: number | undefined;
      let prio = -1;
      try {
        next = fn(current);
        if (next === UNCHANGED) {
          this.#lastExpiry = oldExp;
          return current;
        }
        if (next !== undefined) {
          if (atOpt !== undefined) at = validateTtl('expiresAt', typeof atOpt === 'function' ? atOpt(next) : atOpt);
          else if (ttlOpt !== undefined) ttl = validateTtl('ttl', typeof ttlOpt === 'function' ? ttlOpt(next) : ttlOpt);
          if (prioOpt !== undefined) prio = PRIORITY_CODE[validateEnum('priority', typeof prioOpt === 'function' ? prioOpt(next) : prioOpt, PRIORITY_NAME)];
        }
      } catch (err) {
        throw new CallbackError(err);
      }
      if (next !== null && typeof next === 'object' && typeof (next as { then?: unknown }).then === 'function') {
        throw sessmapError('SESSMAP_ERR_UPDATE_ASYNC', 'the update callback returned a promise; it runs under a page lock and must return the new value synchronously');
      }
      if (next === undefined) {
        if (si >= 0) {
          beginChange(s.i32, b);
          this.#pages.report(s, b + off, p, 'deleted', undefined);
          this.#pages.removeItem(s, b, si, off);
          s.f64[(b >> 3) + P_R_DELETED_IDX]++;
        }
        return undefined;
      }
      const enc = encode(this.#type, next);
      const vlen = this.#checkSize(klen, enc);
      const expires = at !== undefined ? (at === Infinity ? 0 : at) : ttl !== undefined ? this.#expiry(ttl, now) : si >= 0 ? oldExp : this.#expiry(this.#defaultTtl, now);
      this.#writeLocked(p, s, b, si, off, h, klen, enc, vlen, expires, prio >= 0 ? prio : si >= 0 ? oldPrio : 1, now);
      return next;
    });
  }

  /**
   * Like update, also giving when the entry expires afterwards: `{ value, expiresAt }`, with
   * `expiresAt` Infinity when it has no expiry or there is no entry.
   */
  updateEntry(key: string, fn: (current: V | undefined) => V | undefined | typeof UNCHANGED, options?: UpdateOptions<V>): { value: V | undefined; expiresAt: number } {
    this.#lastExpiry = 0;
    const value = this.update(key, fn, options);
    return { value, expiresAt: this.#lastExpiry === 0 ? Infinity : this.#lastExpiry };
  }

  // ------------------------------------------------------------ whole cache
  /** Every live key, page by page (each page is read under its lock, then yielded). */
  *keys(): IterableIterator<string> {
    for (const [k] of this.#scan(false)) yield k;
  }

  /** Every live entry, page by page. */
  *entries(): IterableIterator<[string, V]> {
    for (const e of this.#scan(true)) yield e as [string, V];
  }

  /**
   * Keyed digest of `text` (HMAC-SHA256 with the file's secret, 16 hex characters): stable for
   * the life of the file and the same in every process, so logs can name a session id without
   * revealing it.
   */
  digest(text: string): string {
    return createHmac('sha256', this.#secret).update(text).digest('hex').slice(0, 16);
  }

  /** Removes every expired entry now; returns how many. */
  purgeExpired(): number {
    return this.purgeExpiredPages(0, this.#pages.pageCount);
  }

  /**
   * Removes the expired entries of `count` pages from `first` (wrapping around), for incremental
   * sweeps. A page whose lock a live process holds is skipped, not waited for: a sweeper never
   * blocks its event loop.
   */
  purgeExpiredPages(first: number, count: number): number {
    let n = 0;
    this.#enter();
    const now = this.#clock();
    const pc = this.#pages.pageCount;
    for (let i = 0; i < Math.min(count, pc); i++) {
      const p = (first + i) % pc;
      if (!this.#lockIsFree(p)) continue;
      n += this.#withPageLock(p, (s, b) => this.#dirty(p, s, b, () => this.#pages.expireAll(p, s, b, now, -1)));
    }
    this.#maybeFlush();
    return n;
  }

  /** Removes every entry (reason 'cleared'). Counters are kept. */
  clear(): void {
    this.#enter();
    const pages = this.#pages;
    for (let p = 0; p < pages.pageCount; p++) {
      this.#withPageLock(p, (s, b) => this.#dirty(p, s, b, () => {
        const end = s.u32[(b >> 2) + P_FREE_IDX];
        let n = 0;
        for (let off = pages.ds; off < end; off += s.u32[(b + off + I_LEN_OFF) >> 2]) {
          if (s.u32[(b + off + I_FLAGS_OFF) >> 2] !== FLAG_LIVE) continue;
          pages.report(s, b + off, p, 'cleared', undefined);
          n++;
        }
        pages.resetPage(s, b);
        s.f64[(b >> 3) + P_R_CLEARED_IDX] += n;
      }));
    }
    this.#maybeFlush();
  }

  /** Counters shared by every process, in total and per page. Read without locks. */
  stats(): CacheStats {
    this.#enter();
    SharedCache.#flushAllReadCounts();
    const pages = this.#pages;
    const per: PageStats[] = [];
    const total = emptyCounters();
    for (let p = 0; p < pages.pageCount; p++) {
      const s = this.#segs[pages.segOf[p]];
      const b = pages.baseOf[p];
      const f = b >> 3;
      const live = s.u32[(b >> 2) + P_LIVE_BYTES_IDX];
      const st: PageStats = {
        page: p,
        entries: s.u32[(b >> 2) + P_COUNT_IDX],
        bytesUsed: live,
        bytesFree: pages.pageSize - pages.ds - live,
        hits: s.f64[f + P_HITS_IDX] + (Atomics.load(s.i32, (b >> 2) + P_FAST_HITS_IDX) >>> 0),
        misses: s.f64[f + P_MISSES_IDX] + (Atomics.load(s.i32, (b >> 2) + P_FAST_MISSES_IDX) >>> 0),
        sets: s.f64[f + P_SETS_IDX],
        removals: {
          expired: s.f64[f + P_R_EXPIRED_IDX],
          evicted: s.f64[f + P_R_EVICTED_IDX],
          deleted: s.f64[f + P_R_DELETED_IDX],
          cleared: s.f64[f + P_R_CLEARED_IDX],
          repaired: s.f64[f + P_R_REPAIRED_IDX],
        },
        evictedLive: s.f64[f + P_EVICTED_LIVE_IDX],
        evictedHigh: s.f64[f + P_EVICTED_HIGH_IDX],
        lockRecoveries: s.f64[f + P_LOCK_RECOVERIES_IDX],
        lockWaits: s.f64[f + P_LOCK_WAITS_IDX],
        repairs: s.f64[f + P_REPAIRS_IDX],
      };
      per.push(st);
      addCounters(total, st);
    }
    return { ...total, pageCount: pages.pageCount, pageSize: pages.pageSize, fileSize: this.geometry.fileSize, maxItemBytes: this.maxItemBytes, pages: per };
  }

  /**
   * Takes over every page lock held by a process or thread that no longer exists, repairing those
   * pages. Returns how many locks were recovered. Waiters do this on their own; supervisors call it
   * (or {@link recoverOwnerPid}) when they learn that a process died.
   */
  recoverDeadOwners(): number {
    return this.#recoverWhere((owner) => !isOwnerAlive(owner));
  }

  /**
   * Takes over every page lock held by process `pid`, which the caller knows is dead (even if the
   * pid is in use again), and by any of its threads (or any other owner) that is gone.
   */
  recoverOwnerPid(pid: number): number {
    if (pid === process.pid) return 0;
    return this.#recoverWhere((owner) => ownerPid(owner) === pid || !isOwnerAlive(owner));
  }

  /**
   * Takes over every page lock held by worker thread `threadId` of this process, which the caller
   * knows has stopped (a Worker's 'exit' event). On Linux waiters find a terminated thread dead by
   * themselves (owners are OS thread ids); elsewhere its end can only be reported.
   */
  recoverThread(threadId: number): number {
    if (threadTag(threadId) === ownerTag(OWNER_ID)) return 0;
    if (THREAD_OWNERS) return this.#recoverWhere((o) => ownerTag(o) === threadTag(threadId) && !isOwnerAlive(o));
    const owner = ownerIdOf(process.pid, threadId);
    return this.#recoverWhere((o) => o === owner);
  }

  /** Detaches this handle; the file stays. Every later call throws SESSMAP_ERR_CLOSED. */
  close(): void {
    if (this.#closed) return;
    if (held.count === 0) this.#flushReadCounts();
    this.#closed = true;
    openHandles.delete(this);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Whether {@link path} still leads to the file this handle maps (one lstat; see {@link PathStatus}). */
  pathStatus(): PathStatus {
    return pathStatus(this.path, this.#identity);
  }

  // ------------------------------------------------------------ internals
  #enter(): void {
    if (this.#closed) throw sessmapError('SESSMAP_ERR_CLOSED', `cache handle for ${this.path} is closed`, { path: this.path });
    if (held.count !== 0) throw sessmapError('SESSMAP_ERR_REENTRANT_CALL', 'the cache was called while this thread holds a page lock (from inside an update callback or a serializer hook); do that work outside the callback');
    if (this.#header.i32[H_EPOCH_IDX] !== this.#epoch) throw sessmapError('SESSMAP_ERR_STALE_HANDLE', `cache file ${this.path} was reinitialised by another process; open it again`, { path: this.path });
  }

  /** Validates a key and leaves its UTF-8 bytes in scratch; returns their count. */
  #key(key: string): number {
    if (typeof key !== 'string' || key.length === 0 || key.length > this.#maxKeyBytes) {
      throw this.#badKey(key);
    }
    // ASCII keys (session ids, most cache keys) are copied byte by byte: faster than an encoder call.
    const scratch = this.#pages.scratch;
    const n = key.length;
    for (let i = 0; i < n; i++) {
      const c = key.charCodeAt(i);
      if (c >= 0x80) return this.#keyUtf8(key);
      scratch[i] = c;
    }
    return n;
  }

  #keyUtf8(key: string): number {
    const klen = this.#pages.scratch.write(key, 0, 'utf8');
    if (klen > this.#maxKeyBytes || !key.isWellFormed()) throw this.#badKey(key);
    return klen;
  }

  #badKey(key: unknown): SessmapError {
    if (typeof key !== 'string') return sessmapError('SESSMAP_ERR_INVALID_KEY', `key must be a string; got ${key === null ? 'null' : typeof key}`);
    if (key.length === 0) return sessmapError('SESSMAP_ERR_INVALID_KEY', 'key must not be empty');
    if (!key.isWellFormed()) return sessmapError('SESSMAP_ERR_INVALID_KEY', 'key contains a lone UTF-16 surrogate (not valid Unicode)');
    return sessmapError('SESSMAP_ERR_INVALID_KEY', `key is ${Buffer.byteLength(key)} bytes in UTF-8; the limit is ${this.#maxKeyBytes}`, { bytes: Buffer.byteLength(key), maxKeyBytes: this.#maxKeyBytes });
  }

  #checkSize(klen: number, enc: Encoded): number {
    const vlen = encodedLength(enc);
    if (klen + vlen > this.maxItemBytes) {
      throw sessmapError('SESSMAP_ERR_VALUE_TOO_LARGE', `key and value take ${klen + vlen} bytes; the largest item this cache stores is ${this.maxItemBytes} bytes (half a page less headers)`, { bytes: klen + vlen, maxItemBytes: this.maxItemBytes });
    }
    return vlen;
  }

  #expiry(ttl: number, now: number): number {
    return ttl === 0 || ttl === Infinity ? 0 : now + ttl;
  }

  #store(mode: number, key: string, value: V, options: SetOptions | undefined): boolean {
    const ttl = options?.ttl === undefined ? this.#defaultTtl : validateTtl('ttl', options.ttl);
    const prio = options?.priority === undefined ? 1 : PRIORITY_CODE[validateEnum('priority', options.priority, PRIORITY_NAME)];
    this.#enter();
    // Serialize first: a toJSON hook may call the cache, which reuses the key scratch buffer.
    const enc = encode(this.#type, value);
    const klen = this.#key(key);
    const vlen = this.#checkSize(klen, enc);
    return this.#mutate(key, (p, s, b, si, off, kl, h, now) => {
      if (mode === MODE_ADD && si >= 0) return false;
      if (mode === MODE_REPLACE && si < 0) return false;
      this.#writeLocked(p, s, b, si, off, h, kl, enc, vlen, this.#expiry(ttl, now), prio, now);
      return true;
    }, klen);
  }

  /** Writes an item and publishes it in place of the old one (if any). Page locked and marked dirty. */
  #writeLocked(p: number, s: Segment, b: number, si: number, off: number, h: number, klen: number, enc: Encoded,
    vlen: number, expires: number, prio: number, now: number): void {
    const pages = this.#pages;
    beginChange(s.i32, b);
    const need = alignItem(ITEM_HEADER_SIZE + klen + vlen);
    const at = pages.place(p, s, b, need, si < 0, si >= 0 ? off : -1, now);
    const tick = nextTick(now);
    const type = typeOfEncoded(this.#type, enc, vlen);
    pages.writeItem(s, b, at, need, h, klen, enc, vlen, type, expires, prio, now, tick);
    this.#lastExpiry = expires;
    s.u32[(b + at + I_FLAGS_OFF) >> 2] = FLAG_LIVE;
    if (FAULTS) fault('write:unpublished');
    const hIdx = b >> 2;
    if (si >= 0) {
      // Compaction may have moved the old item: find its slot again, then swap in one store.
      const si2 = pages.findSlot(s, b, h, klen);
      const old = pages.slotOffset(s, b, si2);
      pages.setSlotOffset(s, b, si2, at);
      s.f64[pages.tickIdx(b, si2)] = tick;
      if (FAULTS) fault('write:published');
      const oldLen = s.u32[(b + old + I_LEN_OFF) >> 2];
      s.u32[(b + old + I_FLAGS_OFF) >> 2] = 0;
      s.u32[hIdx + P_LIVE_BYTES_IDX] -= oldLen;
      s.u32[hIdx + P_DEAD_BYTES_IDX] += oldLen;
    } else {
      pages.insertSlot(s, b, h, at, tick);
      s.u32[hIdx + P_COUNT_IDX]++;
    }
    s.u32[hIdx + P_LIVE_BYTES_IDX] += need;
    s.f64[(b >> 3) + P_SETS_IDX]++;
  }

  /**
   * Runs `fn` on the key's page, locked and marked mid-change, with the key's live slot
   * (an expired entry is removed first and passed as absent). Repairs the page if `fn` fails
   * half-way, and retries once if the page turned out damaged.
   */
  #mutate<R>(key: string, fn: (p: number, s: Segment, b: number, si: number, off: number, klen: number, h: number, now: number) => R, klen?: number): R {
    this.#enter();
    const pages = this.#pages;
    for (let attempt = 0; ; attempt++) {
      const kl = klen !== undefined && attempt === 0 ? klen : this.#key(key);
      const h = pages.hashKey(kl);
      const p = pages.pageOf(h);
      const s = this.#segs[pages.segOf[p]];
      const b = pages.baseOf[p];
      this.#lock(p, s, b);
      let result: R;
      try {
        if (FAULTS) fault('lock:held');
        const now = this.#clock();
        // The page is marked mid-change (its sequence made odd) only from the first store that
        // changes it (#expire, #writeLocked, a removal): lock-free readers go on reading it while
        // this call looks up the key, decodes the old value and runs an update callback.
        let si = pages.findSlot(s, b, h, kl);
        let off = si >= 0 ? pages.slotOffset(s, b, si) : 0;
        if (si >= 0) {
          const exp = s.f64[(b + off + I_EXPIRES_OFF) >> 3];
          if (exp !== 0 && exp <= now) {
            this.#expire(p, s, b, si, off);
            si = -1;
            off = 0;
          }
        }
        result = fn(p, s, b, si, off, kl, h, now);
        endChange(s.i32, b);
      } catch (err) {
        if (err instanceof CallbackError) {
          endChange(s.i32, b);
          throw err.error;
        }
        if (err instanceof PageDamaged || !(err as { code?: string }).code?.startsWith('SESSMAP_ERR_')) {
          // The page may be half-changed: rebuild it before anyone else sees it.
          this.#repair(p, s, b);
          if (err instanceof PageDamaged && attempt === 0) continue;
        } else endChange(s.i32, b);
        throw err;
      } finally {
        this.#unlock(s, b);
        this.#maybeFlush();
      }
      return result;
    }
  }

  /**
   * Runs `fn` with the key's live item address (-1 when absent), without changing recency: like a
   * get, without the lock (a seqlock read; `fn` only reads, and its result is dropped if the page
   * changed meanwhile), else under it.
   */
  #peek(key: string, fn: (s: Segment, a: number) => unknown): unknown {
    this.#enter();
    const pages = this.#pages;
    const klen = this.#key(key);
    const h = pages.hashKey(klen);
    const p = pages.pageOf(h);
    const s = this.#segs[pages.segOf[p]];
    const b = pages.baseOf[p];
    if (this.#validated[p] === 1 && !this.#verifyReads) {
      const seqIdx = (b >> 2) + P_DIRTY_IDX;
      for (let n = 0; n < OPTIMISTIC_TRIES; n++) {
        const seq = Atomics.load(s.i32, seqIdx);
        if ((seq & 1) !== 0) continue;
        const si = pages.findSlot(s, b, h, klen);
        let a = -1;
        if (si >= 0) {
          const off = pages.slotOffset(s, b, si);
          if (off + ITEM_HEADER_SIZE > pages.pageSize) continue;
          a = b + off;
          const exp = s.f64[(a + I_EXPIRES_OFF) >> 3];
          if (exp !== 0 && exp <= this.#clock()) a = -1;
        }
        const r = fn(s, a);
        if (Atomics.load(s.i32, seqIdx) === seq) return r;
      }
    }
    this.#lock(p, s, b);
    try {
      const si = pages.findSlot(s, b, h, klen);
      if (si < 0) return fn(s, -1);
      const a = b + pages.slotOffset(s, b, si);
      const exp = s.f64[(a + I_EXPIRES_OFF) >> 3];
      if (exp !== 0 && exp <= this.#clock()) return fn(s, -1);
      return fn(s, a);
    } finally {
      this.#unlock(s, b);
    }
  }

  #expire(p: number, s: Segment, b: number, si: number, off: number): void {
    const began = beginChange(s.i32, b);
    this.#pages.report(s, b + off, p, 'expired', undefined);
    this.#pages.removeItem(s, b, si, off);
    s.f64[(b >> 3) + P_R_EXPIRED_IDX]++;
    if (began) endChange(s.i32, b);
    if (this.#removals !== null) this.#pending = true;
  }

  #dirty<R>(p: number, s: Segment, b: number, fn: () => R): R {
    beginChange(s.i32, b);
    try {
      const r = fn();
      endChange(s.i32, b);
      return r;
    } catch (err) {
      this.#repair(p, s, b);
      throw err;
    }
  }

  #decode(p: number, type: number, raw: string | Buffer): V | undefined {
    this.#maybeFlush();
    try {
      return decode(type, raw) as V;
    } catch {
      // Checksummed bytes that do not decode: have the page checked again, report a miss.
      this.#validated[p] = 0;
      this.#withPageLock(p, () => undefined);
      return undefined;
    }
  }

  *#scan(values: boolean): IterableIterator<[string, unknown]> {
    const pages = this.#pages;
    for (let p = 0; p < pages.pageCount; p++) {
      this.#enter();
      const now = this.#clock();
      const batch = this.#withPageLock(p, (s, b) => {
        const out: [string, number, string | Buffer | undefined][] = [];
        const end = s.u32[(b >> 2) + P_FREE_IDX];
        for (let off = pages.ds; off < end; off += s.u32[(b + off + I_LEN_OFF) >> 2]) {
          const a = b + off;
          if (s.u32[(a + I_FLAGS_OFF) >> 2] !== FLAG_LIVE) continue;
          const exp = s.f64[(a + I_EXPIRES_OFF) >> 3];
          if (exp !== 0 && exp <= now) continue;
          const klen = s.u16[(a + I_KEY_LEN_OFF) >> 1];
          const type = s.buf[a + I_TYPE_OFF];
          const start = a + ITEM_HEADER_SIZE + klen;
          out.push([pages.keyOf(s, a), type, values ? copyOut(s.buf, type, start, start + s.u32[(a + I_VALUE_LEN_OFF) >> 2]) : undefined]);
        }
        return out;
      });
      for (const [k, type, raw] of batch) yield [k, raw === undefined ? undefined : decode(type, raw)];
    }
  }

  /** True when the page can be locked without waiting (free, or held by a dead process). */
  #lockIsFree(p: number): boolean {
    const s = this.#segs[this.#pages.segOf[p]];
    const owner = Atomics.load(s.i32, (this.#pages.baseOf[p] >> 2) + P_LOCK_IDX);
    return owner === 0 || !isOwnerAlive(owner);
  }

  #withPageLock<R>(p: number, fn: (s: Segment, b: number) => R, validate = true): R {
    const s = this.#segs[this.#pages.segOf[p]];
    const b = this.#pages.baseOf[p];
    this.#lock(p, s, b, validate);
    try {
      return fn(s, b);
    } finally {
      this.#unlock(s, b);
      this.#maybeFlush();
    }
  }

  #lock(p: number, s: Segment, b: number, validate = true): void {
    const idx = (b >> 2) + P_LOCK_IDX;
    if (Atomics.compareExchange(s.i32, idx, 0, OWNER_ID) !== 0) this.#lockSlow(p, s, b, idx);
    held.count++;
    const fh = (b >> 2) + P_FAST_HITS_IDX;
    if (s.i32[fh] !== 0 || s.i32[fh + 1] !== 0) {
      s.f64[(b >> 3) + P_HITS_IDX] += Atomics.exchange(s.i32, fh, 0) >>> 0;
      s.f64[(b >> 3) + P_MISSES_IDX] += Atomics.exchange(s.i32, fh + 1, 0) >>> 0;
    }
    if (!validate) return;
    if (this.#validated[p] === 0 || (s.i32[(b >> 2) + P_DIRTY_IDX] & 1) !== 0 || s.u32[(b >> 2) + P_COMPACT_IDX] !== 0) {
      try {
        this.#repair(p, s, b);
      } catch (err) {
        this.#unlock(s, b);
        throw err;
      }
    }
  }

  #unlock(s: Segment, b: number): void {
    held.count--;
    Atomics.store(s.i32, (b >> 2) + P_LOCK_IDX, 0);
  }

  #lockSlow(p: number, s: Segment, b: number, idx: number): void {
    const i32 = s.i32;
    const start = performance.now();
    let nextCheck = start + 1;
    let pause = 0.005;
    // Holders keep a lock for a few microseconds, and the shortest sleep lasts ~50 us (the kernel's
    // timer slack): spin for up to 20 us before the first sleep.
    do {
      for (let spin = 0; spin < 64; spin++) {
        if (Atomics.load(i32, idx) === 0 && Atomics.compareExchange(i32, idx, 0, OWNER_ID) === 0) {
          s.f64[(b >> 3) + P_LOCK_WAITS_IDX]++;
          return;
        }
      }
    } while (performance.now() - start < 0.02);
    for (;;) {
      for (let spin = 0; spin < 64; spin++) {
        if (Atomics.load(i32, idx) === 0 && Atomics.compareExchange(i32, idx, 0, OWNER_ID) === 0) {
          s.f64[(b >> 3) + P_LOCK_WAITS_IDX]++;
          return;
        }
      }
      const now = performance.now();
      const owner = Atomics.load(i32, idx);
      if (owner !== 0 && now >= nextCheck) {
        nextCheck = now + 5;
        if (!isOwnerAlive(owner) && Atomics.compareExchange(i32, idx, owner, OWNER_ID) === owner) {
          this.#recovered(p, s, b, owner);
          return;
        }
      }
      if (now - start >= this.#lockTimeout) {
        throw sessmapError('SESSMAP_ERR_LOCK_TIMEOUT', `page ${p} of ${this.path} stayed locked for ${this.#lockTimeout} ms by live ${THREAD_OWNERS ? 'thread' : 'process'} ${ownerPid(owner)}`, { page: p, owner, pid: ownerPid(owner), lockTimeout: this.#lockTimeout });
      }
      // Holders keep a lock for microseconds: wake often at first; back off to 1 ms only for a
      // holder that is stuck (or dead, until the liveness check finds out).
      sleep(pause);
      pause = Math.min(pause * 2, now - start < 50 ? 0.05 : 1);
    }
  }

  #recovered(p: number, s: Segment, b: number, owner: number): void {
    s.f64[(b >> 3) + P_LOCK_RECOVERIES_IDX]++;
    s.f64[(b >> 3) + P_LOCK_WAITS_IDX]++;
    this.#validated[p] = 0; // the dead owner may have been mid-change: check before use
    if (this.#opts.onLockRecovered) {
      this.#recoveries.push({ page: p, owner, pid: ownerPid(owner) });
      this.#pending = true;
    }
  }

  #recoverWhere(match: (owner: number) => boolean): number {
    this.#enter();
    let n = 0;
    for (let p = 0; p < this.#pages.pageCount; p++) {
      const s = this.#segs[this.#pages.segOf[p]];
      const b = this.#pages.baseOf[p];
      const idx = (b >> 2) + P_LOCK_IDX;
      const owner = Atomics.load(s.i32, idx);
      if (owner === 0 || !match(owner) || Atomics.compareExchange(s.i32, idx, owner, OWNER_ID) !== owner) continue;
      this.#recovered(p, s, b, owner);
      held.count++;
      try {
        this.#repair(p, s, b);
      } finally {
        this.#unlock(s, b);
      }
      n++;
    }
    this.#maybeFlush();
    return n;
  }

  /** Checks the page and rebuilds it if needed (lock held). */
  #repair(p: number, s: Segment, b: number): void {
    const r = repairPage(this.#pages, p, s, b, this.#maxKeyBytes);
    this.#validated[p] = 1;
    if (r.problems.length > 0) {
      if (this.#opts.onRepair) this.#repairs.push({ page: p, problems: r.problems, dropped: r.dropped });
      this.#pending = true;
    }
  }

  #maybeFlush(): void {
    if (this.#pending || (this.#removals !== null && this.#removals.length !== 0)) this.#flush();
  }

  /** Hands collected events to the hooks, outside any lock. A hook that throws becomes a process warning. */
  #flush(): void {
    if (held.count !== 0) return;
    this.#pending = false;
    const o = this.#opts;
    if (this.#recoveries.length > 0) {
      const list = this.#recoveries;
      this.#recoveries = [];
      for (const e of list) callHook(o.onLockRecovered, e);
    }
    if (this.#repairs.length > 0) {
      const list = this.#repairs;
      this.#repairs = [];
      for (const e of list) callHook(o.onRepair, e);
    }
    const removals = this.#removals;
    if (removals !== null && removals.length > 0) {
      const list = removals.splice(0, removals.length);
      for (const r of list) {
        const e: { -readonly [K in keyof RemovalEvent]: RemovalEvent[K] } = { key: r.key, reason: r.reason, page: r.page, ttlLeft: r.ttlLeft, expiresAt: r.expiresAt };
        if (r.raw !== undefined) {
          try {
            e.value = decode(r.type, r.raw);
          } catch {
            // a value that does not decode is left out
          }
        }
        callHook(o.onRemove, e);
      }
    }
  }
}

/** From the lock-free read: take the locked path. */
const RETRY: unique symbol = Symbol('retry');
const LOCKED: unique symbol = Symbol('locked');
/** Lock-free attempts of a get while writes keep changing its page, before it takes the lock. */
const OPTIMISTIC_TRIES = 256;

/** Returned by an update callback to leave the entry exactly as it is (nothing is written). */
export const UNCHANGED: unique symbol = Symbol('sessmap.unchanged');

/** Wraps an error thrown by an update callback, which changed nothing. */
class CallbackError {
  constructor(readonly error: unknown) {}
}

function callHook<E>(hook: ((e: E) => void) | undefined, e: E): void {
  if (hook === undefined) return;
  try {
    hook(e);
  } catch (err) {
    process.emitWarning(err instanceof Error ? err : new Error(String(err)), { code: 'SESSMAP_HOOK_ERROR' });
  }
}

function emptyCounters(): Omit<PageStats, 'page'> {
  return {
    entries: 0, bytesUsed: 0, bytesFree: 0, hits: 0, misses: 0, sets: 0,
    removals: { expired: 0, evicted: 0, deleted: 0, cleared: 0, repaired: 0 },
    evictedLive: 0, evictedHigh: 0, lockRecoveries: 0, lockWaits: 0, repairs: 0,
  };
}

function addCounters(t: Omit<PageStats, 'page'>, s: PageStats): void {
  t.entries += s.entries; t.bytesUsed += s.bytesUsed; t.bytesFree += s.bytesFree;
  t.hits += s.hits; t.misses += s.misses; t.sets += s.sets;
  for (const k of Object.keys(t.removals) as (keyof typeof t.removals)[]) t.removals[k] += s.removals[k];
  t.evictedLive += s.evictedLive; t.evictedHigh += s.evictedHigh; t.lockRecoveries += s.lockRecoveries; t.lockWaits += s.lockWaits; t.repairs += s.repairs;
}
