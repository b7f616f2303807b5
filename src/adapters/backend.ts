/**
 * The backend interface: the few primitives the session service needs from a store. The mmap
 * file implements it (mmap-backend.ts); a Redis backend for multi-host deployments implements the
 * same, and neither the service nor the framework adapters can tell which one they have.
 */

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
  id: string;
  reason: 'expired' | 'evicted';
  /** For evictions: ms the session still had (Infinity: no expiry). */
  ttlLeft?: number;
  /** When it was due to expire, and what it held (when the backend knows). */
  expiresAt?: number;
  session?: StoredSession;
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
  /**
   * Sets a session's expiry (ms since the epoch) without rewriting it; false if absent. When the
   * stored expiry is already within `slack` ms of it, nothing is written (true).
   */
  extend(id: string, expiresAt: number, slack?: number): Promise<boolean>;
  indexAdd(userId: string, id: string): Promise<void>;
  indexRemove(userId: string, id: string): Promise<void>;
  indexList(userId: string): Promise<string[]>;
  count(): Promise<number>;
  list(): Promise<Array<[string, StoredSession]>>;
  clear(): Promise<void>;
  /** Keyed digest for logs and events, the same in every process of the deployment. */
  digest(text: string): string;
  close(): Promise<void>;
}

/** When a session used at `now` ends: the idle deadline, capped by the absolute one. */
export function expiryOf(s: StoredSession, now: number): number {
  return s.a === 0 ? now + s.i : Math.min(now + s.i, s.a);
}
