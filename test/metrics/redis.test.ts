/**
 * registerMetrics({ store }) on a store on a real redis-server with a near-cache: the command
 * latency histogram, the command errors by kind (an error reply: Redis at maxmemory with
 * noeviction; a timeout and the calls refused after it: the server stopped with SIGSTOP) and the
 * near-cache's hits, misses and flushes, each what the store's backendMetrics() says at the same
 * moment of the same scrape.
 */
import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { openSessionStore } from '../../src/index.js';
import { registerMetrics } from '../../src/metrics/index.js';
import type { BackendMetrics, SessionStore } from '../../src/sessions/types.js';
import { parsePromText, type PromText } from '../support/scrape.js';
import { useRedis } from '../support/redis-suite.js';
import { eventually } from '../support/wait.js';
import { useTmpDir } from '../helpers/tmp.js';

const DURATION = 'sessmap_redis_command_duration_seconds';

/** The store's figures and a scrape, taken in one synchronous run (prom-client reads every metric before its first await). */
async function scrapeWith(registry: Registry, store: SessionStore): Promise<{ m: BackendMetrics; text: PromText }> {
  const m = store.backendMetrics!()!;
  const body = registry.metrics();
  return { m, text: parsePromText(await body) };
}

/** Every backend metric of the scrape is what backendMetrics() said. */
function expectScrapeMatches(text: PromText, m: BackendMetrics): void {
  for (const kind of ['reply', 'timeout', 'unavailable'] as const) {
    expect(text.value('sessmap_redis_command_errors_total', { kind }), `errors of kind ${kind}`).toBe(m.commandErrors[kind]);
  }
  const buckets = text.all(`${DURATION}_bucket`);
  expect(buckets.map((b) => b.labels.le)).toEqual([...m.commandSeconds.bounds.map(String), '+Inf']);
  let seen = 0;
  m.commandSeconds.bounds.forEach((_, i) => {
    seen += m.commandSeconds.counts[i];
    expect(buckets[i].value, `bucket le=${buckets[i].labels.le}`).toBe(seen);
  });
  expect(buckets.at(-1)!.value).toBe(m.commandSeconds.count);
  expect(text.value(`${DURATION}_count`)).toBe(m.commandSeconds.count);
  expect(text.value(`${DURATION}_sum`)).toBe(m.commandSeconds.sum);
  expect(text.types.get(DURATION)).toBe('histogram');
  const near = m.nearCache!;
  expect(text.value('sessmap_near_cache_hits_total')).toBe(near.hits);
  expect(text.value('sessmap_near_cache_misses_total')).toBe(near.misses);
  expect(text.value('sessmap_near_cache_invalidations_total')).toBe(near.invalidations);
  expect(text.value('sessmap_near_cache_flushes_total')).toBe(near.flushes);
  // A store on Redis has no file metrics.
  expect(text.types.has('sessmap_sessions')).toBe(false);
}

describe('registerMetrics({ store }) on Redis', () => {
  const redis = useRedis([], { each: true });
  const tmp = useTmpDir();

  it("exports the store's command latencies, command errors and near-cache counts", async () => {
    const store = await openSessionStore({
      sweepInterval: 0,
      redis: { url: redis.server.url, prefix: `m${process.pid}:`, commandTimeout: 300, nearCache: { path: tmp.path('near.smap'), maxAge: 60_000 } },
    });
    const registry = new Registry();
    const handle = registerMetrics({ register: registry, store });
    try {
      const s = await store.createSession({ n: 1 });
      await eventually('a read served by the near-cache', async () => {
        await store.getSession(s.id);
        return store.backendMetrics!()!.nearCache!.hits > 0;
      });
      for (let i = 0; i < 5; i++) expect(await store.getSession(`absent-${i}-xxxxxxxxxxxxxxxx`)).toBeUndefined();
      const quiet = await scrapeWith(registry, store);
      expectScrapeMatches(quiet.text, quiet.m);
      expect(quiet.m.commandSeconds.count, 'commands timed').toBeGreaterThan(0);
      expect(quiet.m.commandSeconds.sum).toBeGreaterThan(0);
      expect(quiet.m.nearCache!.hits).toBeGreaterThan(0);
      expect(quiet.m.nearCache!.misses, 'the absent sessions, at least').toBeGreaterThanOrEqual(5);
      expect(quiet.m.commandErrors).toEqual({ reply: 0, timeout: 0, unavailable: 0 });

      // An error reply: Redis at maxmemory evicts nothing (noeviction) and refuses the write.
      redis.server.cli('CONFIG', 'SET', 'maxmemory', '1');
      await expect(store.setSession(s.id, { n: 2 })).rejects.toMatchObject({ code: 'SESSMAP_ERR_CACHE_FULL' });
      redis.server.cli('CONFIG', 'SET', 'maxmemory', '0');
      const refused = await scrapeWith(registry, store);
      expectScrapeMatches(refused.text, refused.m);
      expect(refused.m.commandErrors.reply).toBeGreaterThanOrEqual(1);
      expect(refused.m.commandSeconds.count, 'an error reply is a reply: timed').toBeGreaterThan(quiet.m.commandSeconds.count);

      // A hung server: a call times out, the next fails at once (the breaker), both counted.
      redis.server.signal('SIGSTOP');
      try {
        await expect(store.getSession('not-in-the-near-cache-xxxxxxxx')).rejects.toMatchObject({ code: 'SESSMAP_ERR_BACKEND_UNAVAILABLE' });
        await expect(store.getSession('nor-this-one-xxxxxxxxxxxxxxxxx')).rejects.toMatchObject({ code: 'SESSMAP_ERR_BACKEND_UNAVAILABLE' });
      } finally {
        redis.server.signal('SIGCONT');
      }
      const hung = await scrapeWith(registry, store);
      expectScrapeMatches(hung.text, hung.m);
      expect(hung.m.commandErrors.timeout).toBeGreaterThanOrEqual(1);
      expect(hung.m.commandErrors.unavailable).toBeGreaterThanOrEqual(1);
      await eventually('Redis answering again', async () => (await store.getSession(s.id).then(() => true, () => false)) || undefined);
      const back = await scrapeWith(registry, store);
      expectScrapeMatches(back.text, back.m);
      expect(back.m.nearCache!.flushes, 'the near-cache emptied when its channel was lost, or when it started').toBeGreaterThanOrEqual(1);
    } finally {
      handle.unregister();
      await store.close();
    }
  });
});
