import { describe, expect, it } from 'vitest';
import { SharedCache } from '../../src/index.js';
import { expectCode } from '../helpers/errors.js';
import { ONE_PAGE, expectAllPagesClean } from '../helpers/geometry.js';
import { useCacheOpener } from '../support/caches.js';

const KB = (i: number) => `${i}:`.padEnd(1000, 'v');

describe('limits of what a page can hold', () => {
  const { events, clock, open } = useCacheOpener({ defaults: ONE_PAGE, fileName: (i) => `c${i}.smap` });

  /** Fills with ~1 KB entries up to the first eviction; returns the keys still present and their values. */
  function fill(cache: SharedCache): Map<string, string> {
    const live = new Map<string, string>();
    for (let i = 0; events.length === 0; i++) {
      expect(i).toBeLessThan(5000);
      cache.set(`e${i}`, KB(i));
      live.set(`e${i}`, KB(i));
    }
    for (const e of events) live.delete(e.key);
    return live;
  }

  it.each([
    ['64 KiB', { pageSize: 65536 }],
    ['8 KiB', { pageSize: 8192 }],
    ['256 KiB with 64 slots', { pageSize: 262144, slotsPerPage: 64 }],
  ])('stores an item of exactly maxItemBytes and refuses one byte more (%s pages, raw)', (_l, geo) => {
    const cache = open({ pageCount: 1, ...geo, serializer: 'raw' });
    const max = cache.maxItemBytes;
    expect(max).toBe(cache.stats().maxItemBytes);
    expect(max).toBeGreaterThan(geo.pageSize / 4);
    expect(max).toBeLessThan(geo.pageSize);
    const fits = Buffer.alloc(max - 1, 7);
    cache.set('k', fits);
    expect(fits.equals(cache.get('k') as Buffer)).toBe(true);
    expectCode(() => cache.set('k', Buffer.alloc(max, 8)), 'SESSMAP_ERR_VALUE_TOO_LARGE');
    expect(fits.equals(cache.get('k') as Buffer)).toBe(true);
    // Key bytes count too: a 2-byte key leaves one byte less for the value.
    expectCode(() => cache.set('é', Buffer.alloc(max - 1)), 'SESSMAP_ERR_VALUE_TOO_LARGE');
    cache.set('é', Buffer.alloc(max - 2, 1));
    expect((cache.get('é') as Buffer).length).toBe(max - 2);
  });

  it('counts the serialized bytes of a JSON value against maxItemBytes', () => {
    const cache = open();
    const max = cache.maxItemBytes;
    // key 'j' (1 byte) + JSON '"..."' (length + 2 quotes)
    const fits = 'x'.repeat(max - 3);
    cache.set('j', fits);
    expect(cache.get('j')).toBe(fits);
    expectCode(() => cache.set('j', `${fits}x`), 'SESSMAP_ERR_VALUE_TOO_LARGE');
    expect(cache.get('j')).toBe(fits);
  });

  it('refuses a too-large item before evicting anything, keeping the old value', () => {
    const cache = open();
    const live = fill(cache);
    const [victim, old] = [...live][live.size - 1];
    const before = cache.stats();
    const removed = events.length;
    const tooBig = 'x'.repeat(cache.maxItemBytes);

    expectCode(() => cache.set(victim, tooBig), 'SESSMAP_ERR_VALUE_TOO_LARGE');
    expectCode(() => cache.set('brand-new', tooBig), 'SESSMAP_ERR_VALUE_TOO_LARGE');
    expectCode(() => cache.replace(victim, tooBig), 'SESSMAP_ERR_VALUE_TOO_LARGE');
    expectCode(() => cache.add('brand-new', tooBig), 'SESSMAP_ERR_VALUE_TOO_LARGE');
    expectCode(() => cache.update(victim, () => tooBig), 'SESSMAP_ERR_VALUE_TOO_LARGE');

    expect(events.length, 'something was evicted for a write that was refused').toBe(removed);
    const after = cache.stats();
    expect(after.removals).toEqual(before.removals);
    expect(after.entries).toBe(before.entries);
    expect(after.bytesUsed).toBe(before.bytesUsed);
    expect(cache.get(victim)).toBe(old);
    expect(cache.has('brand-new')).toBe(false);
    for (const [k, v] of live) expect(cache.get(k)).toBe(v);
  });

  it("with policy 'none' refuses a write that would evict a live entry, keeping the old value", () => {
    const cache = open({ evictionPolicy: 'none' });
    const live = new Map<string, string>();
    let full: unknown;
    for (let i = 0; full === undefined; i++) {
      expect(i).toBeLessThan(5000);
      try {
        cache.set(`e${i}`, KB(i));
        live.set(`e${i}`, KB(i));
      } catch (err) {
        full = err;
        expect(cache.has(`e${i}`)).toBe(false);
      }
    }
    expect((full as { code?: string }).code).toBe('SESSMAP_ERR_CACHE_FULL');
    expect(live.size).toBeGreaterThan(20);

    const [victim, old] = [...live][0];
    expectCode(() => cache.set(victim, 'y'.repeat(8000)), 'SESSMAP_ERR_CACHE_FULL');
    expectCode(() => cache.update(victim, () => 'y'.repeat(8000)), 'SESSMAP_ERR_CACHE_FULL');
    expect(cache.get(victim)).toBe(old);
    expect(events).toEqual([]);
    expect(cache.stats().removals.evicted).toBe(0);
    for (const [k, v] of live) expect(cache.get(k)).toBe(v);

    // Room made by deletes is used.
    const keys = [...live.keys()];
    for (const k of keys.slice(1, 12)) cache.delete(k);
    cache.set(victim, 'y'.repeat(8000));
    expect(cache.get(victim)).toBe('y'.repeat(8000));
    expectAllPagesClean(cache);
  });

  it("with policy 'none' still drops expired entries to make room", () => {
    const cache = open({ evictionPolicy: 'none' });
    const expiring: string[] = [];
    for (let i = 0; ; i++) {
      expect(i).toBeLessThan(5000);
      try {
        cache.set(`t${i}`, KB(i), { ttl: 1_000 });
        expiring.push(`t${i}`);
      } catch (err) {
        expect((err as { code?: string }).code).toBe('SESSMAP_ERR_CACHE_FULL');
        break;
      }
    }
    clock.advance(2_000);
    for (let j = 0; j < 10; j++) cache.set(`n${j}`, KB(j));
    for (let j = 0; j < 10; j++) expect(cache.get(`n${j}`)).toBe(KB(j));
    expect(events.length).toBeGreaterThan(0);
    for (const e of events) {
      expect(expiring).toContain(e.key);
      expect(e.reason === 'expired' || (e.reason === 'evicted' && e.ttlLeft === 0), JSON.stringify(e)).toBe(true);
    }
    expect(cache.stats().evictedLive).toBe(0);
  });

  it.each([65536, 8192])('can always store an item of maxItemBytes, even in a page full of small entries (%i-byte page)', (pageSize) => {
    const cache = open({ pageCount: 1, pageSize, serializer: 'raw' });
    const max = cache.maxItemBytes;
    let n = 0;
    const small = () => {
      const key = `s${n++}`;
      cache.set(key, Buffer.alloc(60, n & 0xff));
      return key;
    };
    for (let i = 0; events.length === 0; i++) {
      expect(i).toBeLessThan(10_000);
      small();
    }
    for (let round = 0; round < 10; round++) {
      const key = `max${round}`;
      const value = Buffer.alloc(max - Buffer.byteLength(key), round + 1);
      cache.set(key, value);
      expect(value.equals(cache.get(key) as Buffer), `round ${round}`).toBe(true);
      // Refill with small entries, and fragment the page by deleting every other one.
      const written: string[] = [];
      for (let i = 0; i < 40; i++) written.push(small());
      written.forEach((k, i) => i % 2 === 0 && cache.delete(k));
    }
    expectAllPagesClean(cache);
  });
});
