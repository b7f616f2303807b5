/**
 * sessmap as an express-session store:
 *
 *   import session from 'express-session';
 *   import { SessmapStore } from 'sessmap/express-session';
 *   app.use(session({ store: new SessmapStore(), secret, resave: false, saveUninitialized: false }));
 *
 * In a cluster worker it attaches to the primary's file; elsewhere it opens `path`. `touch`
 * (which express-session calls on every request that does not change the session) moves the
 * deadline in place and never rewrites the data. Every method takes an optional callback, called
 * once; without one it returns a promise (as connect-redis does: `await store.get(id)`), and a
 * failure of such a call is also emitted as 'error' when the store has a listener.
 */
import session from 'express-session';
import type * as TE from 'typed-emitter';

type TypedEmitter<E extends TE.EventMap> = TE.default<E>;
import { checkSessionId, isValidSessionId } from '../sessions/ids.js';
import { resolveStore, saveReadSession, ttlFromCookie, validateAdapterOptions, type AdapterOptions } from './find-store.js';
import type { SessionData as StoreData, SessionStore } from '../sessions/types.js';

/** A node-style callback, as express-session passes them. */
export type StoreCallback<T = void> = (err?: unknown, result?: T) => void;

/** Events of the store (express-session listens to `connect` and `disconnect`). */
export type SessmapStoreEvents = {
  connect: () => void;
  disconnect: () => void;
  error: (err: Error) => void;
};

type Request = Parameters<session.Store['createSession']>[0];
type Generate = (req: Request) => void;

/** A counter of event-loop turns, moved on by one setImmediate per turn in which a call began. */
let turns = 0;
let bumping = false;
function loopTurn(): number {
  if (!bumping) {
    bumping = true;
    setImmediate(() => {
      bumping = false;
      turns++;
    });
  }
  return turns;
}

const TypedStore = session.Store as unknown as new () => session.Store & TypedEmitter<SessmapStoreEvents>;

export class SessmapStore extends TypedStore {
  /** The session store underneath: updateSession, the per-user index and typed events are here. */
  readonly ready: Promise<SessionStore>;
  #store: SessionStore | undefined;
  readonly #defaultTtl: number | undefined;
  /** The Session objects express-session built from what this store read (see createSession). */
  readonly #read = new WeakSet<object>();
  #generate: Generate | undefined;

  constructor(options: AdapterOptions = {}) {
    super();
    this.#defaultTtl = validateAdapterOptions(options);
    // express-session assigns `store.generate` (which calls the app's genid). Every id it makes
    // is checked as it is made: one the store cannot hold then fails the request that made it
    // (express-session runs generate where a throw reaches `next`), instead of a response
    // without the session that the request believes it saved.
    Object.defineProperty(this, 'generate', {
      configurable: true,
      enumerable: true,
      get: () => this.#generate,
      set: (fn: Generate | undefined) => {
        this.#generate =
          typeof fn !== 'function'
            ? fn
            : (req: Request) => {
                fn(req);
                checkSessionId(req.sessionID);
              };
      },
    });
    this.ready = resolveStore(options);
    this.ready.then(
      (s) => {
        this.#store = s;
        this.emit('connect');
        // A backend that can go away (Redis): express-session serves requests without a session
        // while the store is disconnected (req.session undefined: answer 503), and with one again
        // once it is connected.
        s.events.on('backendUnavailable', () => this.emit('disconnect'));
        s.events.on('backendAvailable', () => this.emit('connect'));
      },
      (err: Error) => {
        this.emit('disconnect');
        if (this.listenerCount('error') > 0) this.emit('error', err);
      },
    );
  }

