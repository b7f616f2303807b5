/**
 * A request that read its session and is still running when the user logs out (another tab,
 * "log out everywhere") saves the session when it ends, as every framework does. That save must
 * not write the session back: the logout would be undone, and the old cookie would work again.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { useRedis } from '../support/redis-suite.js';
import { openSessionStore } from '../../src/index.js';
import { useTmpDir } from '../helpers/tmp.js';
import { appStarter } from '../fixtures/adapters/apps.js';
import type { RunningApp } from '../fixtures/adapters/app-common.js';
import { APP_SECRET, FRAMEWORKS } from '../fixtures/adapters/wire.js';
import { CookieJar, request } from './http.js';

/** A gate POST /slow-visit waits at: `inside` resolves when a request reaches it, `open()` lets it go. */
function gate(): { wait: () => Promise<void>; inside: Promise<void>; open: () => void } {
  let entered!: () => void;
  let release!: () => void;
  const inside = new Promise<void>((r) => (entered = r));
  const released = new Promise<void>((r) => (release = r));
  return { wait: async () => { entered(); await released; }, inside, open: () => release() };
}

// On the file, and on Redis (connect-redis #328: a logout undone by a request in flight).
const redis = useRedis();
let prefixes = 0;

describe.each(FRAMEWORKS.flatMap((f) => (['file', 'Redis'] as const).map((b) => [f, b] as const)))('%s on %s: a logout while a request that read the session is running', (framework, backend) => {
  const tmp = useTmpDir();
  const apps: RunningApp[] = [];
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((a) => a.close()));
  });

  async function start(g: ReturnType<typeof gate>): Promise<RunningApp> {
    const adapter = backend === 'file' ? { path: tmp.path(`${framework}.smap`) } : { redis: { url: redis.server.url, prefix: `race${++prefixes}:` } };
    const app = await (await appStarter(framework))({ adapter, secret: APP_SECRET, cookieMaxAge: 60_000, visitGate: g.wait });
    apps.push(app);
    return app;
  }

  it('is not undone when that request saves its change', async () => {
    const g = gate();
    const app = await start(g);
    const jar = new CookieJar();
    expect((await request(app.port, jar, 'POST', '/login?user=carol')).body.user).toBe('carol');
    expect((await request(app.port, jar, 'POST', '/visit')).body).toMatchObject({ user: 'carol', views: 1 });
    const tab = jar.clone();
    const slow = request(app.port, tab, 'POST', '/slow-visit', { keep: true });
    await g.inside;
    expect((await request(app.port, jar, 'POST', '/logout')).body.user).toBeNull();
    g.open();
    expect((await slow).status).toBe(200);
    // The session stays destroyed: the old cookie is anonymous again, and nothing is stored.
    expect((await request(app.port, tab, 'GET', '/me', { keep: true })).body.user).toBeNull();
    expect(await app.store.countSessions()).toBe(0);
  });

  it('still saves that change when nobody logged out (the same request, no logout)', async () => {
    const g = gate();
    const app = await start(g);
    const jar = new CookieJar();
    await request(app.port, jar, 'POST', '/login?user=dave');
    await request(app.port, jar, 'POST', '/visit');
    const slow = request(app.port, jar, 'POST', '/slow-visit');
    await g.inside;
    g.open();
    expect((await slow).body).toMatchObject({ user: 'dave', views: 2 });
    expect((await request(app.port, jar, 'GET', '/me')).body).toMatchObject({ user: 'dave', views: 2 });
    expect(await app.store.countSessions()).toBe(1);
  });
});

describe('setSession({ ifExists: true })', () => {
  const tmp = useTmpDir();

  it('writes over a stored session, and writes nothing (SESSMAP_ERR_SESSION_GONE) where there is none', async () => {
    const store = await openSessionStore({ path: tmp.path('if-exists.smap') });
    try {
      const r = await store.createSession({ n: 1 }, { userId: 'erin' });
      expect((await store.setSession(r.id, { n: 2 }, { ifExists: true })).data).toEqual({ n: 2 });
      expect(await store.destroySession(r.id)).toBe(true);
      await expect(store.setSession(r.id, { n: 3 }, { ifExists: true })).rejects.toMatchObject({ code: 'SESSMAP_ERR_SESSION_GONE' });
      expect(await store.getSession(r.id)).toBeUndefined();
      expect(await store.sessionsOf('erin')).toEqual([]);
      expect(await store.countSessions()).toBe(0);
    } finally {
      await store.close();
    }
  });
});
