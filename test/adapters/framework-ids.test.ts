/**
 * Session ids of any shape the frameworks make, through real HTTP servers and real cookies:
 * express-session's `genid` and @fastify/session's `idGenerator` may return any string, and
 * koa-session's documented `prefix: 'sess:'` puts a colon in every id. Each such id keeps its
 * session; an id the store cannot hold (a control character, over MAX_SESSION_ID_BYTES) fails the
 * request that made it, never a 200 whose session was silently not saved.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import session from 'express-session';
import Fastify from 'fastify';
import fastifyCookie from '@fastify/cookie';
import fastifySession from '@fastify/session';
import Koa from 'koa';
import koaSession from 'koa-session';
import { afterEach, describe, expect, it } from 'vitest';
import { SessmapStore } from '../../src/adapters/express-session.js';
import { SessmapFastifyStore } from '../../src/adapters/fastify-session.js';
import { SessmapKoaStore } from '../../src/adapters/koa-session.js';
import { MAX_SESSION_ID_BYTES } from '../../src/sessions/ids.js';
import type { SessionStore } from '../../src/sessions/types.js';
import { useTmpDir } from '../helpers/tmp.js';
import { CookieJar } from './http.js';

const SECRET = 'a secret of the test app, long enough';

/** Ids a custom generator may well return: short, with separators, non-ASCII, spaces, path-like, the longest allowed. */
const GOOD_IDS = [
  'u1',
  'user:42:6f1c2b7e',
  'sess:6f1c2b7e-4a51-4c8e-9a0e-2b1d3c4e5f60',
  'sessão-ünïcödé-🎉',
  'with spaces, commas; and "quotes"',
  '../../../etc/passwd',
  'x'.repeat(MAX_SESSION_ID_BYTES),
];
/** Ids no store can hold. */
const BAD_IDS = ['line\nbreak', 'nul\u0000byte', 'x'.repeat(MAX_SESSION_ID_BYTES + 1)];

interface App {
  url: string;
  store: SessionStore;
  close(): Promise<void>;
}

async function request(app: App, jar: CookieJar, method: string, path: string): Promise<{ status: number; body: { user?: unknown } | undefined }> {
  const res = await fetch(`${app.url}${path}`, { method, headers: jar.size > 0 ? { cookie: jar.header() } : {}, redirect: 'manual' });
  jar.absorb(res.headers.getSetCookie());
  const text = await res.text();
  let body: { user?: unknown } | undefined;
  try {
    body = JSON.parse(text) as { user?: unknown };
  } catch {
    body = undefined;
  }
  return { status: res.status, body };
}

