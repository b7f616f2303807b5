/**
 * SharedCache: the public, synchronous API over one cache file. Keys are hashed (keyed by the
 * file's seed) to a page; reads of a page this handle has validated take no lock (a seqlock),
 * every other operation takes that page's lock for a few hundred nanoseconds, and values are
 * (de)serialized outside the lock where the operation allows.
 *
 * A thin facade: the handle's state is one Handle (handle.ts), and each call goes to the file
 * that does it: read.ts, write.ts, scan.ts, stats.ts, locking.ts.
 */
import { createHmac } from 'node:crypto';
import { attachExisting, createOrAttach, type Attachment, type InternalCreateOptions } from '../attach.js';
import { pathStatus, type FileIdentity } from '../file.js';
import { OWNER_ID } from '../lock.js';
import { normaliseHandleOptions, type HandleOptions } from '../options.js';
import { list, readListings, reclaimListings, unlist } from '../attached.js';
import type { CacheStats, CreateOptions, EntryInfo, Geometry, OpenOptions, PathStatus, RepairEvent, ResizeOptions, ResizeResult, SetOptions, UpdateOptions } from '../types.js';
import { H_LAYOUT_GEN_IDX, PAGES_OFF } from '../layout.js';
import { held } from '../lock.js';
import { removeStaleCopies, resizeFile, resizeState, staleCopiesLikely } from './resize.js';
import { Handle } from './handle.js';
import { checkLocked, lockWord, recoverDeadOwners, recoverOwnerPid, recoverThread, repairPageNow, verifyPage } from './locking.js';
import { entryTtl, getValue, getValueInto, hasEntry, inspectEntry } from './read.js';
import { clearAll, inspectPageEntries, purgeExpiredPages, scanEntries } from './scan.js';
import { collectStats, flushAllReadCounts, trackReadCounts, untrackReadCounts } from './stats.js';
import { MODE_ADD, MODE_REPLACE, MODE_SET, UNCHANGED, deleteKey, expireKeyAt, store, touchKey, updateKey, type UpdateFn } from './write.js';

export { UNCHANGED };

/** White-box access for tests (internals.ts); not part of the public API. */
export const INTERNALS = new WeakMap<object, CacheInternals>();
export interface CacheInternals {
  checkPage(p: number): string[];
  pageOf(key: string): number;
  lockWord(p: number): number;
  ownerId: number;
}

