/**
 * The backend interface: the few primitives the session service needs from a store, and how a
 * backend is opened. The mmap file implements it (backends/mmap); a Redis backend for multi-host
 * deployments implements the same, and neither the service nor the framework adapters can tell
 * which one they have. A backend speaks of sessions by id: its key scheme (the mmap backend's
 * `s:` and `u:` keys, a Redis prefix and hash tags) stays inside it, and what it removes by itself
 * comes out of its feed as session ids.
 */
import { sessmapError } from '../errors.js';
import type { Logger } from '../events/logger.js';
import type { SessionEvents } from '../events/types.js';
import type { NormalisedSessionOptions } from './options.js';
import type { BackendMetrics } from './types.js';

/** A session as a backend stores it (short field names: it is serialized on every write). */
export interface StoredSession {
  /** data */
  d: unknown;
  /** created at, ms */
  c: number;
  /** absolute deadline, ms (0 = none) */
  a: number;
  /** idle timeout, ms */
  i: number;
  /** user id */
  u?: string;
  /** data version, +1 on every write */
  v: number;
}

/** Leave the stored session as it is (from a modify callback). */
export const KEEP: unique symbol = Symbol('sessmap.keep');

/** A removal the backend made on its own (expiry, eviction): the service turns it into an event. */
export interface BackendRemoval {
  /** The session's id, or the handle the backend gave it in listings (hashed Redis keys). */
  id: string;
  reason: 'expired' | 'evicted';
  /** For evictions: ms the session still had (Infinity: no expiry). */
  ttlLeft?: number;
  /** When it was due to expire, and what it held (when the backend knows). */
  expiresAt?: number;
  /** What it held, when the backend knows (at least its user `u` and absolute deadline `a`). */
  session?: Pick<StoredSession, 'a' | 'u'> & Partial<StoredSession>;
  /**
   * Every host's backend reports this removal itself (Redis keyspace notifications reach every
   * host): the service emits it here only, never relays it to the other hosts.
   */
  heardEverywhere?: boolean;
}

/**
 * What a backend reports by itself, by session id. Removals now; a near-cache's invalidations
 * ("changed on another host") join this union as another `reason`, and listeners ignore the
 * reasons they do not know.
 */
export type BackendChange = BackendRemoval;

/** How a write (setSession, createSession) decides the user of the session it writes. */
export type WriteUser = { mode: 'set'; id: string } | { mode: 'clear' } | { mode: 'auto'; derived: string | undefined };

/**
 * A write described, not computed: the backend applies it to what it has stored in one atomic
 * step (the mmap file under the page lock, Redis in one script), so that a write costs one round
 * trip. {@link applyWrite} is what it means.
 */
export interface WriteSpec {
  data: unknown;
  /** The idle timeout to set; undefined keeps the stored one (a new session: `idleTimeout`). */
  ttl: number | undefined;
  user: WriteUser;
  /** Fail with SESSMAP_ERR_VERSION_CONFLICT when a session is stored (a freshly generated id). */
  mustBeNew: boolean;
  /** Fail with SESSMAP_ERR_SESSION_GONE when none is stored. */
  ifExists: boolean;
  /** Fail with SESSMAP_ERR_VERSION_CONFLICT unless the stored version is this one. */
  ifVersion: number | undefined;
  /** The service's timeouts, for a new session. */
  idleTimeout: number;
  /** 0 = none */
  absoluteTimeout: number;
}

export interface WriteResult {
  /** What was stored before (its user and version), undefined when nothing was. */
  before: { u?: string; v: number } | undefined;
  session: StoredSession;
  expiresAt: number;
}

