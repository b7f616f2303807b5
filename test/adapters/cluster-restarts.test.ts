import { describe, expect, it } from 'vitest';
import { FRAMEWORKS } from '../fixtures/adapters/wire.js';
import { CookieJar, pidsOf, useAppSuite, waitForEvent, type AppCluster } from './app-cluster.js';
import { parallel } from './http.js';

describe.each(FRAMEWORKS)('%s in a two-worker cluster', (framework) => {
  const suite = useAppSuite({ perTest: true });

  /** Reads /me with a copy of `jar` until both workers have answered; their replies. */
  const readEverywhere = async (app: AppCluster, jar: CookieJar) => {
    const replies = await parallel(8, () => app.request(jar.clone(), 'GET', '/me', { keep: true }));
    expect(pidsOf(replies)).toEqual(new Set(await app.workers()));
    return replies.map((r) => r.body);
  };

  it('a worker killed in the middle of a request logs nobody out, and its replacement serves the session', async () => {
    const app = await suite.start(framework, { respawn: true });
    const jar = new CookieJar();
    await app.request(jar, 'POST', '/login?user=alice');
    await app.request(jar, 'POST', '/visit');
    for (const body of await readEverywhere(app, jar)) expect(body).toMatchObject({ user: 'alice', views: 1 });

    const slow = app.request(jar.clone(), 'GET', '/slow?ms=60000', { keep: true }).then(
      () => 'answered',
      () => 'cut off',
    );
    const victim = await app.waitSlow();
    expect(await app.kill9(victim)).toEqual({ code: null, signal: 'SIGKILL' });
    expect(await slow).toBe('cut off');

    const replaced = await app.waitWorkers(2, [victim]);
    expect(replaced).not.toContain(victim);
    for (const body of await readEverywhere(app, jar)) expect(body).toMatchObject({ user: 'alice', views: 1 });
    // Writes go on too, on every worker, new or old, each seeing the one before.
    const writes = [];
    for (let views = 2; views <= 5; views++) {
      const r = await app.request(jar, 'POST', '/visit');
      expect(r.body).toMatchObject({ user: 'alice', views });
      writes.push(r);
    }
    expect(pidsOf(writes)).toEqual(new Set(replaced));
    expect(await app.countSessions()).toBe(1);
    const detached = await waitForEvent(app, 'the killed worker to be reported detached', (e) => e.name === 'workerDetached' && e.payload.workerPid === victim);
    expect(detached.payload.signal).toBe('SIGKILL');
  });

  it('a restart of the whole app on the same file keeps every session, after a stop or a crash', async () => {
    const path = suite.freshPath();
    let app = await suite.start(framework, { setup: { path } });
    const alice = new CookieJar();
    const bob = new CookieJar();
    await app.request(alice, 'POST', '/login?user=alice');
    await app.request(bob, 'POST', '/login?user=bob');
    await app.request(bob, 'POST', '/visit');
    await app.request(bob, 'POST', '/visit');

    await app.stop();
    app = await suite.start(framework, { setup: { path } });
    for (const body of await readEverywhere(app, alice)) expect(body, 'after a stop').toMatchObject({ user: 'alice' });
    for (const body of await readEverywhere(app, bob)) expect(body, 'after a stop').toMatchObject({ user: 'bob', views: 2 });

    await app.stop({ crash: true });
    app = await suite.start(framework, { setup: { path } });
    for (const body of await readEverywhere(app, alice)) expect(body, 'after a crash').toMatchObject({ user: 'alice' });
    for (const body of await readEverywhere(app, bob)) expect(body, 'after a crash').toMatchObject({ user: 'bob', views: 2 });
    expect(await app.countSessions()).toBe(2);
  });
});
