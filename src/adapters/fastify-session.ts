/**
 * sessmap as a @fastify/session store:
 *
 *   import { SessmapFastifyStore } from 'sessmap/fastify-session';
 *   app.register(fastifyCookie);
 *   app.register(fastifySession, { secret, store: new SessmapFastifyStore() });
 *
 * @fastify/session never calls touch; with its default `rolling: true` it sets the whole session
 * at the end of every request, changed or not. Writing that back would undo what other requests
 * (or `updateSession`) changed meanwhile, and bring back sessions destroyed meanwhile. So `get`
 * marks what it hands out with a digest of the data (the `__sessmapRead` field), and `set` of
 * unchanged data only refreshes the cookie of the session as it is now (and nothing, if it is gone).
 */
import { createHash } from 'node:crypto';
import { isValidSessionId } from './ids.js';
import { resolveStore, saveReadSession, ttlFromCookie, validateAdapterOptions, type AdapterOptions } from './resolve.js';
import type { SessionStore } from './types.js';

/** Field carrying the digest of the data as read; never stored. */
export const READ_MARK = '__sessmapRead';

/** @fastify/session types the result as its Session class; what the store hands back is that session's JSON. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type SessionCallback = (err: any, result?: any) => void;
type Callback<T = void> = (err?: unknown, result?: T) => void;

/** Digest of the session's data without its cookie and the mark. */
function digestOf(data: Record<string, unknown>): string {
  const { cookie: _c, [READ_MARK]: _m, ...rest } = data;
  return createHash('sha256').update(JSON.stringify(rest)).digest('base64url');
}

export class SessmapFastifyStore {
  /** The session store underneath: updateSession, the per-user index and typed events are here. */
  readonly ready: Promise<SessionStore>;
  #store: SessionStore | undefined;
  readonly #defaultTtl: number | undefined;

  constructor(options: AdapterOptions = {}) {
    this.#defaultTtl = validateAdapterOptions(options);
    this.ready = resolveStore(options);
    this.ready.then((s) => (this.#store = s), () => {});
  }

  get(sessionId: string, callback: SessionCallback): void {
    if (!isValidSessionId(sessionId)) return void process.nextTick(callback, null, null);
    this.#run(async (s) => {
      const r = await s.getSession(sessionId);
      if (r === undefined) return null;
      const data = r.data as Record<string, unknown>;
      data[READ_MARK] = digestOf(data);
      return data;
    }, callback);
  }

  set(sessionId: string, session: unknown, callback: Callback): void {
    this.#run(async (s) => {
      // The Session instance serializes to its data (symbols and getters drop out).
      const data = JSON.parse(JSON.stringify(session)) as Record<string, unknown>;
      const mark = data[READ_MARK];
      delete data[READ_MARK];
      const ttl = ttlFromCookie(data.cookie, this.#defaultTtl);
      if (typeof mark === 'string' && mark === digestOf(data)) {
        // Unchanged since read: keep whatever the session holds now, with the new cookie.
        await s.updateSession(sessionId, (cur) => ({ ...cur, cookie: data.cookie }), ttl === undefined ? {} : { ttl });
        return;
      }
      // Read by this store (marked) and changed: saved only if it still exists.
      if (typeof mark === 'string') await saveReadSession(s, sessionId, data, ttl === undefined ? {} : { ttl });
      else await s.setSession(sessionId, data, ttl === undefined ? {} : { ttl });
    }, callback);
  }

  destroy(sessionId: string, callback: Callback): void {
    if (!isValidSessionId(sessionId)) return void process.nextTick(callback, null);
    this.#run(async (s) => {
      await s.destroySession(sessionId);
    }, callback);
  }

  #run<T>(op: (s: SessionStore) => Promise<T>, cb: Callback<T>): void {
    const p = this.#store !== undefined ? op(this.#store) : this.ready.then(op);
    p.then(
      (v) => setImmediate(cb, null, v),
      (err: unknown) => setImmediate(cb, err),
    );
  }
}