  /** The session (a fresh object, with its cookie), or null. */
  override get(sid: string): Promise<session.SessionData | null>;
  override get(sid: string, cb: StoreCallback<session.SessionData | null>): void;
  override get(sid: string, cb?: StoreCallback<session.SessionData | null>): Promise<session.SessionData | null> | void {
    // No session can be stored under an id that is not one: nothing to ask the store.
    if (!isValidSessionId(sid)) return this.#done(null, cb);
    return this.#run(async (s) => {
      const r = await s.getSession(sid);
      // Decoded from the store on every get: already a fresh object, owned by the caller.
      return r === undefined ? null : (r.data as unknown as session.SessionData);
    }, cb);
  }

  /**
   * express-session turns every session this store hands out into its Session object here, and
   * later saves that same object with `set`: remembering it tells a save of a session that was read
   * (which must not recreate it if it was destroyed meanwhile) from the first save of a new one.
   */
  override createSession(req: Request, data: session.SessionData): ReturnType<session.Store['createSession']> {
    const s = super.createSession(req, data);
    this.#read.add(s);
    return s;
  }

  /**
   * Stores the session until its cookie expires (the store's default TTL for a browser-session
   * cookie). A session whose cookie has already expired is destroyed instead, as connect-redis
   * does: it is not stored, and not counted by `length` or `all`.
   */
  override set(sid: string, sess: session.SessionData): Promise<void>;
  override set(sid: string, sess: session.SessionData, cb: StoreCallback | undefined): void;
  override set(sid: string, sess: session.SessionData, cb?: StoreCallback): Promise<void> | void {
    return this.#run(async (s) => {
      const ttl = ttlFromCookie(sess.cookie, this.#defaultTtl);
      if (ttl !== undefined && ttl <= 0) {
        await s.destroySession(sid);
        return;
      }
      // Serialized by the store (Cookie's toJSON included); no copy needed here.
      const options = ttl === undefined ? {} : { ttl };
      if (this.#read.has(sess)) await saveReadSession(s, sid, sess as unknown as StoreData, options);
      else await s.setSession(sid, sess as unknown as StoreData, options);
    }, cb);
  }

  override destroy(sid: string): Promise<void>;
  override destroy(sid: string, cb: StoreCallback | undefined): void;
  override destroy(sid: string, cb?: StoreCallback): Promise<void> | void {
    if (!isValidSessionId(sid)) return this.#done(undefined, cb);
    return this.#run(async (s) => {
      await s.destroySession(sid);
    }, cb);
  }

  /** Moves the deadline (from the cookie) without rewriting the data; never revives a session. */
  override touch(sid: string, sess: session.SessionData): Promise<void>;
  override touch(sid: string, sess: session.SessionData, cb: StoreCallback | undefined): void;
  override touch(sid: string, sess: session.SessionData, cb?: StoreCallback): Promise<void> | void {
    // A touch the store knows is done (the session was just read, its deadline within the slack):
    // the callback at once, so that express-session writes the response in one piece (one write
    // to the socket instead of its head now and its last byte after the callback).
    const store = this.#store as (SessionStore & { touchIsCurrent?(id: string, ttl: number): boolean }) | undefined;
    if (cb !== undefined && typeof store?.touchIsCurrent === 'function' && isValidSessionId(sid)) {
      const ttl = ttlFromCookie(sess.cookie, this.#defaultTtl);
      if (ttl !== undefined && ttl > 0 && store.touchIsCurrent(sid, ttl)) {
        cb();
        return;
      }
    }
    return this.#run(async (s) => {
      const ttl = ttlFromCookie(sess.cookie, this.#defaultTtl);
      if (ttl !== undefined && ttl <= 0) await s.destroySession(sid);
      else await s.touchSession(sid, ttl === undefined ? {} : { ttl });
    }, cb);
  }

  /** Every live session, keyed by id (like MemoryStore's). */
  override all(): Promise<Record<string, session.SessionData>>;
  override all(cb: StoreCallback<Record<string, session.SessionData>>): void;
  override all(cb?: StoreCallback<Record<string, session.SessionData>>): Promise<Record<string, session.SessionData>> | void {
    return this.#run(async (s) => {
      const out: Record<string, session.SessionData> = {};
      for (const r of await s.allSessions()) out[r.id] = r.data as unknown as session.SessionData;
      return out;
    }, cb);
  }

  override length(): Promise<number>;
  override length(cb: StoreCallback<number>): void;
  override length(cb?: StoreCallback<number>): Promise<number> | void {
    return this.#run((s) => s.countSessions(), cb);
  }

  override clear(): Promise<void>;
  override clear(cb: StoreCallback | undefined): void;
  override clear(cb?: StoreCallback): Promise<void> | void {
    return this.#run((s) => s.clearSessions(), cb);
  }

  /**
   * express-session's own regenerate, with the new id's check delivered to `fn`: its generate
   * runs inside this store's destroy callback, where a throw would reach no one.
   */
  override regenerate(req: Request, fn: (err?: unknown) => void): void {
    this.destroy(req.sessionID, (err) => {
      try {
        if (this.#generate === undefined) throw new TypeError('regenerate needs the express-session middleware, which gives the store its generate()');
        this.#generate(req);
      } catch (e) {
        fn(e);
        return;
      }
      fn(err);
    });
  }

  /**
   * Runs `op` on the store once it is ready. With a callback, it is called once, outside any try,
   * from setImmediate (as MemoryStore does: with process.nextTick the request's whole remaining
   * work ran ahead of pending I/O, which cost ~15% throughput over HTTP), or, for a result that
   * came from the network (Redis: a later turn of the loop), from process.nextTick: it arrives
   * from I/O already.
   * Without one, the promise is returned.
   */
  #run<T>(op: (s: SessionStore<StoreData>) => Promise<T>, cb: StoreCallback<T> | undefined): Promise<T> | void {
    const p = this.#store !== undefined ? op(this.#store) : this.ready.then(op);
    if (cb === undefined) {
      // The caller's promise still rejects; this handler only keeps a call nobody awaits (a bare
      // `req.session.destroy()`) from ending the process as an unhandled rejection.
      p.catch((err: unknown) => this.#report(err));
      return p;
    }
    // A result that came from the network (a later turn of the event loop) is handed on now, next
    // tick, still outside the promise; one that did not (the file, a near-cache hit) after the
    // pending I/O, from setImmediate.
    const started = loopTurn();
    const later = (): ((fn: () => void) => void) => (loopTurn() !== started ? process.nextTick : setImmediate);
    p.then(
      (v) => later()(() => cb(null, v)),
      (err: unknown) => later()(() => cb(err)),
    );
  }

  /** A failure of a call made without a callback, for the store's 'error' listeners. */
  #report(err: unknown): void {
    if (this.listenerCount('error') > 0) this.emit('error', err as Error);
  }

  /** An answer known without the store. */
  #done<T>(value: T, cb: StoreCallback<T> | undefined): Promise<T> | void {
    if (cb === undefined) return Promise.resolve(value);
    setImmediate(() => cb(null, value));
  }
}
