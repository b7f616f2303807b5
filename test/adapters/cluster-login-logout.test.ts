import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FRAMEWORKS } from '../fixtures/adapters/wire.js';
import { CookieJar, pidsOf, useAppSuite, type AppCluster } from './app-cluster.js';
import { parallel, sessionIdOf } from './http.js';

describe.each(FRAMEWORKS)('%s in a two-worker cluster', (framework) => {
  const suite = useAppSuite();
  let app: AppCluster;
  let workers: Set<number>;
  let users = 0;
  const newUser = (): string => `${framework}-user-${++users}`;

  beforeAll(async () => {
    app = await suite.start(framework);
    workers = new Set(await app.workers());
  });
  afterAll(() => suite.shutdownAll());

  /** Reads /me with a copy of `jar` from enough connections to reach both workers. */
  const readEverywhere = async (jar: CookieJar) => {
    const replies = await parallel(8, () => app.request(jar.clone(), 'GET', '/me', { keep: true }));
    expect(pidsOf(replies)).toEqual(workers);
    return replies.map((r) => r.body);
  };

  it('logging in gives a new session id that every worker honours at once, and the old id never works again', async () => {
    const jar = new CookieJar();
    expect((await app.request(jar, 'POST', '/visit')).body.views).toBe(1);
    const oldId = sessionIdOf(framework, jar)!;
    expect(oldId).toBeTruthy();
    const oldJar = jar.clone();

    const user = newUser();
    expect((await app.request(jar, 'POST', `/login?user=${user}`)).body.user).toBe(user);
    const newId = sessionIdOf(framework, jar)!;
    expect(newId).toBeTruthy();
    expect(newId).not.toBe(oldId);

    for (const body of await readEverywhere(jar)) expect(body).toMatchObject({ user });
    for (const body of await readEverywhere(oldJar)) expect(body).toMatchObject({ user: null, views: 0 });
    expect(await app.session(oldId)).toBeNull();

    // A write sent with the old cookie starts a fresh session under a new id; the old id stays gone.
    const replay = oldJar.clone();
    expect((await app.request(replay, 'POST', '/visit')).body).toMatchObject({ user: null, views: 1 });
    const replayId = sessionIdOf(framework, replay);
    expect(replayId).toBeTruthy();
    expect(replayId).not.toBe(oldId);
    expect(await app.session(oldId)).toBeNull();
    for (const body of await readEverywhere(oldJar)) expect(body).toMatchObject({ user: null, views: 0 });
  });

  it('logging out ends the session on every worker at once', async () => {
    const jar = new CookieJar();
    const user = newUser();
    await app.request(jar, 'POST', `/login?user=${user}`);
    const id = sessionIdOf(framework, jar)!;
    const kept = jar.clone();
    for (const body of await readEverywhere(jar)) expect(body).toMatchObject({ user });

    await app.request(jar, 'POST', '/logout');
    for (const body of await readEverywhere(kept)) expect(body).toMatchObject({ user: null });
    expect(await app.session(id)).toBeNull();
  });

  it('logging out everywhere ends every session of the user on every worker at once', async () => {
    const user = newUser();
    const phone = new CookieJar();
    const laptop = new CookieJar();
    await app.request(phone, 'POST', `/login?user=${user}`);
    await app.request(laptop, 'POST', `/login?user=${user}`);
    const ids = [sessionIdOf(framework, phone)!, sessionIdOf(framework, laptop)!];
    const kept = [phone.clone(), laptop.clone()];
    for (const jar of kept) for (const body of await readEverywhere(jar)) expect(body).toMatchObject({ user });

    await app.request(phone, 'POST', '/logout-everywhere');
    for (const jar of kept) for (const body of await readEverywhere(jar)) expect(body).toMatchObject({ user: null });
    for (const id of ids) expect(await app.session(id)).toBeNull();
  });

  it('a request that was in flight during the logout does not bring the session back', async () => {
    const jar = new CookieJar();
    const user = newUser();
    await app.request(jar, 'POST', `/login?user=${user}`);
    const id = sessionIdOf(framework, jar)!;
    const kept = jar.clone();

    // The slow request has loaded the session; the logout happens while it waits.
    const slow = app.request(kept.clone(), 'GET', '/slow?ms=1500', { keep: true });
    await app.waitSlow();
    await app.request(jar, 'POST', '/logout');
    expect(await app.session(id)).toBeNull();
    const late = await slow;
    expect(late.body.user).toBe(user);

    // Once it has answered, the session is still over, everywhere.
    expect(await app.session(id), 'the session was stored again after the logout').toBeNull();
    for (const body of await readEverywhere(kept)) expect(body).toMatchObject({ user: null });
  });
});
