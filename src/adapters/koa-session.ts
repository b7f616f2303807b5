/**
 * sessmap as a koa-session external store:
 *
 *   import session from 'koa-session';
 *   import { SessmapKoaStore } from 'sessmap/koa-session';
 *   app.use(session({ store: new SessmapKoaStore(), key: 'sid' }, app));
 *
 * koa-session keeps its own deadline in the data (`_expire`). The store keeps the deadline
 * itself and gives `_expire` back on every get. A save whose data is the same as what this
 * request read (koa-session saves on every request with `rolling`, and passes `changed: false`
 * for any save not caused by a change, forced ones included) only moves the deadline: it never
 * rewrites the data, and never brings back a session destroyed meanwhile.
 */
import { isDeepStrictEqual } from 'node:util';
import { isValidSessionId } from '../sessions/ids.js';
import { resolveStore, saveReadSession, validateAdapterOptions, type AdapterOptions } from './find-store.js';
import type { SessionStore } from '../sessions/types.js';

type KoaSessionJson = Record<string, unknown> & { _expire?: number; _maxAge?: number; _session?: boolean };

/** The data as stored: koa's JSON without the deadline the store keeps. */
function stored(sess: KoaSessionJson): Record<string, unknown> {
  const { _expire: _, ...data } = sess;
  return data;
}

export class SessmapKoaStore {
  /** The session store underneath: updateSession, the per-user index and typed events are here. */
  readonly ready: Promise<SessionStore>;
  readonly #defaultTtl: number | undefined;
  /** What each request read, per key: koa-session passes the same ctx to get and set. */
  readonly #read = new WeakMap<object, { key: string; data: unknown }>();

  constructor(options: AdapterOptions = {}) {
    this.#defaultTtl = validateAdapterOptions(options);
    this.ready = resolveStore(options);
    this.ready.catch(() => {}); // surfaced by the calls that need the store
  }

  async get(key: string, _maxAge?: number | 'session', opts: { rolling?: boolean; ctx?: unknown } = {}): Promise<KoaSessionJson | undefined> {
    if (!isValidSessionId(key)) return undefined;
    const r = await (await this.ready).getSession(key);
    if (r === undefined) return undefined;
    const data = r.data as KoaSessionJson;
    if (typeof opts.ctx === 'object' && opts.ctx !== null) this.#read.set(opts.ctx, { key, data: JSON.parse(JSON.stringify(data)) });
    return data._session === true ? { ...data } : { ...data, _expire: r.expiresAt };
  }

  async set(key: string, sess: KoaSessionJson, maxAge?: number | 'session', opts: { changed?: boolean; rolling?: boolean; ctx?: unknown } = {}): Promise<void> {
    const store = await this.ready;
    // koa-session hands external stores maxAge + 10 s; the session's own maxAge is in the data.
    const own = typeof sess._maxAge === 'number' && sess._maxAge > 0 ? sess._maxAge : typeof maxAge === 'number' && maxAge > 0 ? maxAge : undefined;
    const ttl = own ?? this.#defaultTtl;
    const data = JSON.parse(JSON.stringify(stored(sess))) as Record<string, unknown>;
    const touch = ttl === undefined ? {} : { ttl };
    const read = typeof opts.ctx === 'object' && opts.ctx !== null ? this.#read.get(opts.ctx) : undefined;
    if (read !== undefined && read.key === key) {
      // Same as this request read: only the deadline moves (and a session destroyed meanwhile stays destroyed).
      if (isDeepStrictEqual(read.data, data)) {
        await store.touchSession(key, touch);
        return;
      }
      // Changed by a request that read it: saved only if it still exists (a logout meanwhile stays).
      await saveReadSession(store, key, data, touch);
      return;
    } else if (opts.changed === false) {
      // A save not caused by a change, from a request that did not read through this store: compare with what is stored.
      const cur = await store.getSession(key);
      if (cur !== undefined && isDeepStrictEqual(cur.data, data)) {
        await store.touchSession(key, touch);
        return;
      }
    }
    await store.setSession(key, data, touch);
  }

  async destroy(key: string, _opts?: { ctx?: unknown }): Promise<void> {
    if (!isValidSessionId(key)) return;
    await (await this.ready).destroySession(key);
  }
}
