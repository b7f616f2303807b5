/**
 * Public types of the core cache. All durations are milliseconds; all sizes are bytes.
 */

/**
 * How values are turned into bytes. Each entry records the serializer it was written with.
 * 'structured': msgpackr records whose key lists are kept once in the file's structure table.
 */
export type SerializerName = 'json' | 'v8' | 'raw' | 'structured';

/** What a full page does: evict the least recently used entries, or refuse the write. */
export type EvictionPolicy = 'lru' | 'none';

/** Why an entry left the cache. */
export type RemovalReason = 'expired' | 'evicted' | 'deleted' | 'cleared' | 'repaired';

/**
 * Eviction priority. A full page evicts its 'low' entries first, then 'normal', then 'high' ones,
 * each by least recent use. 'high' is for small entries that other entries depend on (a user's
 * list of sessions): they go only when nothing else in their page is left to evict.
 */
export type Priority = 'low' | 'normal' | 'high';

/** What the removal hook receives for every entry that leaves the cache. */
export interface RemovalEvent {
  /** The entry's key; for a torn entry dropped by repair whose key bytes could not be read, `''`. */
  readonly key: string;
  readonly reason: RemovalReason;
  /** The page the entry lived in. */
  readonly page: number;
  /**
   * For `evicted`: how long the entry still had to live, in ms (`Infinity` when it had no expiry,
   * `0` when it had already expired). A positive value means a live entry was evicted: a capacity alarm.
   * For other reasons: `undefined`.
   */
  readonly ttlLeft: number | undefined;
  /** When the entry was due to expire (ms since the epoch; Infinity: never); undefined for 'repaired'. */
  readonly expiresAt: number | undefined;
  /** The removed value, when the handle was opened with `removalValues: true` (not for 'repaired'). */
  readonly value?: unknown;
}

/**
 * Options of {@link SharedCache.open}: what each handle chooses for itself. {@link CreateOptions}
 * has them too. `undefined` means the default; `0` is a real value.
 */
export interface OpenOptions {
  /** Serializer for values written through this handle. @default 'json' at create; at open, the one recorded in the file header */
  serializer?: SerializerName;
  /** TTL of entries set without one, in ms; `0` or `Infinity` means no expiry. @default 0 at create; at open, the one recorded in the file header */
  defaultTtl?: number;
  /** Bound on waiting for a page lock held by a live process, in ms. @default 2000 */
  lockTimeout?: number;
  /** Called after every removal (in the process that removed the entry, outside any lock). */
  onRemove?: (event: RemovalEvent) => void;
  /** Called after a lock held by a dead process was taken over (outside any lock). */
  onLockRecovered?: (event: LockRecoveryEvent) => void;
  /** Called after a damaged or half-changed page was rebuilt (outside any lock). */
  onRepair?: (event: RepairEvent) => void;
  /** Verify every entry's checksum on every read, not only when a page is first touched. @default false */
  verifyReads?: boolean;
  /** Hand removed values to onRemove (a copy is taken under the lock for each removal). @default false */
  removalValues?: boolean;
  /** Time source in ms since the epoch (tests). @default Date.now */
  clock?: () => number;
  /**
   * Whether this handle's thread is listed in the file's table of attached processes
   * (`stats().processes`). Tools that only look at a file (the `sessmap` command) pass false.
   * @default true
   */
  listed?: boolean;
}

