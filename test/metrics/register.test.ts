/**
 * registerMetrics on a real file: with `path`, the metrics read the file's own counters at each
 * scrape, so what another process did (a child with its own handle) shows without that process
 * taking part; a live eviction and a lock taken over from a process killed while holding it show
 * in the metrics the alert rules watch. Also: the default registry, OpenMetrics names, one
 * snapshot per scrape, unregistering, a reinitialised file, and the options refused.
 */
import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import client, { Registry, type OpenMetricsContentType } from 'prom-client';
import { SharedCache } from '../../src/index.js';
import { registerMetrics } from '../../src/metrics/index.js';
import { setupPrimary } from '../../src/cluster/index.js';
import { expectScrapeMatchesStats, parsePromText } from '../support/scrape.js';
import { openChild, useChildCleanup } from '../helpers/child.js';
import { ONE_PAGE } from '../helpers/geometry.js';
import { useTmpDir } from '../helpers/tmp.js';

const scrape = async (r: Registry) => parsePromText(await r.metrics());

describe('registerMetrics({ path })', () => {
  const tmp = useTmpDir();
  useChildCleanup();

  it("exports the file's counters, another process's work included, as stats() reads them", async () => {
    const path = tmp.path();
    const owner = SharedCache.create(path, { size: '1m' });
    const registry = new Registry();
    const handle = registerMetrics({ register: registry, path });
    try {
      const empty = await scrape(registry);
      expectScrapeMatchesStats(empty, owner.stats());
      expect(empty.value('sessmap_sessions')).toBe(0);

      // 30 sets, 12 deletes, reads of the 18 left and of 5 missing keys, in another process.
      const child = await openChild(path);
      for (let i = 0; i < 30; i++) await child.callOk('set', `k${i}`, { i, pad: 'p'.repeat(i * 10) });
      for (let i = 0; i < 12; i++) expect(await child.callOk('delete', `k${i}`)).toBe(true);
      for (let i = 12; i < 30; i++) expect(await child.callOk('get', `k${i}`)).toEqual({ i, pad: 'p'.repeat(i * 10) });
      for (let i = 0; i < 5; i++) expect(await child.callOk('get', `none${i}`)).toBeUndefined();
      await child.close(); // its lock-free read counts reach the file when it closes

      const text = await scrape(registry);
      expectScrapeMatchesStats(text, owner.stats());
      expect(text.value('sessmap_sets_total')).toBe(30);
      expect(text.value('sessmap_removals_total', { reason: 'deleted' })).toBe(12);
      expect(text.value('sessmap_sessions')).toBe(18);
      expect(text.value('sessmap_hits_total')).toBe(18);
      expect(text.value('sessmap_misses_total')).toBe(5);
      expect(text.value('sessmap_bytes', { state: 'used' })).toBe(owner.stats().bytesUsed);
      expect(text.value('sessmap_bytes', { state: 'used' })).toBeGreaterThan(18 * 100);
      expect(text.value('sessmap_capacity_bytes')).toBe(owner.stats().bytesUsed + owner.stats().bytesFree);
      expect(handle.names).toContain('sessmap_sessions');
    } finally {
      handle.unregister();
      owner.close();
    }
    expect(await registry.metrics(), 'nothing left after unregister()').toBe('\n');
    expect(registry.getSingleMetric('sessmap_sessions')).toBeUndefined();
  });

  it('counts live evictions and a lock taken over from a killed holder', async () => {
    const path = tmp.path();
    const cache = SharedCache.create(path, { ...ONE_PAGE, lockTimeout: 10_000 });
    const registry = new Registry();
    const handle = registerMetrics({ register: registry, path });
    try {
      // One page of 64 KiB: 300 entries of ~250 bytes cannot all stay.
      for (let i = 0; i < 300; i++) cache.set(`e${i}`, 'v'.repeat(200), { ttl: 3_600_000 });
      const holder = await openChild(path, { lockTimeout: 10_000 }, { fault: 'lock:held', faultAction: 'hang' });
      void holder.fire('set', 'k', 'never');
      await holder.waitForFault('lock:held');
      await holder.kill9();
      cache.set('after', 1);

      const text = await scrape(registry);
      const s = cache.stats();
      expectScrapeMatchesStats(text, s);
      expect(s.evictedLive).toBeGreaterThan(0);
      expect(text.value('sessmap_evictions_live_total')).toBe(s.evictedLive);
      expect(text.value('sessmap_removals_total', { reason: 'evicted' })).toBe(s.removals.evicted);
      expect(text.value('sessmap_lock_recoveries_total')).toBe(1);
    } finally {
      handle.unregister();
      cache.close();
    }
  });

  it('follows the file when it is reinitialised, and refuses a file that is not there', async () => {
    const path = tmp.path();
    const first = SharedCache.create(path, { size: '1m' });
    first.set('a', 1);
    const registry = new Registry();
    const handle = registerMetrics({ register: registry, path });
    try {
      expect((await scrape(registry)).value('sessmap_sessions')).toBe(1);
      const again = SharedCache.create(path, { size: '1m', ifExists: 'reinit' });
      again.set('b', 2);
      again.set('c', 3);
      expect((await scrape(registry)).value('sessmap_sessions'), 'the new file, not the stale handle').toBe(2);
      again.close();
    } finally {
      handle.unregister();
      first.close();
    }
    expect(() => registerMetrics({ register: new Registry(), path: tmp.path('missing.smap') })).toThrow(expect.objectContaining({ code: 'SESSMAP_ERR_FILE_NOT_FOUND' }));
  });
});

