/**
 * sessmap as a koa-session external store:
 *
 *   import session from 'koa-session';
 *   import { SessmapKoaStore } from 'sessmap/koa-session';
 *   app.use(session({ store: new SessmapKoaStore(), key: 'sid' }, app));
 *
 * koa-session keeps its own deadline in the data (`_expire`). The store keeps the deadline
 * itself and gives `_expire` back on every get, so a save with `changed: false` only moves the
 * deadline (no data is rewritten) and koa-session still sees the moved one.
 */
import { isValidSessionId } from './ids.js';
import { resolveStore, type AdapterOptions } from './resolve.js';
import type { SessionStore } from './types.js';

type KoaSessionJson = Record<string, unknown> & { _expire?: number; _maxAge?: number; _session?: boolean };

export class SessmapKoaStore {
  /** The session store underneath: updateSession, the per-user index and typed events are here. */
  readonly ready: Promise<SessionStore>;
  readonly #defaultTtl: number | undefined;

  constructor(options: AdapterOptions = {}) {
    this.#defaultTtl = options.defaultTtl ?? options.idleTimeout;
    this.ready = resolveStore(options);
  }

  async get(key: string, _maxAge?: number | 'session', _opts?: { rolling?: boolean; ctx?: unknown }): Promise<KoaSessionJson | undefined> {
    if (!isValidSessionId(key)) return undefined;
    const r = await (await this.ready).getSession(key);
    if (r === undefined) return undefined;
    const data = { ...(r.data as KoaSessionJson) };
    if (data._session !== true) data._expire = r.expiresAt;
    return data;
  }

  async set(key: string, sess: KoaSessionJson, maxAge?: number | 'session', opts: { changed?: boolean; rolling?: boolean; ctx?: unknown } = {}): Promise<void> {
    const store = await this.ready;
    const ttl = typeof maxAge === 'number' && maxAge > 0 ? maxAge : this.#defaultTtl;
    if (opts.changed === false && (await store.touchSession(key, ttl === undefined ? {} : { ttl }))) return;
    const { _expire: _, ...data } = sess;
    await store.setSession(key, JSON.parse(JSON.stringify(data)) as Record<string, unknown>, ttl === undefined ? {} : { ttl });
  }

  async destroy(key: string, _opts?: { ctx?: unknown }): Promise<void> {
    if (!isValidSessionId(key)) return;
    await (await this.ready).destroySession(key);
  }
}
