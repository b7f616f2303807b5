/**
 * The session service's public types, shared by every backend (the mmap file now, Redis next)
 * and every framework adapter. Durations are ms; times are ms since the epoch.
 */
import type { EventEmitter } from 'eventemitter3';
import type { SessionEvents } from '../events/types.js';

/** Session data: any JSON-serializable object. */
export type SessionData = Record<string, unknown>;

export interface SessionRecord<D = SessionData> {
  readonly id: string;
  readonly data: D;
  readonly createdAt: number;
  /** Idle deadline: the session ends here unless touched or written before. */
  readonly expiresAt: number;
  /** Absolute deadline (Infinity when none): no touch or write moves the session past it. */
  readonly absoluteExpiresAt: number;
  /** Changes on every write of the data (not on touch); for `ifVersion`. */
  readonly version: number;
  readonly userId: string | undefined;
}

export interface SessionWriteOptions {
  /** Idle timeout of this session in ms (default: the service's idleTimeout). */
  ttl?: number;
  /** Refuse the write with SESSMAP_ERR_VERSION_CONFLICT unless the stored version is this one. */
  ifVersion?: number;
  /**
   * Write only over a stored session: when it is gone (destroyed, expired or evicted since the
   * caller read it), write nothing and fail with SESSMAP_ERR_SESSION_GONE. For saving a session a
   * request read, so that a logout while the request ran is not undone by its save.
   */
  ifExists?: boolean;
  /**
   * The user the session belongs to, for the per-user index and eviction protection. `null`
   * detaches it from its user. Default: kept from the stored session, or `userIdOf(data)`.
   */
  userId?: string | null;
}

/** The typed, cluster-wide event emitter. */
export type SessionEventEmitter = EventEmitter<SessionEvents>;

/** What apps and adapters use, whatever the backend. All methods validate ids first. */
export interface SessionStore<D = SessionData> {
  getSession(id: string): Promise<SessionRecord<D> | undefined>;
  /** Creates or replaces a session's data; keeps its createdAt and absolute deadline. */
  setSession(id: string, data: D, options?: SessionWriteOptions): Promise<SessionRecord<D>>;
  /** A new session with a fresh id of 192 random bits. */
  createSession(data: D, options?: Omit<SessionWriteOptions, 'ifVersion' | 'ifExists'>): Promise<SessionRecord<D>>;
  /** Slides the idle deadline (never past the absolute one) without rewriting the data. */
  touchSession(id: string, options?: { ttl?: number }): Promise<boolean>;
  destroySession(id: string): Promise<boolean>;
  /** Read-modify-write under the lock; `fn` returning undefined destroys the session. Undefined when absent. */
  updateSession(id: string, fn: (data: D) => D | undefined, options?: Omit<SessionWriteOptions, 'ifVersion' | 'ifExists'>): Promise<SessionRecord<D> | undefined>;
  /** Moves the data to a new id; the old id is gone everywhere at once. Undefined when absent. */
  regenerateSession(id: string): Promise<SessionRecord<D> | undefined>;
  sessionsOf(userId: string): Promise<SessionRecord<D>[]>;
  /** "Log out everywhere": destroys every session of the user; returns how many. */
  destroySessionsOf(userId: string): Promise<number>;
  /** Number of live sessions. */
  countSessions(): Promise<number>;
  /** Every live session (page by page; for admin views and the express-session `all`). */
  allSessions(): Promise<SessionRecord<D>[]>;
  /** Destroys every session. */
  clearSessions(): Promise<void>;
  readonly events: SessionEventEmitter;
  /** The keyed hash used for `sid` in events and logs. */
  hashId(id: string): string;
  /**
   * What listings (allSessions, sessionsOf) call the session with this id: the id itself on the
   * mmap file; on Redis with hashed keys, where no id is stored, its handle (`~` + 32 hex), which
   * destroySession takes. For an admin view that marks the session of the request it serves.
   */
  handleOf(id: string): string;
  /** The backend's own counts in this process, when it keeps any (Redis's near-cache: nearHits, nearMisses, nearInvalidations, nearFlushes). */
  backendStats?(): Record<string, number> | undefined;
  /** What the backend counts in this process for `sessmap/metrics` (Redis: command errors and latencies, the near-cache); undefined on the file. */
  backendMetrics?(): BackendMetrics | undefined;
  close(): Promise<void>;
}

/**
 * What a backend on a server (Redis) counts in this process, for `sessmap/metrics`: its
 * commands' failures and latencies, and its near-cache. Counters only grow while the process
 * runs; every figure is this process's own.
 */
export interface BackendMetrics {
  /**
   * Commands that failed, by what the caller got: `reply` (the server answered with an error),
   * `timeout` (no reply within commandTimeout), `unavailable` (no connection, the breaker open,
   * too many in flight, the server loading or failing over).
   */
  readonly commandErrors: Readonly<Record<'reply' | 'timeout' | 'unavailable', number>>;
  /** How long the commands that got a reply (an error reply included) took, in seconds. */
  readonly commandSeconds: HistogramSnapshot;
  /** The near-cache's counts, when there is one (reads it answered or not, copies invalidated, times emptied). */
  readonly nearCache?: { readonly hits: number; readonly misses: number; readonly invalidations: number; readonly flushes: number };
}

/** Observations in fixed buckets. */
export interface HistogramSnapshot {
  /** Upper bounds of the buckets, ascending; one more bucket, above the last bound (+Inf), follows. */
  readonly bounds: readonly number[];
  /** Observations per bucket, not cumulative: `bounds.length + 1` of them. */
  readonly counts: readonly number[];
  readonly sum: number;
  readonly count: number;
}