export interface SessionBackend {
  /** The stored session and its current expiry (ms since the epoch). */
  read(id: string): Promise<{ session: StoredSession; expiresAt: number } | undefined>;
  /**
   * Atomic read-modify-write of one session: `fn` sees the stored session (or undefined) and
   * returns the new one, `undefined` to delete it, or KEEP. Its expiry is `expiryOf(next, now)`.
   * Resolves to what `fn` saw and the expiry the session has afterwards.
   */
  modify(id: string, now: number, fn: (current: StoredSession | undefined) => StoredSession | undefined | typeof KEEP): Promise<{ before: StoredSession | undefined; expiresAt: number }>;
  /** Applies `spec` to the stored session in one atomic step (see {@link applyWrite}). */
  write(id: string, now: number, spec: WriteSpec): Promise<WriteResult>;
  /** Deletes a live session; resolves to what it held (its user), undefined when there was none. */
  remove(id: string, now: number): Promise<{ u?: string } | undefined>;
  /**
   * Sets a session's expiry (ms since the epoch) without rewriting it; false if absent. When the
   * stored expiry is already within `slack` ms of it, nothing is written (true). `now` is the
   * caller's clock (default Date.now()).
   */
  extend(id: string, expiresAt: number, slack?: number, now?: number): Promise<boolean>;
  /** `absoluteDeadline`: the session's `a` (0 none), after which the entry may be dropped. */
  indexAdd(userId: string, id: string, absoluteDeadline?: number): Promise<void>;
  indexRemove(userId: string, id: string): Promise<void>;
  indexList(userId: string): Promise<string[]>;
  count(): Promise<number>;
  list(): Promise<Array<[string, StoredSession]>>;
  clear(): Promise<void>;
  /** Keyed digest for logs and events, the same in every process of the deployment. */
  digest(text: string): string;
  /** The `sid` of events about a session: digest('sid:' + id), for its id or its handle. */
  sid(id: string): string;
  /** What listings and the feed call the session with this id (its handle; the id itself by default). */
  handle?(id: string): string;
  /** The backend's own counts in this process (the Redis near-cache's hits, misses, invalidations, flushes). */
  counts?(): Record<string, number> | undefined;
  /** What the backend counts in this process for `sessmap/metrics` (Redis: its commands, its near-cache). */
  metrics?(): BackendMetrics | undefined;
  /**
   * Whether the backend's calls wait for a network reply (Redis): their results arrive from I/O
   * already, and a callback adapter hands them on at once rather than after a turn of the loop.
   */
  readonly remote?: boolean;
  /**
   * Whether `id` is a handle this backend gives in listings rather than a session id. The service
   * takes handles in destroySession and its own listings only: a read, write or touch by handle
   * finds nothing and writes nothing, so a handle is never a way into a session.
   */
  isHandle?(id: string): boolean;
  /**
   * An event this host caused, for the other hosts of the deployment (a backend shared between
   * hosts relays it; they emit it once each). Absent: the backend is one host's.
   */
  share?<K extends keyof SessionEvents>(name: K, args: SessionEvents[K]): void;
  /**
   * The feed of what the backend removed (and later invalidated) by itself, by session id. One
   * listener: the service that owns the backend. Returns the function that stops the feed.
   */
  subscribe(listener: (change: BackendChange) => void): () => void;
  /**
   * A process of this host ended (a cluster worker exited): release what it held (the mmap
   * backend's page locks, repaired at once). Returns how many things were released.
   */
  processExited?(pid: number): number;
  /** Stops the backend's own timers (sweeper, watchers) and releases its resources. */
  close(): Promise<void>;
}

/** Where a backend runs: the cluster primary, a cluster worker, or a process on its own. */
export type BackendRole = 'primary' | 'worker' | 'standalone';

/** What a backend is given when it is opened, besides its own options. */
export interface BackendContext {
  readonly role: BackendRole;
  /** The session options (timeouts, eviction policy, sweep interval, clock). */
  readonly sessions: NormalisedSessionOptions;
  /** Backend-level events (lockRecovered, repaired, error) go here; session events come from the service. */
  readonly emit: Emit;
  /**
   * Emits in this process only: neither forwarded to a cluster primary nor relayed to other
   * hosts (what other hosts sent, the link's own state).
   */
  readonly emitHere: Emit;
  /**
   * An error nobody called for (a file deleted under the service): one error-level log line with
   * `fields`, and an `error` event to whoever listens (never logged a second time as unheard).
   */
  readonly report: (err: Error, fields?: Record<string, unknown>) => void;
  /** The process's logger for this role. */
  readonly logger: Logger;
}

