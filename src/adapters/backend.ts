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
}

export interface SessionBackend {
  /** The stored session and its current expiry (ms since the epoch). */
  read(id: string): Promise<{ session: StoredSession; expiresAt: number } | undefined>;
  /**
   * Atomic read-modify-write of one session: `fn` sees the stored session (or undefined) and
   * returns the new one, `undefined` to delete it, or KEEP. Its expiry is derived from the new
   * session's deadlines. Resolves to what `fn` saw and the expiry the session has afterwards.
   */
  modify(id: string, fn: (current: StoredSession | undefined) => StoredSession | undefined | typeof KEEP): Promise<{ before: StoredSession | undefined; expiresAt: number }>;
  /** Sets a session's expiry to `ttl` ms from now without rewriting it; false if absent. */
  extend(id: string, ttl: number): Promise<boolean>;
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

/** Milliseconds the session may still live given its deadlines (<= 0: it is over). */
export function ttlOf(s: StoredSession, now: number): number {
  return s.a === 0 ? s.i : Math.min(s.i, s.a - now);
}
