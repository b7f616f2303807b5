import { describe, expect, it } from 'vitest';
import { SID, named, sleep, tally, useClusterSuite } from './harness.js';

const CAPACITY_INTERVAL = 200;
/** 64 pages of 16 KiB; ~40 sessions of ~450 bytes fit a page, ~2,500 the file. */
const SETUP = {
  size: '1m',
  pageSize: '16k',
  evictionPolicy: 'protect-authenticated',
  idleTimeout: 600_000,
  sweepInterval: 600_000,
  capacityInterval: CAPACITY_INTERVAL,
};
const AUTHENTICATED = 500;
const ANONYMOUS_PER_WORKER = 2_500;

interface Made {
  ids: string[];
  errors: unknown[];
}

describe('eviction under pressure', () => {
  const suite = useClusterSuite();

  it('evicts anonymous sessions before authenticated ones, emitting evicted once for each with its ttlLeft', async () => {
    const c = await suite.start(SETUP);
    await c.fork(2);

    const users = await c.script<Made>(0, { name: 'createMany', count: AUTHENTICATED, padBytes: 200, userIdPrefix: 'user-', tag: 'auth' });
    expect(users.errors).toEqual([]);
    // A flood of anonymous sessions from both workers at once: twice what the file holds.
    const floods = await Promise.all(
      [0, 1].map((w) => c.script<Made>(w, { name: 'createMany', count: ANONYMOUS_PER_WORKER, padBytes: 200, tag: 'anon' }, 120_000)),
    );
    for (const f of floods) expect(f.errors).toEqual([]);
    const anonymous = floods.flatMap((f) => f.ids);

    // Every authenticated session survived the flood.
    expect((await c.whichExist('primary', users.ids)).length, 'authenticated sessions evicted').toBe(AUTHENTICATED);
    const survivors = new Set(await c.whichExist(1, anonymous));
    const gone = anonymous.filter((id) => !survivors.has(id));
    expect(gone.length, 'the flood evicted nothing: no pressure').toBeGreaterThan(anonymous.length / 4);

    // One evicted event per evicted session, reaching the primary once, with a live ttlLeft.
    await c.waitForEvents(`${gone.length} evicted events`, (e) => named(e, 'evicted').length >= gone.length, 30_000);
    await sleep(3 * CAPACITY_INTERVAL);
    const evs = await c.events();
    const evicted = named(evs, 'evicted');
    const goneSids = new Set(await c.hashIds(gone));
    expect(evicted.length).toBe(gone.length);
    expect([...tally(evicted.map((e) => e.sid)).values()].every((n) => n === 1), 'a session evicted twice').toBe(true);
    for (const e of evicted) {
      expect(goneSids.has(e.sid), 'an evicted event for a session that is still there (or authenticated)').toBe(true);
      expect(e.sid).toMatch(SID);
      expect(e.live).toBe(true);
      expect(e.ttlLeft).toBeGreaterThan(0);
      expect(e.uid, 'anonymous sessions have no uid').toBeUndefined();
    }

    // Live evictions are a capacity alarm: aggregated per interval on the event and at warn.
    const capacity = named(evs, 'capacity');
    expect(capacity.length).toBeGreaterThan(0);
    expect(capacity.reduce((n, e) => n + e.evictedLive, 0)).toBe(gone.length);
    for (const e of capacity) expect(e.intervalMs).toBe(CAPACITY_INTERVAL);
    const warns = (await c.logs()).map((l) => JSON.parse(l)).filter((l) => l.level === 40);
    expect(warns.length, 'no warn line about live evictions').toBeGreaterThan(0);
    expect(warns.length, 'one warn line per eviction instead of per interval').toBeLessThanOrEqual(capacity.length + 5);
  }, 120_000);
});