/** Options of {@link SharedCache.create}: the file's geometry and policy, and the per-handle {@link OpenOptions}. */
export interface CreateOptions extends OpenOptions {
  /**
   * The most the file may take, in bytes, or a string with a `k`, `m` or `g` suffix (powers of
   * 1024). The file is the 4096-byte header and the 16 KiB structure table plus as many whole
   * pages as fit: `20480 + floor((size - 20480) / pageSize) * pageSize` bytes, never more than
   * `size` and less by under one page (`'1m'` with 64 KiB pages: 15 pages, 1,003,520 bytes). With `pageCount` as well,
   * those pages must fit in `size`. `geometry.fileSize` is the size of the file made.
   * @default '64m'
   */
  size?: number | string;
  /**
   * Bytes per page: a multiple of 4096 between 8 KiB and 64 MiB (accepts `k`/`m` suffixes).
   * The largest storable item is about half a page (see `maxItemBytes`).
   * @default chosen from `size`: 64 KiB up to 16 MiB total, 256 KiB above
   */
  pageSize?: number | string;
  /** Number of pages (each has its own lock). @default as many as fit in `size` */
  pageCount?: number;
  /**
   * Hash slots per page (a power of two). More slots allow more, smaller entries per page.
   * @default pageSize / 256, at least 64 (room for ~200-byte entries at 75% load)
   */
  slotsPerPage?: number;
  /** Longest key in UTF-8 bytes (1 to 4096). @default 1024 */
  maxKeyBytes?: number;
  /** @default 'lru' */
  evictionPolicy?: EvictionPolicy;
  /**
   * What to do when the file already exists: refuse (`'error'`), attach to it as it is, taking the
   * geometry from its header (`'attach'`), or wipe it in place and lay it out anew with these
   * options (`'reinit'`; other processes attached to it get `SESSMAP_ERR_STALE_HANDLE`).
   * @default 'error'
   */
  ifExists?: 'error' | 'attach' | 'reinit';
}

/** Options of a single write. */
export interface SetOptions {
  /** TTL in ms; `0` or `Infinity` means no expiry. @default the cache's defaultTtl */
  ttl?: number;
  /** Eviction priority. @default 'normal' */
  priority?: Priority;
}

/** Options of {@link SharedCache.update}. */
export interface UpdateOptions<V = unknown> {
  /**
   * TTL in ms for the new value, or a function of the new value that returns it.
   * @default the entry's remaining TTL, or defaultTtl for a new entry
   */
  ttl?: number | ((value: V) => number);
  /** Priority, or a function of the new value that returns it. @default the entry's priority, or 'normal' for a new entry */
  priority?: Priority | ((value: V) => Priority);
  /**
   * Absolute expiry in ms since the epoch (0 or Infinity: none), or a function of the new value
   * that returns it; takes precedence over `ttl`.
   */
  expiresAt?: number | ((value: V) => number);
}

/** Counters of one page (or their sum over all pages). Counters are shared by all processes. */
export interface CounterStats {
  entries: number;
  bytesUsed: number;
  bytesFree: number;
  hits: number;
  misses: number;
  sets: number;
  removals: Record<RemovalReason, number>;
  /** Evictions of entries that had not expired yet. */
  evictedLive: number;
  /** Of those, evictions of 'high' priority entries (a page held nothing else to evict). */
  evictedHigh: number;
  /** Locks taken over from dead owners. */
  lockRecoveries: number;
  /** Lock acquisitions that had to wait. */
  lockWaits: number;
  /** Times the page was rebuilt after a crash or corruption. */
  repairs: number;
  /**
   * Live evictions by the TTL the entry still had: one count per bucket of `EVICTED_TTL_BOUNDS`
   * (under 1 s, under 4 s, ... factors of 4 ..., 18.2 h and more), then one for entries without
   * expiry. Counted since this was recorded (format 4 files written before count from 0), so
   * the sum may be below `evictedLive`, never above.
   */
  evictedLiveTtl: number[];
}

export interface PageStats extends CounterStats {
  page: number;
}

export interface CacheStats extends CounterStats {
  pageCount: number;
  pageSize: number;
  fileSize: number;
  maxItemBytes: number;
  pages: PageStats[];
  /** The processes attached to the file, from its table of listings. */
  processes: ProcessStats;
  /** A resize under way (undefined when none): both layouts are in use meanwhile, and `pageCount` counts the pages of both. */
  resize: ResizeState | undefined;
}

/** One thread's listing in the file's table of attached processes. */
export interface AttachedProcess {
  pid: number;
  /** Its worker_threads tag: 0 for a main thread, 1-511 for worker threads. */
  thread: number;
  /** When it attached, ms since the epoch. */
  attachedAt: number;
  /** Handles it has open on the file. */
  handles: number;
  /** False when the thread or its process is gone (or its pid now names another process). */
  alive: boolean;
}

