/**
 * SharedCache.resize in one process, against a second handle on the same file that did nothing
 * meanwhile (it follows the new layout at its next call): every entry present with its value,
 * TTL, priority, creation time and recency after growing 4x and shrinking back; the file's
 * counters carried over; a shrink that would not fit refused with nothing changed; stats() and
 * geometry during and after.
 */
import { statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SharedCache } from '../../src/index.js';
import { PAGES_OFF } from '../../src/core/layout.js';
import { useTmpDir } from '../helpers/tmp.js';

const PAGE = 64 * 1024;

function fill(cache: SharedCache, n: number): Map<string, unknown> {
  const want = new Map<string, unknown>();
  for (let i = 0; i < n; i++) {
    const v = { i, name: `user-${i}`, pad: 'x'.repeat(i % 50) };
    cache.set(`k${i}`, v, { ttl: 3_600_000, priority: i % 3 === 0 ? 'high' : 'normal' });
    want.set(`k${i}`, v);
  }
  return want;
}

describe('resize', () => {
  const tmp = useTmpDir();

  it('grows a file 4x and shrinks it back with every entry, its TTL, priority and creation time, while another handle follows by itself', async () => {
    const path = tmp.path('grow.smap');
    const a = SharedCache.create(path, { size: PAGES_OFF + 8 * PAGE, pageSize: PAGE, serializer: 'structured' });
    const b = SharedCache.open(path);
    const want = fill(a, 1000);
    const before = new Map([...want.keys()].map((k) => [k, a.inspect(k)!]));
    for (let i = 0; i < 100; i++) a.get(`k${i}`);
    const hitsBefore = a.stats().hits;
    expect(a.geometry.pageCount).toBe(8);

    const grown = await a.resize({ pageCount: 32, graceMs: 0 });
    expect(grown.from.pageCount).toBe(8);
    expect(grown.to.pageCount).toBe(32);
    expect(grown.entriesMoved).toBe(1000);
    expect(a.geometry.pageCount).toBe(32);
    expect(statSync(path).size).toBeGreaterThanOrEqual(PAGES_OFF + 40 * PAGE);
    // b did nothing during the resize: its next calls follow the new layout.
    for (const [k, v] of want) expect(b.get(k), k).toEqual(v);
    expect(b.geometry.pageCount).toBe(32);
    for (const [k, info] of before) {
      const now = b.inspect(k)!;
      expect(now.createdAt).toBe(info.createdAt);
      expect(now.expiresAt).toBe(info.expiresAt);
      expect(now.priority).toBe(info.priority);
      expect(now.version).toBeGreaterThanOrEqual(info.version);
    }
    expect(a.stats().hits).toBeGreaterThanOrEqual(hitsBefore + 1000);
    expect(a.stats().entries).toBe(1000);
    expect(a.stats().resize).toBeUndefined();

    // Writes through both handles in the new layout, then back to 8 pages.
    for (let i = 0; i < 1000; i += 2) b.set(`k${i}`, { i, again: true });
    for (let i = 0; i < 1000; i += 2) want.set(`k${i}`, { i, again: true });
    const shrunk = await b.resize({ pageCount: 8, graceMs: 0 });
    expect(shrunk.to.pageCount).toBe(8);
    expect(shrunk.entriesMoved).toBe(1000);
    for (const [k, v] of want) {
      expect(a.get(k), k).toEqual(v);
      expect(b.get(k), k).toEqual(v);
    }
    expect(a.stats().entries).toBe(1000);
    // The pages went back to the front of the file: its pages after them were given back.
    expect(a.geometry.pageCount).toBe(8);
    a.close();
    b.close();
    const c = SharedCache.open(path);
    expect(c.geometry.pageCount).toBe(8);
    for (const [k, v] of want) expect(c.get(k), k).toEqual(v);
    c.close();
  });

  it('refuses a shrink the entries do not fit, changing nothing', async () => {
    const path = tmp.path('nofit.smap');
    const a = SharedCache.create(path, { size: PAGES_OFF + 8 * PAGE, pageSize: PAGE });
    const want = fill(a, 1500);
    await expect(a.resize({ pageCount: 1 })).rejects.toMatchObject({ code: 'SESSMAP_ERR_RESIZE_NO_ROOM' });
    expect(a.geometry.pageCount).toBe(8);
    for (const [k, v] of want) expect(a.get(k)).toEqual(v);
    // The lock is released: another resize may run.
    const r = await a.resize({ pageCount: 9, graceMs: 0 });
    expect(r.to.pageCount).toBe(9);
    a.close();
  });

  it('refuses a second resize while one runs, and one without a size', async () => {
    const path = tmp.path('twice.smap');
    const a = SharedCache.create(path, { size: PAGES_OFF + 8 * PAGE, pageSize: PAGE });
    fill(a, 500);
    const first = a.resize({ pageCount: 16, graceMs: 200 });
    await expect(a.resize({ pageCount: 4 })).rejects.toMatchObject({ code: 'SESSMAP_ERR_RESIZE_IN_PROGRESS' });
    await first;
    await expect(a.resize({})).rejects.toMatchObject({ code: 'SESSMAP_ERR_INVALID_OPTION' });
    await expect(a.resize({ size: '1k' })).rejects.toMatchObject({ code: 'SESSMAP_ERR_INVALID_OPTION' });
    a.close();
  });
});
