import { describe, expect, it } from 'vitest';
import { useRedis } from '../support/redis-suite.js';
import { FRAMEWORKS } from '../fixtures/adapters/wire.js';
import { CookieJar, pidsOf, useAppSuite } from './app-cluster.js';
import { parallel, sessionIdOf } from './http.js';

const REQUESTS = 200;

// On the file, and on Redis (connect-redis #75: a slow request overwriting a fast one).
const redis = useRedis();

describe.each(FRAMEWORKS.flatMap((f) => (['file', 'Redis'] as const).map((b) => [f, b] as const)))('%s in a two-worker cluster on %s', (framework, backend) => {
  const suite = useAppSuite({ perTest: true });

  it(`loses no increment when ${REQUESTS} parallel requests update one session through updateSession`, async () => {
    const app = await suite.start(framework, backend === 'file' ? {} : { setup: { redis: { url: redis.server.url, prefix: `incr-${framework}:` } } });
    const workers = new Set(await app.workers());
    const jar = new CookieJar();
    await app.request(jar, 'POST', '/login?user=counter');
    const id = sessionIdOf(framework, jar)!;

    const replies = await parallel(REQUESTS, () => app.request(jar.clone(), 'POST', '/incr', { keep: true }));
    for (const r of replies) expect(r.status).toBe(200);
    expect(pidsOf(replies)).toEqual(workers);
    // Each increment saw the one before it, whichever worker made it: the values are 1..200.
    const seen = replies.map((r) => r.body.n);
    expect({ distinct: new Set(seen).size, lowest: Math.min(...seen), highest: Math.max(...seen) }).toEqual({ distinct: REQUESTS, lowest: 1, highest: REQUESTS });

    // And what the framework saved at the end of each request did not write an older count back.
    expect((await app.session(id))?.data.n).toBe(REQUESTS);
    for (const r of await parallel(4, () => app.request(jar.clone(), 'GET', '/me', { keep: true }))) expect(r.body).toMatchObject({ user: 'counter', n: REQUESTS });
  });
});
