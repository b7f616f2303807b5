import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COOKIE_NAME, FRAMEWORKS, type CallCounts } from '../fixtures/adapters/wire.js';
import { CookieJar, pidsOf, useAppSuite, type AppCluster } from './app-cluster.js';
import { parallel, sessionIdOf, signedJar, tamperedJar } from './http.js';

/** Calls made between two snapshots, methods with none left out. */
function delta(before: CallCounts, after: CallCounts): CallCounts {
  const out: CallCounts = {};
  for (const [k, v] of Object.entries(after)) if (v !== (before[k] ?? 0)) out[k] = v - (before[k] ?? 0);
  return out;
}

describe.each(FRAMEWORKS)('%s in a two-worker cluster', (framework) => {
  const suite = useAppSuite();
  let app: AppCluster;
  let workers: Set<number>;

  beforeAll(async () => {
    app = await suite.start(framework);
    workers = new Set(await app.workers());
  });
  afterAll(() => suite.shutdownAll());

  it('rejects a tampered or malformed session cookie on every worker without touching the store', async () => {
    const jar = new CookieJar();
    await app.request(jar, 'POST', '/login?user=mallory-target');
    const id = sessionIdOf(framework, jar)!;
    expect((await app.session(id))?.data).toMatchObject({ user: 'mallory-target' });
    // The test signs as the framework does: the real id, signed here, is accepted. So the
    // malformed ids below, signed the same way, do reach the adapter.
    expect((await app.request(signedJar(framework, id), 'GET', '/me', { keep: true })).body.user).toBe('mallory-target');

    // Cookies the framework refuses, and ids that cannot be session ids: the store is not asked.
    const refused: Record<string, CookieJar> = {
      'a valid id with one character changed under the old signature': tamperedJar(framework, jar),
      'the valid id with no signature at all': new CookieJar([[COOKIE_NAME[framework], framework === 'express' ? encodeURIComponent(`s:${id}`) : id]]),
      'a signed empty id': signedJar(framework, ''),
      'a signed id of 513 bytes': signedJar(framework, 'A'.repeat(513)),
    };
    // express-session and @fastify/session decode the cookie value: %00 arrives as a NUL.
    if (framework !== 'koa') refused['a signed id with a control character'] = signedJar(framework, 'abc\u0000def');
    // Ids of any shape a framework can make (a custom genid may), signed as the app would sign
    // them but never stored: the store is asked once and finds nothing; no session is adopted.
    const unknown: Record<string, CookieJar> = {
      'a signed id that is short': signedJar(framework, 'abc'),
      'a signed path-like id': signedJar(framework, '../../etc/passwd-AAAAAAAAAAAAAAAA'),
      'a signed id of 200 characters': signedJar(framework, 'A'.repeat(200)),
    };

    const stored = await app.session(id);
    const countBefore = await app.countSessions();
    for (const [what, bad] of [...Object.entries(refused), ...Object.entries(unknown)]) {
      const before = await app.calls();
      const replies = await parallel(6, () => app.request(bad.clone(), 'GET', '/me', { keep: true }));
      const after = await app.calls();
      expect(pidsOf(replies), what).toEqual(workers);
      for (const r of replies) {
        expect(r.status, what).toBe(200);
        expect(r.body, what).toMatchObject({ user: null, views: 0 });
        // Nothing to the client names the forged id, and no session was started for it.
        for (const c of r.setCookies) expect(c.split(';')[0], what).not.toContain(id);
      }
      expect(delta(before, after), `calls on the SessionStore for ${what}`).toEqual(what in refused ? {} : { getSession: 6 });
    }
    expect(await app.countSessions()).toBe(countBefore);

    // The real session is untouched by all that.
    expect((await app.session(id))?.version).toBe(stored?.version);
    for (const r of await parallel(6, () => app.request(jar.clone(), 'GET', '/me', { keep: true }))) expect(r.body.user).toBe('mallory-target');
  });
});
