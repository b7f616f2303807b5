import { afterEach, describe, expect, it } from 'vitest';
import type { Server } from 'node:http';
import Koa, { type Context } from 'koa';
import session from 'koa-session';
import { SessmapKoaStore } from '../../src/adapters/koa-session.js';
import type { AdapterOptions } from '../../src/adapters/find-store.js';
import { useTmpDir } from '../helpers/tmp.js';
import { listening } from '../fixtures/adapters/app-common.js';
import { CookieJar } from './http.js';
import { newId } from './contract.js';
import { sleep } from '../support/wait.js';

const opts = (changed = true) => ({ changed, rolling: false, ctx: {} });

describe('the koa-session external store (SessmapKoaStore)', () => {
  const tmp = useTmpDir();
  const stores: SessmapKoaStore[] = [];
  const servers: Server[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) s.close();
    await Promise.all(stores.splice(0).map((s) => s.ready.then((r) => r.close()).catch(() => undefined)));
  });
  const open = (o: AdapterOptions = {}): SessmapKoaStore => {
    const s = new SessmapKoaStore({ path: tmp.path(), ...o });
    stores.push(s);
    return s;
  };

  it('get(key, maxAge, opts) gives the data with the deadline the store keeps as _expire', async () => {
    const store = open();
    const id = newId();
    await store.set(id, { user: 'ada', _expire: Date.now() + 60_000, _maxAge: 60_000 }, 60_000, opts());
    const got = await store.get(id, 60_000, { rolling: false, ctx: {} });
    const r = await (await store.ready).getSession(id);
    expect(got).toEqual({ user: 'ada', _maxAge: 60_000, _expire: r!.expiresAt });
    expect(await store.get(newId(), 60_000, { rolling: false, ctx: {} })).toBeUndefined();
  });

  it('set(key, sess, maxAge) takes the TTL from maxAge in ms and stores no _expire', async () => {
    const store = open();
    const id = newId();
    const t0 = Date.now();
    await store.set(id, { user: 'ada', _expire: 1, _maxAge: 45_000 }, 45_000, opts());
    const t1 = Date.now();
    const r = (await (await store.ready).getSession(id))!;
    expect(r.expiresAt).toBeGreaterThanOrEqual(t0 + 45_000 - 20);
    expect(r.expiresAt).toBeLessThanOrEqual(t1 + 45_000 + 20);
    expect(r.data).toEqual({ user: 'ada', _maxAge: 45_000 });
  });

  it("maxAge 'session' gets the default TTL, and get gives _session back with no _expire", async () => {
    const store = open({ defaultTtl: 100_000 });
    const id = newId();
    const t0 = Date.now();
    await store.set(id, { user: 'ada', _session: true }, 'session', opts());
    const t1 = Date.now();
    const r = (await (await store.ready).getSession(id))!;
    expect(r.expiresAt).toBeGreaterThanOrEqual(t0 + 100_000 - 20);
    expect(r.expiresAt).toBeLessThanOrEqual(t1 + 100_000 + 20);
    expect(await store.get(id, 'session' as unknown as number, { rolling: false, ctx: {} })).toEqual({ user: 'ada', _session: true });
  });

  it('with changed: false only the deadline moves, and the next get reports the moved _expire', async () => {
    const store = open();
    const s = await store.ready;
    const id = newId();
    await store.set(id, { views: 1, _expire: Date.now() + 30_000, _maxAge: 30_000 }, 30_000, opts());
    const before = (await s.getSession(id))!;
    const firstExpire = (await store.get(id, 30_000, { rolling: true, ctx: {} }))!._expire as number;
    // Past the touch slack (1% of the 30 s TTL: 300 ms), within which a touch leaves the deadline as it is.
    await sleep(350);
    await store.set(id, { views: 1, _expire: Date.now() + 90_000, _maxAge: 30_000 }, 90_000, opts(false));
    const after = (await s.getSession(id))!;
    expect(after.version).toBe(before.version);
    expect(after.data).toEqual(before.data);
    expect(after.expiresAt).toBeGreaterThan(before.expiresAt);
    const got = (await store.get(id, 30_000, { rolling: true, ctx: {} }))!;
    expect(got._expire).toBe(after.expiresAt);
    expect(got._expire as number).toBeGreaterThan(firstExpire);
  });

  it('destroy(key, { ctx }) removes the session', async () => {
    const store = open();
    const id = newId();
    await store.set(id, { a: 1 }, 60_000, opts());
    await store.destroy(id, { ctx: {} });
    expect(await store.get(id, 60_000, { rolling: false, ctx: {} })).toBeUndefined();
    await store.destroy(id, { ctx: {} });
  });

  /** A koa app on `store` with `maxAge`; `route` handles what the session middleware passes on. */
  async function koaApp(store: SessmapKoaStore, maxAge: number, route: (ctx: Context & { session: Record<string, unknown> }) => void | Promise<void>, extra: Record<string, unknown> = {}): Promise<number> {
    const app = new Koa();
    app.keys = ['koa test key'];
    app.use(session({ store, key: 'koa.sess', maxAge, ...extra } as unknown as Parameters<typeof session>[0], app));
    app.use(async (ctx) => {
      await route(ctx as Context & { session: Record<string, unknown> });
    });
    const server = app.listen(0, '127.0.0.1');
    servers.push(server);
    return listening(server);
  }

  async function get(port: number, jar: CookieJar, path: string): Promise<Record<string, unknown>> {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { cookie: jar.header() }, redirect: 'manual' });
    jar.absorb(res.headers.getSetCookie());
    return (await res.json()) as Record<string, unknown>;
  }

  it("ends an idle session at koa-session's maxAge, as koa-session's own _expire check would", async () => {
    const store = open();
    const port = await koaApp(store, 300, (ctx) => {
      if (ctx.path === '/login') ctx.session.user = 'ada';
      ctx.body = { user: ctx.session.user ?? null };
    });
    const jar = new CookieJar();
    expect(await get(port, jar, '/login')).toEqual({ user: 'ada' });
    expect(await get(port, jar.clone(), '/me')).toEqual({ user: 'ada' });
    // Three maxAges without a request: the cookie has expired in any browser by now.
    await sleep(900);
    expect(await get(port, jar.clone(), '/me')).toEqual({ user: null });
  });

  it('keeps the data changed in a request that also changes maxAge (koa-session saves it with changed: false)', async () => {
    const store = open();
    const port = await koaApp(store, 60_000, (ctx) => {
      if (ctx.path === '/visit') ctx.session.views = Number(ctx.session.views ?? 0) + 1;
      if (ctx.path === '/remember-me') {
        // A "remember me" login: the user is stored and the session made to last longer.
        ctx.session.user = 'ada';
        (ctx.session as unknown as { maxAge: number }).maxAge = 30 * 24 * 3600_000;
      }
      ctx.body = { user: ctx.session.user ?? null, views: ctx.session.views ?? 0 };
    });
    const jar = new CookieJar();
    expect(await get(port, jar, '/visit')).toEqual({ user: null, views: 1 });
    expect(await get(port, jar, '/remember-me')).toEqual({ user: 'ada', views: 1 });
    expect(await get(port, jar, '/me')).toEqual({ user: 'ada', views: 1 });
  });

  it('a rolling save at the end of a request does not bring back a session logged out during it', async () => {
    const store = open();
    let entered!: () => void;
    let release!: () => void;
    const inside = new Promise<void>((r) => (entered = r));
    const gate = new Promise<void>((r) => (release = r));
    const port = await koaApp(
      store,
      60_000,
      async (ctx) => {
        if (ctx.path === '/login') ctx.session.userId = 'ada';
        if (ctx.path === '/slow') {
          entered();
          await gate;
        }
        ctx.body = { user: ctx.session.userId ?? null };
      },
      { rolling: true },
    );
    const jar = new CookieJar();
    expect(await get(port, jar, '/login')).toEqual({ user: 'ada' });
    // The request has loaded the session; "log out everywhere" happens (in any worker) while it runs.
    const slow = get(port, jar.clone(), '/slow');
    await inside;
    expect(await (await store.ready).destroySessionsOf('ada')).toBe(1);
    release();
    expect(await slow).toEqual({ user: 'ada' });
    expect(await (await store.ready).countSessions(), 'the session was stored again by the rolling save').toBe(0);
    expect(await get(port, jar.clone(), '/me')).toEqual({ user: null });
  });
});
