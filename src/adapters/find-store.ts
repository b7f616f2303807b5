/**
 * How an adapter finds its session store: the one it is given, else the cluster's (in a worker
 * of a primary that ran setupPrimary), else a file of its own (a single process, worker_threads,
 * or unrelated processes sharing `path`). Nothing here loads a backend: the cluster layer loads
 * the one the options choose, with import(), when the store is first needed.
 */
import { isSessmapError, sessmapError } from '../errors.js';
import { validateTimeout } from '../util/validate.js';
import type { SessionData, SessionStore, SessionWriteOptions } from '../sessions/types.js';
import { attachWorker } from '../cluster/worker.js';
import { composeStandalone } from '../cluster/compose.js';
import type { SessionServiceOptions } from '../cluster/options.js';
import { CONFIG_ENV } from '../cluster/worker-config.js';

/**
 * Saves a session the request read. If it is gone since (a logout in another request, "log out
 * everywhere", expiry), nothing is written and the save counts as done: writing it back would
 * undo the logout.
 */
export async function saveReadSession(store: SessionStore, id: string, data: SessionData, options: Omit<SessionWriteOptions, 'ifExists'>): Promise<void> {
  try {
    await store.setSession(id, data, { ...options, ifExists: true });
  } catch (err) {
    if (!isSessmapError(err, 'SESSMAP_ERR_SESSION_GONE')) throw err;
  }
}

/**
 * An adapter's options: its own (`store`, `defaultTtl`) and, for the store it opens when none is
 * given, the session and backend options of openSessionStore / attachWorker.
 */
export interface AdapterOptions extends SessionServiceOptions {
  /** A store to use (from attachWorker, openSessionStore, or another backend). */
  store?: SessionStore | Promise<SessionStore>;
  /** TTL in ms for sessions whose cookie has no expiry (browser-session cookies). @default idleTimeout */
  defaultTtl?: number;
}

/** Checks the adapter's own options (the rest are checked by the service); returns defaultTtl or idleTimeout. */
export function validateAdapterOptions(o: AdapterOptions): number | undefined {
  if (o === null || typeof o !== 'object') throw sessmapError('SESSMAP_ERR_INVALID_OPTION', 'adapter options must be an object', { option: 'options' });
  const ttl = o.defaultTtl ?? o.idleTimeout;
  if (ttl !== undefined) validateTimeout(o.defaultTtl !== undefined ? 'defaultTtl' : 'idleTimeout', ttl);
  return ttl;
}

export function resolveStore(o: AdapterOptions): Promise<SessionStore> {
  if (o.store !== undefined) return Promise.resolve(o.store);
  const { store: _s, defaultTtl: _d, ...service } = o;
  // In a worker of a primary that ran setupPrimary: always the cluster's file (events forwarded,
  // options checked against the primary's, a `path` included). A file of its own there is
  // `store: openSessionStore({ path })`.
  if (process.env[CONFIG_ENV] !== undefined) return attachWorker(service);
  return composeStandalone(service);
}

/**
 * The TTL a session's cookie asks for: the ms until `expires` (0 or less when it has already
 * expired: the caller destroys the session instead of storing it), else `maxAge`, else the default.
 */
export function ttlFromCookie(cookie: unknown, fallback: number | undefined): number | undefined {
  if (cookie !== null && typeof cookie === 'object') {
    const c = cookie as { expires?: unknown; maxAge?: unknown; originalMaxAge?: unknown };
    if (c.expires !== undefined && c.expires !== null && c.expires !== false) {
      const t = new Date(c.expires as string | number | Date).getTime();
      if (Number.isFinite(t)) return t - Date.now();
    }
    const m = typeof c.maxAge === 'number' ? c.maxAge : typeof c.originalMaxAge === 'number' ? c.originalMaxAge : undefined;
    if (m !== undefined && m > 0) return m;
  }
  return fallback;
}
