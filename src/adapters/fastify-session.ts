/**
 * sessmap as a @fastify/session store:
 *
 *   import { SessmapFastifyStore } from 'sessmap/fastify-session';
 *   app.register(fastifyCookie);
 *   app.register(fastifySession, { secret, store: new SessmapFastifyStore() });
 *
 * @fastify/session never calls touch; with its default `rolling: true` it sets the whole session
 * at the end of every request, changed or not. Writing that back would undo what other requests
 * (or `updateSession`) changed meanwhile, and bring back sessions destroyed meanwhile. So the
 * store tells three saves apart:
 * - a session it handed out, unchanged: only its cookie (and deadline) is refreshed, on the
 *   session as it is now, and nothing at all if it is gone;
 * - a session it handed out, changed: saved only if it still exists (a logout meanwhile stays);
 * - a new session: stored.
 * Nothing of this is kept in the session object, which the app may send to the client as it is
 * (`reply.send(request.session)`): "handed out" is a log of the ids this store read, kept by the
 * store; a session @fastify/session made in this request (a new one, whatever its id: a custom
 * idGenerator may reuse one) is told by its cookie, which carries no `originalExpires` (a restored
 * cookie keeps the stored expiry there). "Unchanged" is @fastify/session's own
 * `session.isModified()`; a caller that saves a plain object (no `isModified`) is taken to have
 * changed it.
 */
import { isValidSessionId } from '../sessions/ids.js';
import { resolveStore, saveReadSession, ttlFromCookie, validateAdapterOptions, type AdapterOptions } from './find-store.js';
import type { SessionStore } from '../sessions/types.js';

/** @fastify/session types the result as its Session class; what the store hands back is that session's JSON. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type SessionCallback = (err: any, result?: any) => void;
type Callback<T = void> = (err?: unknown, result?: T) => void;

/** Session ids whose reads are remembered at most (the least recently read are forgotten first). */
const MAX_READ_IDS = 50_000;

/** A cookie @fastify/session made for a new session: it has an expiry, and no expiry restored from the store. */
function isNewCookie(cookie: unknown): boolean {
  if (cookie === null || typeof cookie !== 'object') return false;
  const c = cookie as { expires?: unknown; originalExpires?: unknown };
  return c.expires !== undefined && c.expires !== null && (c.originalExpires === undefined || c.originalExpires === null);
}

/**
 * The ids this store handed out. A session id is random and new for a new session, so an id found
 * here belongs to a session that existed when it was read. Bounded: an id nobody read during the
 * last MAX_READ_IDS distinct reads is forgotten, and a save of it is then taken for a new
 * session's (a request would have to outlive that many other sessions' reads in one process).
 */
class ReadLog {
  readonly #ids = new Set<string>();

  add(id: string): void {
    if (this.#ids.delete(id)) {
      this.#ids.add(id); // most recent last
      return;
    }
    if (this.#ids.size >= MAX_READ_IDS) this.#ids.delete(this.#ids.values().next().value as string);
    this.#ids.add(id);
  }

  has(id: string): boolean {
    return this.#ids.has(id);
  }
}

export class SessmapFastifyStore {
  /** The session store underneath: updateSession, the per-user index and typed events are here. */
  readonly ready: Promise<SessionStore>;
  #store: SessionStore | undefined;
  readonly #defaultTtl: number | undefined;
  readonly #reads = new ReadLog();

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
      this.#reads.add(sessionId);
      return data;
    }, callback);
  }

  set(sessionId: string, session: unknown, callback: Callback): void {
    this.#run(async (s) => {
      const modified = (session as { isModified?: unknown } | null)?.isModified;
      const unchanged = typeof modified === 'function' && (modified.call(session) as unknown) === false;
      // The Session instance serializes to its data (symbols and getters drop out).
      const data = JSON.parse(JSON.stringify(session)) as Record<string, unknown>;
      const ttl = ttlFromCookie(data.cookie, this.#defaultTtl);
      if (ttl !== undefined && ttl <= 0) {
        // Its cookie has already expired: the session ends instead of being stored.
        await s.destroySession(sessionId);
        return;
      }
      const options = ttl === undefined ? {} : { ttl };
      if (!this.#reads.has(sessionId) || isNewCookie(data.cookie)) {
        await s.setSession(sessionId, data, options);
        return;
      }
      if (unchanged) {
        // Unchanged since read: keep whatever the session holds now, with the new cookie.
        await s.updateSession(sessionId, (cur) => ({ ...cur, cookie: data.cookie }), options);
        return;
      }
      // Read by this store and changed: saved only if it still exists.
      await saveReadSession(s, sessionId, data, options);
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
