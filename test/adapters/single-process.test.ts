import { afterEach, describe, expect, it } from 'vitest';
import { openSessionStore } from '../../src/index.js';
import { CONFIG_ENV } from '../../src/cluster/worker-config.js';
import { useTmpDir } from '../helpers/tmp.js';
import { appStarter } from '../fixtures/adapters/apps.js';
import type { RunningApp } from '../fixtures/adapters/app-common.js';
import { APP_SECRET, FRAMEWORKS } from '../fixtures/adapters/wire.js';
import { CookieJar, request, sessionIdOf } from './http.js';

describe.each(FRAMEWORKS)('%s in a single process', (framework) => {
  const tmp = useTmpDir();
  const apps: RunningApp[] = [];
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((a) => a.close()));
  });

  it('keeps sessions in the file at `path` with no cluster and no primary', async () => {
    expect(process.env[CONFIG_ENV]).toBeUndefined();
    const path = tmp.path('single.smap');
    const start = await appStarter(framework);
    const app = await start({ adapter: { path }, secret: APP_SECRET, cookieMaxAge: 60_000 });
    apps.push(app);

    const jar = new CookieJar();
    expect((await request(app.port, jar, 'POST', '/login?user=solo')).body.user).toBe('solo');
    expect((await request(app.port, jar, 'POST', '/visit')).body).toMatchObject({ user: 'solo', views: 1 });
    expect((await request(app.port, jar, 'POST', '/visit')).body).toMatchObject({ user: 'solo', views: 2 });
    expect((await request(app.port, jar, 'GET', '/me')).body).toMatchObject({ user: 'solo', views: 2 });

    // The sessions are in that file: another handle on it sees them.
    const id = sessionIdOf(framework, jar)!;
    const other = await openSessionStore({ path });
    try {
      expect((await other.getSession(id))?.data).toMatchObject({ user: 'solo', views: 2 });
      expect((await other.sessionsOf('solo')).map((r) => r.id)).toEqual([id]);
    } finally {
      await other.close();
    }

    const kept = jar.clone();
    await request(app.port, jar, 'POST', '/logout');
    expect((await request(app.port, kept, 'GET', '/me', { keep: true })).body.user).toBeNull();
    expect(await app.store.countSessions()).toBe(0);
  });
});
