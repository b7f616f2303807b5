/**
 * sessmap as a @fastify/session store:
 *
 *   import { SessmapFastifyStore } from 'sessmap/fastify-session';
 *   app.register(fastifyCookie);
 *   app.register(fastifySession, { secret, store: new SessmapFastifyStore() });
 *
 * @fastify/session never calls touch; with its default `rolling: true` it does a get and a full
 * set on every request, so set derives the TTL from the cookie each time.
 */
import { isValidSessionId } from './ids.js';
import { resolveStore, ttlFromCookie, type AdapterOptions } from './resolve.js';
import type { SessionStore } from './types.js';

type Callback<T = void> = (err?: unknown, result?: T) => void;
/** @fastify/session types the result as its Session class; what the store hands back is that session's JSON. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type SessionCallback = (err: any, result?: any) => void;

export class SessmapFastifyStore {
  /** The session store underneath: updateSession, the per-user index and typed events are here. */
  readonly ready: Promise<SessionStore>;
  #store: SessionStore | undefined;
  readonly #defaultTtl: number | undefined;

  constructor(options: AdapterOptions = {}) {
    this.#defaultTtl = options.defaultTtl ?? options.idleTimeout;
    this.ready = resolveStore(options);
    this.ready.then((s) => (this.#store = s), () => {});
  }

  get(sessionId: string, callback: SessionCallback): void {
    if (!isValidSessionId(sessionId)) return void process.nextTick(callback, null, null);
    this.#run(async (s) => {
      const r = await s.getSession(sessionId);
      return r === undefined ? null : r.data;
    }, callback);
  }

  set(sessionId: string, session: unknown, callback: Callback): void {
    this.#run(async (s) => {
      // The Session instance serializes to its data (symbols and getters drop out) in the store.
      const data = session as Record<string, unknown>;
      await s.setSession(sessionId, data, { ttl: ttlFromCookie(data.cookie, this.#defaultTtl) });
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
      (v) => process.nextTick(cb, null, v),
      (err: unknown) => process.nextTick(cb, err),
    );
  }
}
