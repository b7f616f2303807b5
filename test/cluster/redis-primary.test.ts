/**
 * A node:cluster app on Redis: setupPrimary({ redis }) in the primary, workers attaching with no
 * option of their own. Sessions are shared by the workers and the primary through Redis (no
 * file is made), every event reaches the primary's stream once, nothing in Redis holds a usable
 * session id, a worker cannot contradict the primary's Redis options, and the primary logs an
 * outage of Redis once, and its end once.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { eventually } from '../support/wait.js';
import { useRedis } from '../support/redis-suite.js';
import { sessionId, useClusterSuite } from './harness.js';

describe('a cluster on Redis', () => {
  const suite = useClusterSuite();
  const redis = useRedis([], { each: true });

  it('shares sessions between the workers and the primary through Redis, with each event once and no id in Redis', async () => {
    const c = await suite.start({ redis: { url: redis.server.url, prefix: 'app:' } });
    await c.fork(2);
    const id = sessionId('redis');
    const written = await c.callOk(0, 'setSession', id, { cart: [1, 2], userId: 'ada' });
    expect((await c.callOk(1, 'getSession', id)).data).toEqual(written.data);
    expect((await c.callOk('primary', 'getSession', id)).data).toEqual(written.data);
    await c.callOk(1, 'updateSession', id, { kind: 'merge', patch: { cart: [] } });
    expect((await c.callOk(0, 'getSession', id)).data).toEqual({ cart: [], userId: 'ada' });
    expect(existsSync(suite.tmp.path('sessions.smap')), 'a file was made for a cluster on Redis').toBe(false);

    const [sid] = await c.hashIds([id]);
    const events = await c.waitForEvents('created and updated', (e) => e.some((x) => x.name === 'updated'));
    expect(events.filter((e) => e.name === 'created').map((e) => (e.payload as { sid: string }).sid)).toEqual([sid]);
    expect(events.filter((e) => e.name === 'updated')).toHaveLength(1);

    const keys = redis.server.cli('--scan', '--pattern', 'app:*').split('\n').filter(Boolean);
    expect(keys.length).toBeGreaterThan(0);
    for (const k of keys) {
      expect(k, 'a key holds the session id').not.toContain(id);
      expect(redis.server.cli('DUMP', k), `${k} holds the session id`).not.toContain(id);
    }
  });

  it("accepts a worker that repeats the primary's Redis options, and refuses one that names another prefix", async () => {
    const c = await suite.start({ redis: { url: redis.server.url, prefix: 'app:' } });
    await c.fork(1, { attach: { redis: { url: redis.server.url, prefix: 'app:' } } });
    const r = await c.cmd({ cmd: 'fork', count: 1, boot: { attach: { redis: { url: redis.server.url, prefix: 'other:' } } } }, 90_000);
    expect(r.ok).toBe(false);
    expect(r.ok ? '' : String(r.error.message)).toMatch(/SESSMAP_ERR_OPTION_CONFLICT.*"redis\.prefix" is 'other:' in this worker but 'app:' in the cluster primary/);
  });

  it('logs an outage of Redis once, and its end once', async () => {
    const c = await suite.start({ redis: { url: redis.server.url, commandTimeout: 300 }, sweepInterval: 100 });
    await c.fork(1);
    await c.callOk(0, 'createSession', { n: 1 });
    await redis.server.kill();
    await eventually('the outage logged', async () => (await c.logs()).some((l) => l.includes('session backend unavailable')), { timeoutMs: 10_000 });
    await new Promise((r) => setTimeout(r, 1500));
    await redis.server.restart();
    await eventually('its end logged', async () => (await c.logs()).some((l) => l.includes('session backend available again')), { timeoutMs: 15_000 });
    await new Promise((r) => setTimeout(r, 500));
    const logs = await c.logs();
    expect(logs.filter((l) => l.includes('session backend unavailable'))).toHaveLength(1);
    expect(logs.filter((l) => l.includes('session backend available again'))).toHaveLength(1);
    // The worker's own connection comes back on its own backoff (up to 1 s), not with the primary's.
    const created = await eventually('a session made in the worker again', async () => {
      const r = await c.call(0, 'createSession', { n: 2 });
      return r.ok && r.value;
    }, { timeoutMs: 10_000, intervalMs: 100 });
    expect((await c.callOk('primary', 'getSession', created.id)).data).toEqual({ n: 2 });
  });
});

describe('a cluster on Redis with a near-cache', () => {
  const suite = useClusterSuite();
  const redis = useRedis([], { each: true });

  it('shares one near-cache file between the workers: a session one worker read is served to the other without Redis', async () => {
    const c = await suite.start({ redis: { url: redis.server.url, nearCache: { path: suite.tmp.path('near.smap') } } });
    await c.fork(2);
    const made = await c.callOk(0, 'createSession', { n: 1 });
    await eventually('the near-cache serving in the workers', async () => {
      await c.callOk(1, 'getSession', made.id);
      const counts = await c.callOk(1, 'backendStats');
      return counts.nearHits > 0;
    }, { timeoutMs: 10_000, intervalMs: 50 });
    const before = await c.callOk(0, 'backendStats');
    for (let i = 0; i < 10; i++) expect((await c.callOk(0, 'getSession', made.id)).data).toEqual({ n: 1 });
    const after = await c.callOk(0, 'backendStats');
    expect(after.nearHits - before.nearHits).toBe(10);
    await c.callOk(1, 'setSession', made.id, { n: 2 });
    expect((await c.callOk(0, 'getSession', made.id)).data).toEqual({ n: 2 });
  });
});
