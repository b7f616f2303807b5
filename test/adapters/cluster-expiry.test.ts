import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FRAMEWORKS } from '../fixtures/adapters/wire.js';
import { CookieJar, pidsOf, sleep, useAppSuite, waitForEvent, type AppCluster } from './app-cluster.js';
import { parallel, sessionIdOf } from './http.js';

/** The cookie's maxAge and the service's idle timeout. */
const IDLE = 600;
const ABSOLUTE = 3000;
/** How often an active client sends a request: far inside IDLE. */
const PACE = 100;

describe.each(FRAMEWORKS)('%s in a two-worker cluster', (framework) => {
  const suite = useAppSuite();
  let app: AppCluster;
  let workers: Set<number>;

  beforeAll(async () => {
    app = await suite.start(framework, { setup: { idleTimeout: IDLE, absoluteTimeout: ABSOLUTE, sweepInterval: 100 }, app: { cookieMaxAge: IDLE } });
    workers = new Set(await app.workers());
  });
  afterAll(() => suite.shutdownAll());

  const readEverywhere = async (jar: CookieJar) => {
    const replies = await parallel(6, () => app.request(jar.clone(), 'GET', '/me', { keep: true }));
    expect(pidsOf(replies)).toEqual(workers);
    return replies.map((r) => r.body);
  };

  it('ends a session left idle for longer than the cookie maxAge, while an active one lives on', async () => {
    const idle = new CookieJar();
    const busy = new CookieJar();
    await app.request(idle, 'POST', '/login?user=idle-user');
    await app.request(busy, 'POST', '/login?user=busy-user');
    const idleId = sessionIdOf(framework, idle)!;
    const sid = await app.hashId(idleId);

    // Two and a half idle timeouts pass (well inside the absolute timeout): the busy session is
    // used all along, the idle one not at all.
    const until = Date.now() + 2.5 * IDLE;
    while (Date.now() < until) {
      expect((await app.request(busy, 'GET', '/me')).body.user).toBe('busy-user');
      await sleep(PACE);
    }

    for (const body of await readEverywhere(idle)) expect(body.user, 'the idle session after two and a half idle timeouts').toBeNull();
    expect(await app.session(idleId)).toBeNull();
    for (const body of await readEverywhere(busy)) expect(body.user).toBe('busy-user');
    await waitForEvent(app, 'the idle session to be reported expired', (e) => e.name === 'expired' && e.payload.sid === sid);
  });

  it('ends a session at the absolute timeout however busy it is', async () => {
    const jar = new CookieJar();
    const loggedInAt = Date.now();
    await app.request(jar, 'POST', '/login?user=busy-forever');
    const id = sessionIdOf(framework, jar)!;
    const record = await app.session(id);
    expect(record?.absoluteExpiresAt).toBeLessThan(Infinity);

    // Used every PACE ms until it ends (bounded far beyond ABSOLUTE; never a timing claim).
    let lastAlive = 0;
    let ended = false;
    const giveUp = Date.now() + ABSOLUTE + 15_000;
    while (!ended && Date.now() < giveUp) {
      const r = await app.request(jar.clone(), 'GET', '/me', { keep: true });
      if (r.body.user === 'busy-forever') lastAlive = Date.now();
      else ended = true;
      await sleep(PACE);
    }
    expect(ended, 'the session never ended').toBe(true);
    // The activity kept it past its idle timeout: the idle timeout is not what ended it.
    expect(lastAlive).toBeGreaterThan(loggedInAt + IDLE);

    for (const body of await readEverywhere(jar)) expect(body.user).toBeNull();
    expect(await app.session(id)).toBeNull();
  });
});