describe('registerMetrics', () => {
  const tmp = useTmpDir();

  it("adds to prom-client's default registry when no register is given, and takes one snapshot per scrape", async () => {
    const cache = SharedCache.create(tmp.path(), { size: '1m' });
    let calls = 0;
    const counted = { stats: () => (calls++, cache.stats()) };
    const handle = registerMetrics({ cache: counted });
    try {
      cache.set('x', 1);
      const text = parsePromText(await client.register.metrics());
      expect(text.value('sessmap_sets_total')).toBe(1);
      expect(calls, 'one stats() for every metric of one scrape').toBe(1);
      await client.register.metrics();
      expect(calls).toBe(2);
      expect(() => registerMetrics({ cache }), 'registering twice on one registry').toThrow(
        expect.objectContaining({ code: 'SESSMAP_ERR_INVALID_OPTION', details: expect.objectContaining({ option: 'register' }) }),
      );
      expect(parsePromText(await client.register.metrics()).value('sessmap_sets_total'), 'the first registration is left as it was').toBe(1);
    } finally {
      handle.unregister();
      cache.close();
    }
    expect(client.register.getSingleMetric('sessmap_sets_total')).toBeUndefined();
  });

  it('gives OpenMetrics counters one _total', async () => {
    const cache = SharedCache.create(tmp.path(), { size: '1m' });
    const registry = new Registry<OpenMetricsContentType>();
    registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    const handle = registerMetrics({ register: registry, cache });
    try {
      cache.set('x', 1);
      const text = await registry.metrics();
      expect(text).toMatch(/^# TYPE sessmap_sets counter$/m);
      expect(text).toMatch(/^sessmap_sets_total 1$/m);
      expect(text).not.toMatch(/_total_total/);
      expect(text.trimEnd().endsWith('# EOF')).toBe(true);
    } finally {
      handle.unregister();
      cache.close();
    }
  });

  it('refuses options it cannot use, with SESSMAP_ERR_INVALID_OPTION naming the option', () => {
    const cache = { stats: () => ({}) as never };
    const cases: Array<[unknown, string]> = [
      [{}, 'options'],
      [{ register: new Registry() }, 'options'],
      [{ cache, path: '/x' }, 'cache'],
      [{ cache: {} }, 'cache'],
      [{ path: '' }, 'path'],
      [{ store: {} }, 'store'],
      [{ cache, register: {} }, 'register'],
    ];
    for (const [o, option] of cases) {
      expect(() => registerMetrics(o as never), JSON.stringify(o)).toThrow(expect.objectContaining({ code: 'SESSMAP_ERR_INVALID_OPTION', details: expect.objectContaining({ option }) }));
    }
  });
});

describe('setupPrimary({ metrics })', () => {
  const tmp = useTmpDir();

  it('refuses a metrics option it cannot use before it creates the file', () => {
    const cases: Array<[unknown, string]> = [
      [{}, 'metrics.port'],
      [{ port: 70_000 }, 'metrics.port'],
      [{ port: '9464' }, 'metrics.port'],
      [{ port: 0, host: '' }, 'metrics.host'],
      [{ port: 0, prot: 1 }, 'metrics.prot'],
      [{ port: 0, register: {} }, 'metrics.register'],
      [{ port: 0, register: { metrics: async () => '', contentType: 'text/plain', registerMetric() {} } }, 'metrics.register'],
      [9464, 'metrics'],
    ];
    for (const [metrics, option] of cases) {
      const path = tmp.path(`${option}.smap`);
      expect(() => setupPrimary({ path, metrics } as never), JSON.stringify(metrics)).toThrow(
        expect.objectContaining({ code: 'SESSMAP_ERR_INVALID_OPTION', details: expect.objectContaining({ option }) }),
      );
      expect(existsSync(path), `no file made for ${JSON.stringify(metrics)}`).toBe(false);
    }
  });
});
