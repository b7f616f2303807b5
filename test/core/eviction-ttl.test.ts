/**
 * Live evictions by the TTL the entry still had: a histogram per page (page header bytes 208-251),
 * counted under the lock in evictOne, summed by stats(), validated against the live evictions
 * (a histogram that claims more is damage, and repair starts it again).
 */
import { describe, expect, it } from 'vitest';
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { EVICTED_TTL_BOUNDS, SharedCache } from '../../src/index.js';
import { PAGES_OFF, P_EVICTED_LIVE_OFF, P_EVICTED_TTL_OFF } from '../../src/core/layout.js';
import type { RemovalEvent } from '../../src/core/types.js';
import { manualClock } from '../helpers/clock.js';
import { ONE_PAGE, expectAllPagesClean } from '../helpers/geometry.js';
import { useTmpDir } from '../helpers/tmp.js';

const KB = (i: number) => `${i}:`.padEnd(1000, 'v');

/** The bucket a live eviction with `left` ms falls in, by the documented bounds. */
function bucketOf(left: number): number {
  if (left === Infinity) return EVICTED_TTL_BOUNDS.length;
  return EVICTED_TTL_BOUNDS.findIndex((bound) => left < bound);
}

describe('the TTL left at live evictions', () => {
  const tmp = useTmpDir();

  it('counts each live eviction in the bucket of the TTL it still had, and no expiry', () => {
    const clock = manualClock();
    const events: RemovalEvent[] = [];
    const c = SharedCache.create(tmp.path(), { ...ONE_PAGE, clock: clock.fn, onRemove: (e) => events.push(e) });
    try {
      // TTLs from under a second to days, and none: every bucket gets evictions.
      const ttls = [500, 2_000, 10_000, 30_000, 100_000, 600_000, 2_000_000, 10_000_000, 40_000_000, 400_000_000, 0];
      for (let i = 0; i < 1200; i++) c.set(`k${i}`, KB(i), { ttl: ttls[i % ttls.length] });
      const evictions = events.filter((e) => e.reason === 'evicted');
      expect(evictions.length).toBeGreaterThan(300);
      const want = new Array<number>(EVICTED_TTL_BOUNDS.length + 1).fill(0);
      for (const e of evictions) if (e.ttlLeft! > 0) want[bucketOf(e.ttlLeft!)]++;
      const s = c.stats();
      expect(s.evictedLiveTtl).toEqual(want);
      expect(want.every((n) => n > 0), `every bucket was reached: ${want}`).toBe(true);
      expect(s.evictedLiveTtl.reduce((a, b) => a + b, 0)).toBe(s.evictedLive);
      expect(s.pages[0].evictedLiveTtl).toEqual(want);

      // Entries that expired make room by expiring: the histogram does not move.
      clock.advance(1_000_000_000);
      const before = c.stats();
      for (let i = 0; i < 20; i++) c.set(`later${i}`, KB(i));
      const after = c.stats();
      expect(after.removals.expired).toBeGreaterThan(before.removals.expired);
      expect(after.evictedLiveTtl).toEqual(before.evictedLiveTtl);
      expectAllPagesClean(c);
    } finally {
      c.close();
    }
  });

  it('finds a histogram that claims more live evictions than were counted, and repair starts it again', () => {
    const path = tmp.path();
    const made = SharedCache.create(path, { ...ONE_PAGE });
    for (let i = 0; i < 200; i++) made.set(`k${i}`, KB(i), { ttl: 60_000 });
    const live = made.stats().evictedLive;
    expect(live).toBeGreaterThan(0);
    made.close();

    const fd = openSync(path, 'r+');
    try {
      const counted = Buffer.alloc(8);
      readSync(fd, counted, 0, 8, PAGES_OFF + P_EVICTED_LIVE_OFF);
      expect(counted.readDoubleLE(0)).toBe(live);
      const hostile = Buffer.alloc(4);
      hostile.writeUInt32LE(live + 1_000_000);
      writeSync(fd, hostile, 0, 4, PAGES_OFF + P_EVICTED_TTL_OFF + 4 * 3);
    } finally {
      closeSync(fd);
    }
    const c = SharedCache.open(path);
    try {
      expect(c.stats().evictedLiveTtl[3]).toBeGreaterThan(live);
      expect(c.verifyPage(0)).toEqual(['eviction TTL histogram exceeds the live evictions']);
      const r = c.repairPage(0);
      expect(r.problems).toEqual(['eviction TTL histogram exceeds the live evictions']);
      expect(r.dropped).toBe(0);
      const s = c.stats();
      expect(s.evictedLiveTtl).toEqual(new Array<number>(EVICTED_TTL_BOUNDS.length + 1).fill(0));
      expect(s.evictedLive).toBe(live);
      expect(s.entries).toBeGreaterThan(0);
      expect(c.verifyPage(0)).toEqual([]);
    } finally {
      c.close();
    }
  });
});
