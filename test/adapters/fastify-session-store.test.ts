import { afterEach, describe, expect, it } from 'vitest';
import Fastify from 'fastify';
import fastifyCookie from '@fastify/cookie';
import fastifySession from '@fastify/session';
import { SessmapFastifyStore } from '../../src/adapters/fastify-session.js';
import type { AdapterOptions } from '../../src/adapters/find-store.js';
import { useTmpDir } from '../helpers/tmp.js';
import { fastifyCookie as cookieJson, fastifyNewSession, fastifyRestoredSession } from './drivers.js';
import { newId } from './contract.js';
import { sleep } from '../support/wait.js';

type Cb = (err?: unknown, value?: any) => void;

const SECRET = 'a secret of at least thirty-two characters for the tests';

describe('the @fastify/session store (SessmapFastifyStore)', () => {
  const tmp = useTmpDir();
  const stores: SessmapFastifyStore[] = [];
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.ready.then((r) => r.close()).catch(() => undefined)));
  });
  const open = (o: AdapterOptions = {}): SessmapFastifyStore => {
    const s = new SessmapFastifyStore({ path: tmp.path(), ...o });
    stores.push(s);
    return s;
  };
  /** Calls `fn` with a callback and records every call of it. */
  const calls = async (fn: (cb: Cb) => void): Promise<unknown[][]> => {
    const seen: unknown[][] = [];
    await new Promise<void>((resolve) => {
      fn((...args) => {
        seen.push(args);
        resolve();
      });
    });
    await sleep(30);
    return seen;
  };

  it('answers get, set and destroy through their callbacks, once each, with no error', async () => {
    const store = open();
    const id = newId();
    const setCalls = await calls((cb) => store.set(id, { user: 'ada', cookie: cookieJson(60_000) }, cb));
    expect(setCalls).toHaveLength(1);
    expect(setCalls[0][0] ?? null).toBeNull();

    const getCalls = await calls((cb) => store.get(id, cb));
    expect(getCalls).toHaveLength(1);
    expect(getCalls[0][0] ?? null).toBeNull();
    expect(getCalls[0][1]).toMatchObject({ user: 'ada', cookie: { originalMaxAge: 60_000 } });

    const destroyCalls = await calls((cb) => store.destroy(id, cb));
    expect(destroyCalls).toHaveLength(1);
    expect(destroyCalls[0][0] ?? null).toBeNull();
    const after = await calls((cb) => store.get(id, cb));
    expect(after).toHaveLength(1);
    expect(after[0][1] ?? null).toBeNull();
  });

  it('answers a failed set through the callback with the coded error', async () => {
    const store = open();
    const seen = await calls((cb) => store.set('not\nan id', { cookie: cookieJson(60_000) }, cb));
    expect(seen).toHaveLength(1);
    expect(seen[0][0]).toMatchObject({ code: 'SESSMAP_ERR_INVALID_SESSION_ID' });
  });

  it('takes the TTL from the cookie @fastify/session saves, and the default without maxAge', async () => {
    const store = open({ defaultTtl: 150_000 });
    const s = await store.ready;
    const a = newId();
    const b = newId();
    const t0 = Date.now();
    await calls((cb) => store.set(a, { cookie: cookieJson(40_000) }, cb));
    await calls((cb) => store.set(b, { cookie: cookieJson(undefined) }, cb));
    const t1 = Date.now();
    const ea = (await s.getSession(a))!.expiresAt;
    const eb = (await s.getSession(b))!.expiresAt;
    expect(ea).toBeGreaterThanOrEqual(t0 + 40_000 - 20);
    expect(ea).toBeLessThanOrEqual(t1 + 40_000 + 20);
    expect(eb).toBeGreaterThanOrEqual(t0 + 150_000 - 20);
    expect(eb).toBeLessThanOrEqual(t1 + 150_000 + 20);
  });

  // @fastify/session (rolling: true, its default) saves the whole session it read at the end of
  // every request, changed or not. The two cases below are that save arriving after another
  // worker changed or ended the session in the meantime.
  // The saves below are @fastify/session's own Session objects, restored from what the store
  // handed out, as at the start of a request.
  /** Stores a new session with `data`, reads it back, and restores it as @fastify/session would. */
  const storedThenRestored = async (store: SessmapFastifyStore, id: string, data: Record<string, unknown>) => {
    await calls((cb) => store.set(id, fastifyNewSession(store, id, data, 60_000), cb));
    const [[, read]] = await calls((cb) => store.get(id, cb));
    return fastifyRestoredSession(store, id, read as Record<string, unknown>);
  };

  it('a save of the session as it was read does not undo an updateSession made in the meantime', async () => {
    const store = open();
    const id = newId();
    const session = await storedThenRestored(store, id, { user: 'ada', n: 1 });
    await (await store.ready).updateSession(id, (d) => ({ ...d, n: (d.n as number) + 1 }));
    await calls((cb) => store.set(id, session, cb));
    const [[, after]] = await calls((cb) => store.get(id, cb));
    expect((after as { n: number }).n).toBe(2);
  });

  it('a save of the session as it was read does not bring it back after a logout in the meantime', async () => {
    const store = open();
    const id = newId();
    const session = await storedThenRestored(store, id, { userId: 'ada' });
    await (await store.ready).destroySessionsOf('ada');
    await calls((cb) => store.set(id, session, cb));
    const [[, after]] = await calls((cb) => store.get(id, cb));
    expect(after ?? null).toBeNull();
  });

  it('a save of the session changed after it was read does not bring it back after a logout in the meantime', async () => {
    const store = open();
    const id = newId();
    const session = await storedThenRestored(store, id, { userId: 'ada', n: 1 });
    session.n = 2;
    expect(session.isModified()).toBe(true);
    await (await store.ready).destroySession(id);
    await calls((cb) => store.set(id, session, cb));
    const [[, after]] = await calls((cb) => store.get(id, cb));
    expect(after ?? null).toBeNull();
  });

  it('hands out the session data alone: nothing of its own in the object, its keys or its JSON', async () => {
    const store = open();
    const id = newId();
    await calls((cb) => store.set(id, fastifyNewSession(store, id, { user: 'ada', cart: [1] }, 60_000), cb));
    const [[, read]] = await calls((cb) => store.get(id, cb));
    expect(Object.keys(read as object).sort()).toEqual(['cart', 'cookie', 'user']);
    expect(Object.getOwnPropertySymbols(read as object)).toEqual([]);
    expect(Object.getOwnPropertyNames(read as object).sort()).toEqual(['cart', 'cookie', 'user']);
  });

  it('keeps its bookkeeping out of request.session in a real app: Object.keys and reply.send(request.session) show the data alone', async () => {
    const store = open();
    const app = Fastify();
    await app.register(fastifyCookie);
    await app.register(fastifySession, { secret: SECRET, store, saveUninitialized: false, cookie: { secure: false, maxAge: 60_000 } });
    app.post('/login', async (req) => {
      (req.session as unknown as Record<string, unknown>).user = 'ada';
      return { ok: true };
    });
    app.get('/keys', async (req) => Object.keys(req.session as object).sort());
    app.get('/session', async (req, reply) => reply.send(req.session));
    try {
      const url = await app.listen({ port: 0, host: '127.0.0.1' });
      const login = await fetch(`${url}/login`, { method: 'POST' });
      const cookie = login.headers.getSetCookie()[0].split(';')[0];
      const keys = (await (await fetch(`${url}/keys`, { headers: { cookie } })).json()) as string[];
      expect(keys).toEqual(['cookie', 'user']);
      const sent = (await (await fetch(`${url}/session`, { headers: { cookie } })).json()) as Record<string, unknown>;
      expect(Object.keys(sent).sort()).toEqual(['cookie', 'user']);
      expect(sent.user).toBe('ada');
    } finally {
      await app.close();
    }
  });

  it('stores a new session made under an id it read before (a custom idGenerator that reuses ids), after that one was destroyed', async () => {
    const store = open();
    const id = newId();
    await calls((cb) => store.set(id, fastifyNewSession(store, id, { user: 'ada' }, 60_000), cb));
    await calls((cb) => store.get(id, cb));
    await calls((cb) => store.destroy(id, cb));
    await calls((cb) => store.set(id, fastifyNewSession(store, id, { user: 'ada', again: true }, 60_000), cb));
    const [[, after]] = await calls((cb) => store.get(id, cb));
    expect(after).toMatchObject({ user: 'ada', again: true });
  });

  it('destroys a session saved with a cookie that has already expired: nothing stored, nothing counted', async () => {
    const store = open();
    const id = newId();
    await calls((cb) => store.set(id, fastifyNewSession(store, id, { user: 'ada' }, 60_000), cb));
    const expired = { user: 'ada', cookie: { ...cookieJson(60_000), expires: new Date(Date.now() - 1_000) } };
    const seen = await calls((cb) => store.set(id, expired, cb));
    expect(seen[0][0] ?? null).toBeNull();
    const s = await store.ready;
    expect(await s.getSession(id)).toBeUndefined();
    expect(await s.countSessions()).toBe(0);
  });

  it('keeps a session @fastify/session saved, with its cookie, across requests of a real app', async () => {
    const store = open();
    const app = Fastify();
    await app.register(fastifyCookie);
    await app.register(fastifySession, { secret: SECRET, store, saveUninitialized: false, cookie: { secure: false, maxAge: 60_000 } });
    app.post('/login', async (req) => {
      (req.session as unknown as Record<string, unknown>).user = 'ada';
      return { ok: true };
    });
    app.get('/me', async (req) => ({ user: (req.session as unknown as Record<string, unknown>).user ?? null }));
    try {
      const login = await app.inject({ method: 'POST', url: '/login' });
      const cookie = login.cookies.find((c) => c.name === 'sessionId');
      expect(cookie).toBeDefined();
      const me = await app.inject({ method: 'GET', url: '/me', cookies: { sessionId: cookie!.value } });
      expect(me.json()).toEqual({ user: 'ada' });

      const s = await store.ready;
      const [only] = await s.allSessions();
      expect(only.data).toMatchObject({ user: 'ada', cookie: { originalMaxAge: 60_000 } });
      expect(only.expiresAt).toBeGreaterThan(Date.now() + 50_000);
    } finally {
      await app.close();
    }
  });
});
