/**
 * sessmap as an express-session store:
 *
 *   import session from 'express-session';
 *   import { SessmapStore } from 'sessmap/express-session';
 *   app.use(session({ store: new SessmapStore(), secret, resave: false, saveUninitialized: false }));
 *
 * In a cluster worker it attaches to the primary's file; elsewhere it opens `path`. `touch`
 * (which express-session calls on every request that does not change the session) moves the
 * deadline in place and never rewrites the data.
 */
import session from 'express-session';
import type * as TE from 'typed-emitter';

type TypedEmitter<E extends TE.EventMap> = TE.default<E>;
import { isValidSessionId } from './ids.js';
import { resolveStore, saveReadSession, ttlFromCookie, validateAdapterOptions, type AdapterOptions } from './resolve.js';
import type { SessionData as StoreData, SessionStore } from './types.js';

type Callback<T = void> = (err?: unknown, result?: T) => void;

/** Events of the store (express-session listens to `connect` and `disconnect`). */
export type SessmapStoreEvents = {
  connect: () => void;
  disconnect: () => void;
  error: (err: Error) => void;
};

const TypedStore = session.Store as unknown as new () => session.Store & TypedEmitter<SessmapStoreEvents>;

export class SessmapStore extends TypedStore {
  /** The session store underneath: updateSession, the per-user index and typed events are here. */
  readonly ready: Promise<SessionStore>;
  #store: SessionStore | undefined;
  readonly #defaultTtl: number | undefined;
  /** The Session objects express-session built from what this store read (see createSession). */
  readonly #read = new WeakSet<object>();

  constructor(options: AdapterOptions = {}) {
    super();
    this.#defaultTtl = validateAdapterOptions(options);
    this.ready = resolveStore(options);
    this.ready.then(
      (s) => {
        this.#store = s;
        this.emit('connect');
      },
      (err: Error) => {
        this.emit('disconnect');
        if (this.listenerCount('error') > 0) this.emit('error', err);
      },
    );
  }

  override get = (sid: string, cb: Callback<session.SessionData | null>): void => {
    if (!isValidSessionId(sid)) return void process.nextTick(cb, null, null);
    this.#run(async (s) => {
      const r = await s.getSession(sid);
      // Decoded from the store on every get: already a fresh object, owned by the caller.
      return r === undefined ? null : (r.data as unknown as session.SessionData);
    }, cb);
  };

  /**
   * express-session turns every session this store hands out into its Session object here, and
   * later saves that same object with `set`: remembering it tells a save of a session that was read
   * (which must not recreate it if it was destroyed meanwhile) from the first save of a new one.
   */
  override createSession(req: Parameters<session.Store['createSession']>[0], data: session.SessionData): ReturnType<session.Store['createSession']> {
    const s = super.createSession(req, data);
    this.#read.add(s);
    return s;
  }

  override set = (sid: string, sess: session.SessionData, cb?: Callback): void => {
    this.#run(async (s) => {
      // Serialized by the store (Cookie's toJSON included); no copy needed here.
      const options = { ttl: ttlFromCookie(sess.cookie, this.#defaultTtl) };
      if (this.#read.has(sess)) await saveReadSession(s, sid, sess as unknown as StoreData, options);
      else await s.setSession(sid, sess as unknown as StoreData, options);
    }, cb);
  };

  override destroy = (sid: string, cb?: Callback): void => {
    if (!isValidSessionId(sid)) return void process.nextTick(() => cb?.());
    this.#run(async (s) => {
      await s.destroySession(sid);
    }, cb);
  };

  override touch = (sid: string, sess: session.SessionData, cb?: Callback): void => {
    this.#run(async (s) => {
      await s.touchSession(sid, { ttl: ttlFromCookie(sess.cookie, this.#defaultTtl) });
    }, cb);
  };

  /** Every live session, keyed by id (like MemoryStore's). */
  override all = (cb: Callback<Record<string, session.SessionData>>): void => {
    this.#run(async (s) => {
      const out: Record<string, session.SessionData> = {};
      for (const r of await s.allSessions()) out[r.id] = r.data as unknown as session.SessionData;
      return out;
    }, cb);
  };

  override length = (cb: Callback<number>): void => {
    this.#run((s) => s.countSessions(), cb);
  };

  override clear = (cb?: Callback): void => {
    this.#run((s) => s.clearSessions(), cb);
  };

  /**
   * Runs `op` on the store once it is ready; the callback is called once, outside any try, from
   * setImmediate (as MemoryStore does): with process.nextTick the request's whole remaining work ran
   * ahead of pending I/O, which cost ~15% throughput over HTTP.
   */
  #run<T>(op: (s: SessionStore<StoreData>) => Promise<T>, cb: Callback<T> | undefined): void {
    const p = this.#store !== undefined ? op(this.#store) : this.ready.then(op);
    p.then(
      (v) => setImmediate(() => cb?.(null, v)),
      (err: unknown) => setImmediate(() => (cb ? cb(err) : this.emit('error', err as Error))),
    );
  }
}
