import { describe, expect, it } from 'vitest';
import { FRAMEWORKS } from '../fixtures/adapters/wire.js';
import { CookieJar, pidsOf, useAppSuite } from './app-cluster.js';
import { parallel } from './http.js';

describe.each(FRAMEWORKS)('%s in a two-worker cluster', (framework) => {
  const suite = useAppSuite({ perTest: true });

  it('serves a logged-in session from every worker, each seeing the last write at once', async () => {
    const app = await suite.start(framework);
    const workers = await app.workers();
    expect(workers).toHaveLength(2);

    const jar = new CookieJar();
    const login = await app.request(jar, 'POST', '/login?user=alice');
    expect(login.body.user).toBe('alice');
    expect(jar.size).toBeGreaterThan(0);

    // Forty reads, eight at a time, one connection each: they land on both workers.
    const reads = [];
    for (let batch = 0; batch < 5; batch++) reads.push(...(await parallel(8, () => app.request(jar, 'GET', '/me'))));
    for (const r of reads) expect(r.body, `a read on worker ${r.body.pid}`).toMatchObject({ user: 'alice' });
    expect(pidsOf(reads)).toEqual(new Set(workers));

    // Writes one after another, alternating workers: each sees the one before, wherever it ran.
    const writes = [];
    for (let i = 1; i <= 10; i++) {
      const r = await app.request(jar, 'POST', '/visit');
      expect(r.body.views, `visit ${i} on worker ${r.body.pid}`).toBe(i);
      writes.push(r);
    }
    expect(pidsOf(writes)).toEqual(new Set(workers));
    expect(await app.countSessions()).toBe(1);
  });
});
