/**
 * A process on its own (openSessionStore, no cluster) reports live sessions lost to capacity as
 * a cluster primary does: one aggregated `capacity` event per interval carrying how many live
 * sessions were evicted in it, and a warn line per interval, not one per eviction.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { openSessionStore, type SessionStore } from '../../src/index.js';
import { useTmpDir } from '../helpers/tmp.js';
import { sleep } from '../support/wait.js';

const INTERVAL = 150;

describe('capacity without a cluster', () => {
  const tmp = useTmpDir();
  const stores: SessionStore[] = [];
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });

  it('emits capacity events that add up to the live evictions, one per interval, and warns once per interval', async () => {
    const warns: Array<Record<string, unknown>> = [];
    const logger = {
      child: () => logger,
      debug: () => {},
      info: () => {},
      warn: (o: object, msg?: string) => void warns.push({ ...o, msg }),
      error: () => {},
    };
    const store = await openSessionStore({ path: tmp.path(), size: 4096 + 8 * 16 * 1024, pageSize: '16k', evictionPolicy: 'lru', capacityInterval: INTERVAL, sweepInterval: 0, logger });
    stores.push(store);
    const evicted: number[] = [];
    const capacity: Array<{ evictedLive: number; intervalMs: number }> = [];
    store.events.on('evicted', (e) => void (e.live && evicted.push(e.ttlLeft)));
    store.events.on('capacity', (e) => void capacity.push(e));

    for (let i = 0; i < 300; i++) await store.createSession({ pad: 'x'.repeat(1000), i });
    expect(evicted.length, 'live sessions evicted by 300 sessions of 1 KiB in 128 KiB').toBeGreaterThan(0);
    const until = Date.now() + 5 * INTERVAL + 2000;
    while (capacity.reduce((n, e) => n + e.evictedLive, 0) < evicted.length && Date.now() < until) await sleep(20);

    expect(capacity.reduce((n, e) => n + e.evictedLive, 0)).toBe(evicted.length);
    for (const e of capacity) expect(e.intervalMs).toBe(INTERVAL);
    const lines = warns.filter((w) => w.msg === 'live sessions were evicted: the cache is too small');
    expect(lines.length).toBe(capacity.length);
    expect(capacity.length).toBeLessThan(evicted.length);
  });

  it('stops counting when the store closes', async () => {
    const store = await openSessionStore({ path: tmp.path(), size: 4096 + 8 * 16 * 1024, pageSize: '16k', evictionPolicy: 'lru', capacityInterval: INTERVAL, sweepInterval: 0 });
    const capacity: unknown[] = [];
    store.events.on('capacity', (e) => void capacity.push(e));
    let evicted = 0;
    store.events.on('evicted', (e) => void (e.live && evicted++));
    for (let i = 0; i < 300; i++) await store.createSession({ pad: 'x'.repeat(1000), i });
    expect(evicted).toBeGreaterThan(0);
    const before = capacity.length;
    await store.close();
    await sleep(3 * INTERVAL);
    expect(capacity).toHaveLength(before);
  });
});
