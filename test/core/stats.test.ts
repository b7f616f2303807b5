import { describe, expect, it } from 'vitest';
import { statSync } from 'node:fs';
import { SharedCache } from '../../src/index.js';
import type { CounterStats } from '../../src/core/types.js';
import { manualClock } from '../helpers/clock.js';
import { openChild, useChildCleanup } from '../helpers/child.js';
import { useTmpDir } from '../helpers/tmp.js';

const COUNTERS = ['entries', 'bytesUsed', 'bytesFree', 'hits', 'misses', 'sets', 'evictedLive', 'evictedHigh', 'lockRecoveries', 'lockWaits', 'repairs'] as const;
const REASONS = ['expired', 'evicted', 'deleted', 'cleared', 'repaired'] as const;

function sumOfPages(pages: CounterStats[], pick: (p: CounterStats) => number): number {
  return pages.reduce((a, p) => a + pick(p), 0);
}

describe('stats()', () => {
  const tmp = useTmpDir();
  useChildCleanup();

  it('reports the geometry and sums every per-page counter into the totals', () => {
    const clock = manualClock();
    const path = tmp.path();
    const c = SharedCache.create(path, { pageCount: 4, pageSize: 16384, clock: clock.fn });
    try {
      for (let i = 0; i < 200; i++) c.set(`k${i}`, 'v'.repeat(i % 300), i % 5 === 0 ? { ttl: 100 } : {});
      for (let i = 0; i < 300; i++) c.get(`k${i}`);
      let deleted = 0;
      for (let i = 0; i < 20; i++) if (c.delete(`k${i * 3 + 1}`)) deleted++;
      clock.advance(200);
      c.purgeExpired();

      const s = c.stats();
      expect(s.pageCount).toBe(4);
      expect(s.pageSize).toBe(16384);
      expect(s.fileSize).toBe(statSync(path).size);
      expect(s.fileSize).toBe(c.geometry.fileSize);
      expect(s.maxItemBytes).toBe(c.maxItemBytes);
      expect(s.pages.map((p) => p.page)).toEqual([0, 1, 2, 3]);
      for (const f of COUNTERS) expect(s[f], f).toBe(sumOfPages(s.pages, (p) => p[f]));
      for (const r of REASONS) expect(s.removals[r], r).toBe(sumOfPages(s.pages, (p) => p.removals[r]));
      for (const p of s.pages) {
        for (const f of COUNTERS) expect(Number.isInteger(p[f]) && p[f] >= 0, `page ${p.page} ${f} = ${p[f]}`).toBe(true);
        expect(p.bytesUsed + p.bytesFree).toBeLessThanOrEqual(16384);
      }

      expect(s.sets).toBe(200);
      expect(s.hits + s.misses).toBe(300);
      expect(s.entries).toBe([...c.keys()].length);
      expect(s.removals.deleted).toBe(deleted);
      expect(s.removals.evicted + s.removals.expired + s.removals.deleted).toBe(200 - s.entries);
      expect(s.removals.cleared).toBe(0);
      expect(s.removals.repaired).toBe(0);
      expect(s.repairs).toBe(0);
      expect(s.lockRecoveries).toBe(0);
    } finally {
      c.close();
    }
  });

  it("counts another process's lock-free hits and misses, also when it exits without closing its handle", async () => {
    const path = tmp.path();
    const cache = SharedCache.create(path, { pageCount: 2, pageSize: 65536 });
    try {
      cache.set('x', 1);
      const before = cache.stats();
      const child = await openChild(path);
      for (let i = 0; i < 50; i++) expect(await child.callOk('get', 'x')).toBe(1);
      for (let i = 0; i < 5; i++) expect(await child.callOk('get', `nope${i}`)).toBeUndefined();
      await child.close(); // process.exit without cache.close()
      const after = cache.stats();
      expect(after.hits - before.hits).toBe(50);
      expect(after.misses - before.misses).toBe(5);
    } finally {
      cache.close();
    }
  });

  it('counts hits and misses exactly, and shares the counters between handles', () => {
    const path = tmp.path();
    const a = SharedCache.create(path, { pageCount: 2, pageSize: 65536 });
    const b = SharedCache.open(path);
    try {
      a.set('x', 1);
      a.set('y', 2);
      a.get('x');
      b.get('y');
      b.get('nope');
      a.getMany(['x', 'nope', 'nada']);
      for (const s of [a.stats(), b.stats()]) {
        expect(s.hits).toBe(3);
        expect(s.misses).toBe(3);
        expect(s.sets).toBe(2);
        expect(s.entries).toBe(2);
      }
    } finally {
      a.close();
      b.close();
    }
  });

  it('tracks bytes used and free as entries come and go', () => {
    const c = SharedCache.create(tmp.path(), { pageCount: 1, pageSize: 65536 });
    try {
      const empty = c.stats();
      expect(empty.entries).toBe(0);
      expect(empty.bytesUsed).toBe(0);
      c.set('k', 'x'.repeat(1000));
      const one = c.stats();
      expect(one.bytesUsed).toBeGreaterThanOrEqual(1000 + 1);
      expect(one.bytesFree).toBeLessThanOrEqual(empty.bytesFree - 1000);
      c.delete('k');
      const again = c.stats();
      expect(again.bytesUsed).toBe(0);
      expect(again.entries).toBe(0);
    } finally {
      c.close();
    }
  });
});