/**
 * The file's attached processes. A handle lists its thread when it opens (unless opened with
 * `listed: false`) and unlists it on close and when the thread exits; a process killed keeps its
 * listing, reported dead, until the next open (or `recoverDeadOwners()`) reclaims it.
 */
export interface ProcessStats {
  /** Processes with a live listing. */
  alive: number;
  /** Processes whose every listing is dead. */
  dead: number;
  /** Every listing, live and dead. */
  list: AttachedProcess[];
  /** True when the table is full: handles opened since are not listed. */
  full: boolean;
}

/** Options of {@link SharedCache.resize}: one of `size` and `pageCount`. */
export interface ResizeOptions {
  /** The most bytes the file's pages may take, as at creation (`'256m'`): whole pages of the file's page size. */
  size?: number | string;
  /** The page count of the new layout. */
  pageCount?: number;
  /** Called after each page moved, and each page released. */
  onProgress?: (progress: ResizeProgress) => void;
  /** How long the old layout's pages stay as they were before they are released or reused (ms). @default 5000 */
  graceMs?: number;
}

export interface ResizeProgress {
  phase: 'moving' | 'releasing';
  done: number;
  total: number;
}

export interface ResizeResult {
  /** A resize a killed resizer left under way was finished first. */
  resumed: boolean;
  from: { pageCount: number; fileSize: number };
  to: { pageCount: number; fileSize: number };
  /** Pages of the old layout moved by this call, and the entries they held. */
  pagesMoved: number;
  entriesMoved: number;
  /** Bytes of the old layout's pages given back to the filesystem (0 where it cannot punch holes). */
  releasedBytes: number;
  ms: number;
}

/** A resize under way ({@link CacheStats.resize}). */
export interface ResizeState {
  fromPages: number;
  toPages: number;
  /** Pages of the old layout moved so far. */
  movedPages: number;
  startedAt: number;
  /** The process that began it, and whether a live process holds the resizer lock (false: it died; the next resize finishes it). */
  pid: number;
  resizerAlive: boolean;
}

/** The file's geometry: the header's page size, slots and key bytes, and the page count and length of its current layout. */
export interface Geometry {
  readonly pageCount: number;
  readonly pageSize: number;
  readonly slotsPerPage: number;
  readonly maxKeyBytes: number;
  readonly fileSize: number;
}

/** Metadata of one entry, from {@link SharedCache.inspect}. */
export interface EntryInfo {
  /** Absolute expiry in ms since the epoch, or `Infinity`. */
  expiresAt: number;
  createdAt: number;
  /** Changes on every write of the key; usable for compare-and-set. */
  version: number;
  priority: Priority;
  /** Serialized size of the value in bytes. */
  size: number;
  /** The entry's last use (read or write; ms since the epoch, to the millisecond). */
  lastUsed: number;
}

/** Reported when a lock held by a dead process was taken over. */
export interface LockRecoveryEvent {
  readonly page: number;
  /** The dead holder's owner id (its OS thread id on Linux, else its pid, in the low 22 bits; thread tag above). */
  readonly owner: number;
  /** The dead holder's pid; for a worker thread on Linux, its OS thread id. */
  readonly pid: number;
}

/** Reported when a page was found inconsistent (a writer died mid-change, or bytes were damaged) and rebuilt. */
export interface RepairEvent {
  readonly page: number;
  /** What was wrong, in words. */
  readonly problems: readonly string[];
  /** Entries dropped because they were torn; each also reaches onRemove with reason 'repaired'. */
  readonly dropped: number;
}

/**
 * Whether a handle's path still leads to the file it maps ({@link SharedCache.pathStatus}):
 * `'same'`; `'deleted'` (nothing there: processes that open the path now fail); `'replaced'`
 * (another file there: processes that open the path now use that one, not this one).
 */
export type PathStatus = 'same' | 'deleted' | 'replaced';
