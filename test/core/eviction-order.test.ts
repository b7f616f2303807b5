import { describe, expect, it } from 'vitest';
import { SharedCache } from '../../src/index.js';
import { ONE_PAGE } from '../helpers/geometry.js';
import { useCacheOpener } from '../support/caches.js';

const KB = (i: number) => `${i}:`.padEnd(1000, 'v');

describe('eviction when a page is full (policy lru)', () => {
  const { events, clock, open } = useCacheOpener({ defaults: ONE_PAGE });

  /** Writes `key(i)` = value(i) for i = 0, 1, ... until a write causes the first removal; returns the keys in write order. */
  function fillUntilEviction(cache: SharedCache, key: (i: number) => string, value: (i: number) => unknown, opts?: (i: number) => object): string[] {
    const keys: string[] = [];
    for (let i = 0; events.length === 0; i++) {
      expect(i, 'the page never filled up').toBeLessThan(5000);
      cache.set(key(i), value(i), opts?.(i));
      keys.push(key(i));
    }
    return keys;
  }

  it('evicts the least recently used entry when the page is full', () => {
    const cache = open();
    const order = fillUntilEviction(cache, (i) => `e${i}`, KB);
    let evicted = events.map((e) => e.key);
    expect(events.every((e) => e.reason === 'evicted')).toBe(true);
    expect(evicted, 'the oldest entries go first').toEqual(order.slice(0, evicted.length));
    order.splice(0, evicted.length);
    events.length = 0;

    // Reading the oldest survivor makes it the most recently used...
    const read = order.shift()!;
    expect(cache.get(read)).toBe(KB(Number(read.slice(1))));
    order.push(read);
    // ...and so does overwriting the next oldest (which itself may need one eviction).
    const rewritten = order.shift()!;
    cache.set(rewritten, KB(-1));
    order.push(rewritten);

    for (let j = 0; j < 20; j++) {
      cache.set(`n${j}`, KB(j));
      order.push(`n${j}`);
    }
    evicted = events.map((e) => e.key);
    expect(evicted.length).toBeGreaterThanOrEqual(15);
    expect(evicted, 'evictions follow the exact order of last use').toEqual(order.slice(0, evicted.length));
    expect(evicted).not.toContain(read);
    expect(evicted).not.toContain(rewritten);
    expect(cache.get(read)).toBeDefined();
    expect(cache.get(rewritten)).toBe(KB(-1));
  });

  it('evicts expired entries before any live one', () => {
    const cache = open();
    const keys = fillUntilEviction(cache, (i) => `e${i}`, KB, (i) => (i % 3 === 1 ? { ttl: 5_000 } : {}));
    const gone = new Set(events.map((e) => e.key));
    const expiring = new Set(keys.filter((k, i) => i % 3 === 1 && !gone.has(k)));
    const live = keys.filter((k, i) => i % 3 !== 1 && !gone.has(k));
    expect(expiring.size).toBeGreaterThan(10);
    const evictedLive = cache.stats().evictedLive;
    clock.advance(10_000);

    events.length = 0;
    for (let j = 0; j < 10; j++) cache.set(`n${j}`, KB(j));
    expect(events.length).toBeGreaterThan(0);
    for (const e of events) {
      expect(expiring.has(e.key), `${e.key} (${e.reason}) was removed while expired entries remained`).toBe(true);
      expect(e.reason === 'expired' || (e.reason === 'evicted' && e.ttlLeft === 0), JSON.stringify(e)).toBe(true);
    }
    for (const k of live) expect(cache.get(k), k).toBe(KB(Number(k.slice(1))));
    expect(cache.stats().evictedLive).toBe(evictedLive);
  });

  it("evicts 'low' priority entries before 'normal' ones, even newer ones", () => {
    const cache = open();
    // Normal entries first (older), then low ones until the page is full.
    const normal: string[] = [];
    for (let i = 0; i < 25; i++) {
      cache.set(`norm${i}`, KB(i));
      normal.push(`norm${i}`);
    }
    const low = new Set(fillUntilEviction(cache, (i) => `low${i}`, KB, () => ({ priority: 'low' })));
    expect(events.map((e) => e.key).every((k) => low.has(k)), JSON.stringify(events)).toBe(true);
    for (const e of events) low.delete(e.key);
    expect(low.size).toBeGreaterThan(10);

    events.length = 0;
    for (let j = 0; j < 10; j++) cache.set(`new${j}`, KB(j));
    for (const e of events) expect(low.has(e.key), `${e.key} evicted while low-priority entries remained`).toBe(true);
    for (const k of normal) expect(cache.get(k), k).toBe(KB(Number(k.slice(4))));
    expect(cache.inspect(normal[0])?.priority).toBe('normal');
    expect(cache.inspect([...low].at(-1)!)?.priority).toBe('low');
  });

  it("evicts 'high' priority entries only when nothing else in the page is left, and counts it", () => {
    const cache = open();
    const high: string[] = [];
    for (let i = 0; i < 10; i++) {
      cache.set(`high${i}`, KB(i), { priority: 'high' });
      high.push(`high${i}`);
    }
    // Older high entries, then low and normal ones until the page overflows many times over.
    for (let j = 0; j < 200; j++) cache.set(`n${j}`, KB(j), { priority: j % 2 === 0 ? 'low' : 'normal' });
    expect(events.length).toBeGreaterThan(100);
    for (const e of events) expect(high, `${e.key} evicted while it was high priority`).not.toContain(e.key);
    for (const k of high) expect(cache.inspect(k)?.priority).toBe('high');
    expect(cache.stats().evictedHigh).toBe(0);

    // A page of nothing but high entries evicts them, least recently used first, and counts it.
    events.length = 0;
    cache.get(high[0]);
    for (let j = 0; events.filter((e) => high.includes(e.key)).length < 3; j++) {
      expect(j, 'high entries were never evicted').toBeLessThan(500);
      cache.set(`h${j}`, KB(j), { priority: 'high' });
    }
    const gone = events.map((e) => e.key).filter((k) => high.includes(k));
    expect(gone).toEqual(high.slice(1, 4));
    expect(cache.stats().evictedHigh).toBeGreaterThanOrEqual(3);
    expect(cache.stats().evictedHigh).toBeLessThanOrEqual(cache.stats().evictedLive);
  });

  it.each([
    ['~1 KB entries', (i: number) => KB(i)],
    ['~100 byte entries', (i: number) => `${i}:`.padEnd(100, 's')],
  ])('evicts only as much as a new entry needs (%s), never a bulk share of the page', (_label, value) => {
    const cache = open();
    fillUntilEviction(cache, (i) => `e${i}`, value);
    expect(events.length).toBeLessThanOrEqual(3);
    const peak = cache.stats().entries;
    expect(peak).toBeGreaterThan(20);

    for (let j = 0; j < 60; j++) {
      const before = events.length;
      cache.set(`n${j}`, value(j));
      expect(events.length - before, `write ${j} evicted ${events.length - before} of ~${peak} entries`).toBeLessThanOrEqual(3);
      expect(cache.stats().entries).toBeGreaterThanOrEqual(Math.floor(peak * 0.85));
    }
    // A write three times the usual size evicts about three entries, not a share of the page.
    const before = events.length;
    cache.set('triple', value(0).repeat(3));
    expect(events.length - before).toBeLessThanOrEqual(6);
  });

  it('reports how long each evicted live entry still had to live', () => {
    const cache = open();
    const ttlLeft = (key: string, elapsed: number) => (Number(key.slice(1)) % 2 === 0 ? 60_000 - elapsed : Infinity);
    fillUntilEviction(cache, (i) => `e${i}`, KB, (i) => (i % 2 === 0 ? { ttl: 60_000 } : {}));
    const all = [...events];
    for (const e of events) expect(e.ttlLeft, e.key).toBe(ttlLeft(e.key, 0));

    clock.advance(10_000);
    events.length = 0;
    for (let j = 0; j < 20; j++) cache.set(`n${j}`, KB(j));
    expect(events.length).toBeGreaterThan(10);
    for (const e of events) {
      expect(e.reason).toBe('evicted');
      expect(e.page).toBe(0);
      expect(e.ttlLeft, e.key).toBe(ttlLeft(e.key, 10_000));
    }
    all.push(...events);
    const stats = cache.stats();
    expect(stats.removals.evicted).toBe(all.length);
    expect(stats.evictedLive).toBe(all.length);
  });
});
