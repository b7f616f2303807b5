/**
 * One driver per adapter for the shared contract suite (contract.ts), in the manner of
 * unstorage's testDriver: each wraps its adapter's native interface (express-session's and
 * @fastify/session's callbacks, koa-session's promises and extra arguments) into one promise
 * shape, and saves data the way its framework does (the cookie express-session or
 * @fastify/session puts in the session, koa-session's `_expire` / `_maxAge` / `_session`).
 */
import { createRequire } from 'node:module';
import session from 'express-session';
import { SessmapStore } from '../../src/adapters/express-session.js';
import { SessmapFastifyStore } from '../../src/adapters/fastify-session.js';
import { SessmapKoaStore } from '../../src/adapters/koa-session.js';
import type { AdapterOptions } from '../../src/adapters/find-store.js';
import type { SessionStore } from '../../src/sessions/types.js';

export type Data = Record<string, unknown>;

/** One adapter instance, through its driver. */
export interface DriverStore {
  /** The adapter's `ready`. */
  readonly ready: Promise<SessionStore>;
  /** The session as the framework would receive it (its bookkeeping included); undefined when none. */
  get(id: string): Promise<Data | undefined>;
  /** Saves `data` as the framework would, for `ttl` ms (undefined: a browser-session cookie). */
  set(id: string, data: Data, ttl?: number): Promise<void>;
  destroy(id: string): Promise<void>;
}

export interface AdapterDriver {
  readonly name: string;
  create(options: AdapterOptions): DriverStore;
  /** The data without what the framework adds to it (cookie, _expire, ...), for comparisons. */
  strip(data: Data): Data;
}

type Cb<T = unknown> = (err?: unknown, value?: T) => void;

/** Calls `fn` with a node-style callback; rejects on an error, and on a second call of the callback. */
function viaCallback<T>(fn: (cb: Cb<T>) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    let calls = 0;
    fn((err, value) => {
      calls++;
      if (calls > 1) {
        // A second call cannot reach the caller any more: make it loud.
        process.nextTick(() => {
          throw new Error('the adapter called its callback twice');
        });
        return;
      }
      if (err !== null && err !== undefined) reject(err as Error);
      else resolve(value as T);
    });
  });
}

/** The cookie express-session keeps in a session: its own Cookie class, as the middleware builds it. */
export function expressCookie(ttl: number | undefined): session.Cookie {
  // (Its constructor takes the cookie options; the typings declare none.)
  const cookie = new (session.Cookie as unknown as new (o: session.CookieOptions) => session.Cookie)({ httpOnly: true, path: '/', sameSite: 'lax' });
  if (ttl !== undefined) cookie.maxAge = ttl;
  return cookie;
}

export const expressDriver: AdapterDriver = {
  name: 'express-session',
  create(options) {
    const store = new SessmapStore(options);
    return {
      ready: store.ready,
      get: (id) => viaCallback<session.SessionData | null>((cb) => store.get(id, cb)).then((v) => (v ?? undefined) as Data | undefined),
      set: (id, data, ttl) => viaCallback<void>((cb) => store.set(id, { ...data, cookie: expressCookie(ttl) } as unknown as session.SessionData, cb)),
      destroy: (id) => viaCallback<void>((cb) => store.destroy(id, cb)),
    };
  },
  strip: ({ cookie: _c, ...rest }) => rest,
};

/** The cookie @fastify/session keeps in a session: what its Cookie's toJSON gives. */
export function fastifyCookie(ttl: number | undefined): Data {
  return {
    expires: ttl === undefined ? null : new Date(Date.now() + ttl),
    originalMaxAge: ttl ?? null,
    sameSite: 'lax',
    secure: false,
    path: '/',
    httpOnly: true,
    domain: null,
  };
}

/** @fastify/session's own Session class (its index does not export it; its lib file does). */
const FastifySession = createRequire(import.meta.url)('@fastify/session/lib/session.js') as new (...args: unknown[]) => Data & { isModified(): boolean };
const FASTIFY_REQUEST = { protocol: 'http' };
const FASTIFY_SIGNER = { sign: (v: string) => `${v}.signature` };

/** A new session as @fastify/session makes it in a request (its cookie from the plugin's options), holding `data`. */
export function fastifyNewSession(store: SessmapFastifyStore, id: string, data: Data, ttl: number | undefined): Data & { isModified(): boolean } {
  const s = new FastifySession(store, FASTIFY_REQUEST, () => id, ttl === undefined ? {} : { maxAge: ttl }, FASTIFY_SIGNER, undefined, id);
  Object.assign(s, data);
  return s;
}

/** The session @fastify/session restores from what the store handed out, at the start of a request. */
export function fastifyRestoredSession(store: SessmapFastifyStore, id: string, read: Data, ttl = 60_000): Data & { isModified(): boolean } {
  return new FastifySession(store, FASTIFY_REQUEST, () => id, { maxAge: ttl }, FASTIFY_SIGNER, read, id);
}

export const fastifyDriver: AdapterDriver = {
  name: '@fastify/session',
  create(options) {
    const store = new SessmapFastifyStore(options);
    return {
      ready: store.ready,
      get: (id) => viaCallback<Data | null>((cb) => store.get(id, cb)).then((v) => v ?? undefined),
      set: (id, data, ttl) => viaCallback<void>((cb) => store.set(id, fastifyNewSession(store, id, data, ttl), cb)),
      destroy: (id) => viaCallback<void>((cb) => store.destroy(id, cb)),
    };
  },
  strip: ({ cookie: _c, ...rest }) => rest,
};

/** What koa-session hands its external store on a save: the data with its bookkeeping, and maxAge. */
export function koaSave(data: Data, ttl: number | undefined): { sess: Data; maxAge: number | 'session' } {
  return ttl === undefined ? { sess: { ...data, _session: true }, maxAge: 'session' } : { sess: { ...data, _expire: Date.now() + ttl, _maxAge: ttl }, maxAge: ttl };
}

export const koaDriver: AdapterDriver = {
  name: 'koa-session',
  create(options) {
    const store = new SessmapKoaStore(options);
    return {
      ready: store.ready,
      get: async (id) => (await store.get(id, 60_000, { rolling: false, ctx: {} })) ?? undefined,
      set: async (id, data, ttl) => {
        const { sess, maxAge } = koaSave(data, ttl);
        await store.set(id, sess, maxAge, { changed: true, rolling: false, ctx: {} });
      },
      destroy: (id) => store.destroy(id, { ctx: {} }),
    };
  },
  strip: ({ _expire: _e, _maxAge: _m, _session: _s, ...rest }) => rest,
};

export const DRIVERS: readonly AdapterDriver[] = [expressDriver, fastifyDriver, koaDriver];