function listening(server: Server): Promise<string> {
  return new Promise((resolve) => server.once('listening', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
}

describe('session ids of any shape the frameworks make', () => {
  const tmp = useTmpDir();
  const apps: App[] = [];
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((a) => a.close()));
  });

  async function expressApp(genid: () => string): Promise<App> {
    const adapter = new SessmapStore({ path: tmp.path('express.smap') });
    const store = await adapter.ready;
    const app = express();
    app.use(session({ store: adapter, secret: SECRET, genid, resave: false, saveUninitialized: false, cookie: { maxAge: 60_000 } }));
    app.post('/login', (req, res) => {
      (req.session as unknown as { user: string }).user = 'ada';
      res.json({ user: 'ada' });
    });
    app.get('/me', (req, res) => {
      res.json({ user: (req.session as unknown as { user?: string }).user ?? null });
    });
    // express's default error handler answers 500; a JSON one keeps the body parseable.
    app.use((err: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(500).json({ error: (err as Error & { code?: string }).code ?? err.message });
    });
    const server = app.listen(0, '127.0.0.1');
    const url = await listening(server);
    const a: App = { url, store, close: async () => { await new Promise((r) => server.close(r)); await store.close(); } };
    apps.push(a);
    return a;
  }

  async function fastifyApp(idGenerator: () => string): Promise<App> {
    const adapter = new SessmapFastifyStore({ path: tmp.path('fastify.smap') });
    const store = await adapter.ready;
    const app = Fastify();
    await app.register(fastifyCookie);
    await app.register(fastifySession, { secret: SECRET, store: adapter, idGenerator, saveUninitialized: false, cookie: { secure: false, maxAge: 60_000 } });
    app.post('/login', async (req) => {
      (req.session as unknown as Record<string, unknown>).user = 'ada';
      return { user: 'ada' };
    });
    app.get('/me', async (req) => ({ user: (req.session as unknown as Record<string, unknown>).user ?? null }));
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    const a: App = { url, store, close: async () => { await app.close(); await store.close(); } };
    apps.push(a);
    return a;
  }

  async function koaApp(options: { prefix?: string; genid?: () => string }): Promise<App> {
    const adapter = new SessmapKoaStore({ path: tmp.path('koa.smap') });
    const store = await adapter.ready;
    const app = new Koa();
    app.keys = [SECRET];
    app.silent = true; // the 500s below are expected: no stack traces on stderr
    app.use(koaSession({ store: adapter, key: 'koa.sess', maxAge: 60_000, ...options } as unknown as Parameters<typeof koaSession>[0], app));
    app.use(async (ctx) => {
      const s = (ctx as unknown as { session: Record<string, unknown> }).session;
      if (ctx.method === 'POST' && ctx.path === '/login') s.user = 'ada';
      ctx.body = { user: s.user ?? null };
    });
    const server = app.listen(0, '127.0.0.1');
    const url = await listening(server);
    const a: App = { url, store, close: async () => { await new Promise((r) => server.close(r)); await store.close(); } };
    apps.push(a);
    return a;
  }

  /** Logs in, then reads the session back with the cookie; returns the ids the store holds. */
  async function loginRoundTrip(app: App): Promise<string[]> {
    const jar = new CookieJar();
    const login = await request(app, jar, 'POST', '/login');
    expect(login.status).toBe(200);
    expect(jar.size, 'no session cookie was set').toBeGreaterThan(0);
    const me = await request(app, jar, 'GET', '/me');
    expect(me).toEqual({ status: 200, body: { user: 'ada' } });
    return (await app.store.allSessions()).map((r) => r.id);
  }

  it('express-session keeps a session under every id its genid returns', async () => {
    let next = '';
    const app = await expressApp(() => next);
    for (const id of GOOD_IDS) {
      next = id;
      expect(await loginRoundTrip(app), JSON.stringify(id)).toContain(id);
    }
    expect(await app.store.countSessions()).toBe(GOOD_IDS.length);
  });

  it('express-session fails the request, with the coded error, when genid returns an id no store can hold', async () => {
    let next = '';
    const app = await expressApp(() => next);
    for (const id of BAD_IDS) {
      next = id;
      const r = await request(app, new CookieJar(), 'POST', '/login');
      expect(r, JSON.stringify(id)).toEqual({ status: 500, body: { error: 'SESSMAP_ERR_INVALID_SESSION_ID' } });
    }
    expect(await app.store.countSessions()).toBe(0);
  });

  it("express-session's regenerate hands a refused new id to its callback", async () => {
    const adapter = new SessmapStore({ path: tmp.path('regen.smap') });
    const store = await adapter.ready;
    apps.push({ url: '', store, close: () => store.close() });
    session({ store: adapter, secret: SECRET, genid: () => 'nul\u0000byte', resave: false, saveUninitialized: false });
    const req = { sessionID: 'an-old-id' } as unknown as express.Request;
    const err = await new Promise<unknown>((resolve) => adapter.regenerate(req, resolve));
    expect(err).toMatchObject({ code: 'SESSMAP_ERR_INVALID_SESSION_ID' });
  });

  it('@fastify/session keeps a session under every id its idGenerator returns', async () => {
    let next = '';
    const app = await fastifyApp(() => next);
    for (const id of GOOD_IDS) {
      next = id;
      expect(await loginRoundTrip(app), JSON.stringify(id)).toContain(id);
    }
  });

  it('@fastify/session fails the request when its idGenerator returns an id no store can hold', async () => {
    let next = '';
    const app = await fastifyApp(() => next);
    for (const id of BAD_IDS) {
      next = id;
      const r = await request(app, new CookieJar(), 'POST', '/login');
      expect(r.status, JSON.stringify(id)).toBe(500);
    }
    expect(await app.store.countSessions()).toBe(0);
  });

  it("koa-session keeps sessions with its documented prefix: 'sess:'", async () => {
    const app = await koaApp({ prefix: 'sess:' });
    const ids = await loginRoundTrip(app);
    expect(ids).toHaveLength(1);
    expect(ids[0]).toMatch(/^sess:[0-9a-f-]{36}$/);
  });

  it('koa-session fails the request when its genid returns an id no store can hold', async () => {
    const app = await koaApp({ genid: () => 'nul\u0000byte' });
    const r = await request(app, new CookieJar(), 'POST', '/login');
    expect(r.status).toBe(500);
    expect(await app.store.countSessions()).toBe(0);
  });
});