/** Sends an event to wherever the owner wants it. */
export type Emit = <K extends keyof SessionEvents>(name: K, ...args: SessionEvents[K]) => void;

/** JSON, as a backend's cluster-wide options cross to a worker through the environment. */
export type WorkerConfigValue = string | number | boolean | null;

/** An option a worker named that must agree with the primary's. */
export interface ClusterWideOption {
  /** The option as the worker named it (`maxSessions` for a size given that way). */
  option: string;
  /** The key of the backend's worker config it is compared with. */
  key: string;
  /** The worker's value, normalised as the primary's was. */
  value: unknown;
}

/**
 * A backend as the composition sees it: how its options are read from the flat options object,
 * how it is opened, and what of it crosses to cluster workers. `B` is the backend it opens, `N`
 * its normalised options. `open` may be synchronous (the mmap file) or not (a network server).
 */
export interface BackendDriver<B extends SessionBackend = SessionBackend, N = unknown> {
  readonly name: string;
  /** Validates this backend's options among the flat options `o` (other keys are left alone). */
  normalise(o: Readonly<Record<string, unknown>>): N;
  open(options: N, ctx: BackendContext): B | Promise<B>;
  /** What workers need to reach the same store: JSON only (it goes through the environment). */
  workerConfig(options: N, backend: B): Record<string, WorkerConfigValue>;
  /** The cluster-wide options a worker gave, normalised: each must equal `config[key]`. */
  clusterWide(given: Readonly<Record<string, unknown>>): ClusterWideOption[];
  /** The options a worker opens the backend with: the primary's config, and its own per-process ones. */
  workerOptions(config: Readonly<Record<string, WorkerConfigValue>>, given: Readonly<Record<string, unknown>>): N;
  /** A line for the log when the backend is ready (where it is, how large). */
  describe(options: N, backend: B): Record<string, unknown>;
}

/**
 * What a write means, on what is stored (`cur`) at `now`: the new session, or a coded error
 * (nothing written). The mmap backend runs it under the page lock; the Redis backend's script is
 * the same steps in Lua (backends/redis/scripts.ts), and the backend contract checks both.
 */
export function applyWrite(cur: StoredSession | undefined, spec: WriteSpec, now: number): StoredSession {
  if (spec.mustBeNew && cur !== undefined) throw sessmapError('SESSMAP_ERR_VERSION_CONFLICT', 'a freshly generated session id is already in use');
  if (spec.ifExists && cur === undefined) throw sessmapError('SESSMAP_ERR_SESSION_GONE', 'the session was destroyed, expired or evicted since it was read; nothing was written');
  if (spec.ifVersion !== undefined && (cur === undefined || cur.v !== spec.ifVersion)) {
    throw sessmapError('SESSMAP_ERR_VERSION_CONFLICT', `session is at version ${cur?.v ?? 'none'}, not ${spec.ifVersion}`, { expected: spec.ifVersion, actual: cur?.v });
  }
  const u = spec.user;
  const userId = u.mode === 'clear' ? undefined : u.mode === 'set' ? u.id : cur?.u ?? u.derived;
  const next: StoredSession = {
    d: spec.data,
    c: cur?.c ?? now,
    a: cur !== undefined ? cur.a : spec.absoluteTimeout > 0 ? now + spec.absoluteTimeout : 0,
    i: spec.ttl ?? cur?.i ?? spec.idleTimeout,
    v: (cur?.v ?? 0) + 1,
  };
  if (userId !== undefined) next.u = userId;
  return next;
}

/** When a session used at `now` ends: the idle deadline, capped by the absolute one. */
export function expiryOf(s: StoredSession, now: number): number {
  return s.a === 0 ? now + s.i : Math.min(now + s.i, s.a);
}