export class SharedCache<V = unknown> {
  /** The file this handle is attached to. */
  readonly path: string;
  /** The largest key bytes + serialized value bytes that can always be stored. */
  readonly maxItemBytes: number;
  readonly #h: Handle;
  readonly #identity: FileIdentity;
  /** Secret for digest(): bytes 8-31 of the file's seed. */
  readonly #secret: Buffer;

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
    const h = new Handle(att, o);
    this.path = att.path;
    this.maxItemBytes = h.maxItemBytes;
    this.#h = h;
    this.#identity = att.identity;
    this.#secret = info.seed.subarray(8);
    trackReadCounts(h);
    if (staleCopiesLikely(h)) removeStaleCopies(h);
    if (o.listed) h.listing = list(att.header);
    INTERNALS.set(this, {
      checkPage: (p) => checkLocked(h, p),
      pageOf: (key) => h.pages.pageOf(h.pages.hashKey(h.keys.encode(key))),
      lockWord: (p) => lockWord(h, p),
      ownerId: OWNER_ID,
    });
  }

  /**
   * The file's geometry: its page size, slots per page and key bytes, and the page count and
   * length of its current layout (after a resize, the new one's; during one, the pages this handle
   * numbers: the old layout's and the new one's, see {@link CacheStats.resize}).
   */
  get geometry(): Geometry {
    const h = this.#h;
    // Follows a new layout; a handle that cannot (closed, or its file reinitialised) says what it last had.
    if (!h.closed && held.count === 0 && h.header.u32[H_LAYOUT_GEN_IDX] !== h.layoutGen) {
      try {
        h.enter();
      } catch {
        // the next operation throws the coded error
      }
    }
    return Object.freeze({ pageCount: h.pages.pageCount, pageSize: h.pages.pageSize, slotsPerPage: h.pages.slots, maxKeyBytes: h.maxKeyBytes, fileSize: PAGES_OFF + h.layout.slots * h.pages.pageSize });
  }

  /**
   * Gives the file another page count while every process attached goes on using it: grows it
   * (the file gets longer), or shrinks it when the live entries fit the smaller layout
   * (SESSMAP_ERR_RESIZE_NO_ROOM otherwise, nothing changed). Pages move one at a time, each under
   * its lock; every attached handle follows the new layout at its next call. A resize that a
   * killed process left under way is finished first. Resolves once the old layout's pages are
   * released, `graceMs` (5 s) after the move. See docs/file-format.md, "Online resize".
   */
  resize(options: ResizeOptions): Promise<ResizeResult> {
    return resizeFile(this.#h, options);
  }

  // ------------------------------------------------------------ reads
  /** The value stored under `key`, or undefined. Counts as a use for LRU order. */
  get(key: string): V | undefined {
    return getValue(this.#h, key) as V | undefined;
  }

  /** Like get, with the entry's absolute expiry (Infinity when none), from the same read. */
  getEntry(key: string): { value: V; expiresAt: number } | undefined {
    const value = getValue(this.#h, key) as V | undefined;
    if (value === undefined) return undefined;
    const exp = this.#h.lastExpiry;
    return { value, expiresAt: exp === 0 ? Infinity : exp };
  }

  /**
   * Copies the 'raw' value stored under `key` into `target` from byte `offset` (default 0) and
   * returns its length in bytes, or -1 when there is none; counts as a use, as get does. Allocates
   * no Buffer. Throws SESSMAP_ERR_TARGET_TOO_SMALL when the value does not fit, SESSMAP_ERR_NOT_RAW
   * for a value stored with another serializer; either counts as nothing. When it returns -1 or
   * throws, the target's bytes from `offset` may have been written (by a read that met a write).
   */
  getInto(key: string, target: Uint8Array, offset = 0): number {
    return getValueInto(this.#h, key, target, offset);
  }

  /** True when a live entry is stored under `key` (does not count as a use). */
  has(key: string): boolean {
    return hasEntry(this.#h, key);
  }

  /** Remaining lifetime in ms (Infinity without expiry), or undefined when absent. */
  ttl(key: string): number | undefined {
    return entryTtl(this.#h, key);
  }

  /** Metadata of an entry, without its value. */
  inspect(key: string): EntryInfo | undefined {
    return inspectEntry(this.#h, key);
  }

  getMany(keys: Iterable<string>): (V | undefined)[] {
    const out: (V | undefined)[] = [];
    for (const k of keys) out.push(getValue(this.#h, k) as V | undefined);
    return out;
  }

  // ------------------------------------------------------------ writes
  /** Stores `value` under `key`. Throws a coded error (and keeps any old value) when it cannot. */
  set(key: string, value: V, options?: SetOptions): void {
    store(this.#h, MODE_SET, key, value, options);
  }

  /** Stores only when no live entry exists; returns whether it stored. */
  add(key: string, value: V, options?: SetOptions): boolean {
    return store(this.#h, MODE_ADD, key, value, options);
  }

  /** Stores only when a live entry exists; returns whether it stored. */
  replace(key: string, value: V, options?: SetOptions): boolean {
    return store(this.#h, MODE_REPLACE, key, value, options);
  }

  setMany(entries: Iterable<readonly [key: string, value: V, options?: SetOptions]>): void {
    for (const e of entries) store(this.#h, MODE_SET, e[0], e[1], e[2]);
  }

  /** Removes an entry; returns whether a live one was there. */
  delete(key: string): boolean {
    return deleteKey(this.#h, key);
  }

  /** Gives an entry a new TTL (from now; default: defaultTtl) without rewriting its value; returns whether it exists. */
  touch(key: string, ttl?: number): boolean {
    return touchKey(this.#h, key, ttl);
  }

  /**
   * Sets an entry's absolute expiry (ms since the epoch; 0 or Infinity: never) without rewriting
   * its value; returns whether it exists.
   */
  expireAt(key: string, at: number): boolean {
    return expireKeyAt(this.#h, key, at);
  }

  /**
   * Read-modify-write under the page lock: `fn` gets the current value (or undefined) and
   * returns the new one; `undefined` deletes the entry. No update from any process is lost.
   * `fn` must be synchronous and must not call the cache.
   */
  update(key: string, fn: (current: V | undefined) => V | undefined | typeof UNCHANGED, options?: UpdateOptions<V>): V | undefined {
    return updateKey<V>(this.#h, key, fn as UpdateFn<V>, options);
  }

  /**
   * Like update, also giving when the entry expires afterwards: `{ value, expiresAt }`, with
   * `expiresAt` Infinity when it has no expiry or there is no entry.
   */
  updateEntry(key: string, fn: (current: V | undefined) => V | undefined | typeof UNCHANGED, options?: UpdateOptions<V>): { value: V | undefined; expiresAt: number } {
    this.#h.lastExpiry = 0;
    const value = updateKey<V>(this.#h, key, fn as UpdateFn<V>, options);
    const exp = this.#h.lastExpiry;
    return { value, expiresAt: exp === 0 ? Infinity : exp };
  }

  // ------------------------------------------------------------ whole cache
  /** Every live key, page by page (each page is read under its lock, then yielded). */
  *keys(): IterableIterator<string> {
    for (const [k] of scanEntries(this.#h, false)) yield k;
  }

  /** Every live entry, page by page. */
  *entries(): IterableIterator<[string, V]> {
    for (const e of scanEntries(this.#h, true)) yield e as [string, V];
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
    return purgeExpiredPages(this.#h, 0, this.#h.pages.pageCount);
  }

  /**
   * Removes the expired entries of `count` pages from `first` (wrapping around), for incremental
   * sweeps. A page whose lock a live process holds is skipped, not waited for: a sweeper never
   * blocks its event loop. With `wait: true` such a page's lock is waited for (up to lockTimeout).
   */
  purgeExpiredPages(first: number, count: number, options?: { wait?: boolean }): number {
    return purgeExpiredPages(this.#h, first, count, options?.wait === true);
  }

  /** The live entries of page `page` with their metadata (as inspect gives it), read under its lock; not a use. */
  inspectPage(page: number): Array<[key: string, info: EntryInfo]> {
    return inspectPageEntries(this.#h, page);
  }

  /**
   * What validation finds wrong with page `page` ([] when it is sound), checked under its lock,
   * changing nothing (the check a page gets when a handle first touches it, without the repair).
   */
  verifyPage(page: number): string[] {
    return verifyPage(this.#h, page);
  }

  /**
   * Checks page `page` under its lock and rebuilds it when it is damaged (entries that are torn
   * are dropped and reported, as on first touch). `problems` is empty when it was sound.
   */
  repairPage(page: number): RepairEvent {
    const r = repairPageNow(this.#h, page);
    return { page, problems: r.problems, dropped: r.dropped };
  }

  /** Removes every entry (reason 'cleared'). Counters are kept. */
  clear(): void {
    clearAll(this.#h);
  }

  /** Counters shared by every process, in total and per page. Read without locks. */
  stats(): CacheStats {
    this.#h.enter();
    flushAllReadCounts();
    const h = this.#h;
    if (staleCopiesLikely(h)) removeStaleCopies(h);
    return { ...collectStats(h.pages, PAGES_OFF + h.layout.slots * h.pages.pageSize, this.maxItemBytes, readListings(h.header)), resize: resizeState(h) };
  }

  /**
   * Takes over every page lock held by a process or thread that no longer exists, repairing those
   * pages, and reclaims their listings in the table of attached processes. Returns how many locks
   * were recovered. Waiters do this on their own; supervisors call it (or {@link recoverOwnerPid})
   * when they learn that a process died.
   */
  recoverDeadOwners(): number {
    const n = recoverDeadOwners(this.#h);
    reclaimListings(this.#h.header);
    return n;
  }

  /**
   * Takes over every page lock held by process `pid`, which the caller knows is dead (even if the
   * pid is in use again), and by any of its threads (or any other owner) that is gone; reclaims
   * its listings.
   */
  recoverOwnerPid(pid: number): number {
    const n = recoverOwnerPid(this.#h, pid);
    reclaimListings(this.#h.header, pid);
    return n;
  }

  /**
   * Takes over every page lock held by worker thread `threadId` of this process, which the caller
   * knows has stopped (a Worker's 'exit' event). On Linux waiters find a terminated thread dead by
   * themselves (owners are OS thread ids); elsewhere its end can only be reported.
   */
  recoverThread(threadId: number): number {
    return recoverThread(this.#h, threadId);
  }

  /** Detaches this handle; the file stays. Every later call throws SESSMAP_ERR_CLOSED. */
  close(): void {
    if (this.#h.closed) return;
    untrackReadCounts(this.#h);
    if (this.#h.listing !== undefined) unlist(this.#h.listing);
    this.#h.closed = true;
  }

  get closed(): boolean {
    return this.#h.closed;
  }

  /** Whether {@link path} still leads to the file this handle maps (one lstat; see {@link PathStatus}). */
  pathStatus(): PathStatus {
    return pathStatus(this.path, this.#identity);
  }
}
