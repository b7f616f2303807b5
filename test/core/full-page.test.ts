/**
 * A full page, the steady state of a busy cache: every set evicts. Each handle keeps a pool of
 * the page's next victims (page/victims.ts) and a full page gathers room for a write rather
 * than compacting the whole page (page/compact.ts); none of it may change which entry goes: the
 * order stays exact LRU (lowest priority first), with two handles evicting from one page by
 * turns, reads in between, compactions, and lower-priority entries written after a pool was
 * made. Expiry in a full page is found through the page's next-expiry bound, which touches that
 * shorten a deadline must lower.
 */
import { describe, expect, it } from 'vitest';
import { SharedCache } from '../../src/index.js';
import { ONE_PAGE } from '../helpers/geometry.js';
import { useCacheOpener } from '../support/caches.js';

/** Values of varied sizes (so victims' rooms do not always fit the next entry). */
const value = (i: number): string => `${i}:`.padEnd(300 + ((i * 7919) % 400), 'v');

describe('a full page', () => {
  const { events, clock, open } = useCacheOpener({ defaults: ONE_PAGE });

  it('evicts in exact LRU order while two handles write into it by turns and read from it', () => {
    const a = open();
    const b = SharedCache.open(a.path, { clock: clock.fn, onRemove: (e) => events.push(e) });
    try {
      // Recency as the cache should see it: least recent first.
      const order: string[] = [];
      const use = (k: string): void => {
        const i = order.indexOf(k);
        if (i >= 0) order.splice(i, 1);
        order.push(k);
      };
      let evictions = 0;
      for (let i = 0; i < 3000; i++) {
        clock.advance(1);
        const h = i % 2 === 0 ? a : b;
        const key = `k${i}`;
        events.length = 0;
        h.set(key, value(i));
        for (const e of events) {
          expect(e.reason).toBe('evicted');
          expect(e.key, `eviction ${evictions} at write ${i}`).toBe(order[0]);
          order.shift();
          evictions++;
        }
        use(key);
        // Every seventh write, the other handle reads one of the older entries: it becomes recent.
        if (i % 7 === 3 && order.length > 20) {
          const k = order[5]!;
          const other = h === a ? b : a;
          expect(other.get(k), k).toBe(value(Number(k.slice(1))));
          use(k);
        }
      }
      expect(evictions).toBeGreaterThan(2000);
      expect(a.stats().entries).toBe(order.length);
    } finally {
      b.close();
    }
  });

  it('evicts a low-priority entry written after its pool of victims was made before any older normal one', () => {
    const a = open();
    for (let i = 0; events.length === 0; i++) a.set(`n${i}`, value(i));
    // The page is full and the handle has a pool of (normal) victims; now a low one arrives.
    events.length = 0;
    a.set('low', value(1), { priority: 'low' });
    events.length = 0;
    a.set('next', value(2));
    expect(events.map((e) => e.key)).toContain('low');
    expect(events[0]!.key).toBe('low');
  });

  it('follows a rewrite that changed an entry\'s priority, through compactions, in the victims it picks', () => {
    const a = open();
    const keys: string[] = [];
    for (let i = 0; events.length === 0; i++) {
      a.set(`n${i}`, value(i));
      keys.push(`n${i}`);
    }
    // Pools are made; many more evictions (and compactions) follow.
    for (let i = 0; i < 400; i++) a.set(`m${i}`, value(i));
    const live = [...keys, ...Array.from({ length: 400 }, (_, i) => `m${i}`)].filter((k) => a.has(k));
    const oldest = live[0]!;
    const demoted = live[live.length - 1]!;
    // The least recent entry becomes 'high' (kept), the most recent 'low' (the next to go).
    a.set(oldest, value(1), { priority: 'high' });
    a.set(demoted, value(2), { priority: 'low' });
    events.length = 0;
    // The rewrites may have left room for a write or two: write until one evicts.
    for (let i = 0; events.length === 0; i++) a.set(`trigger${i}`, value(3 + i));
    expect(events[0]?.key).toBe(demoted);
    for (let i = 0; i < 200; i++) a.set(`t${i}`, value(i));
    expect(a.get(oldest), 'the high-priority entry outlives the normal ones').toBe(value(1));
  });

  it('finds an entry whose touch shortened its deadline expired, in a page full of long-lived entries', () => {
    const a = open();
    for (let i = 0; events.length === 0; i++) a.set(`n${i}`, value(i), { ttl: 3_600_000 });
    events.length = 0;
    // A full page has had its bound set by the scans for expired entries; a touch lowers it.
    a.set('x', value(3), { ttl: 3_600_000 });
    expect(a.touch('x', 1_000)).toBe(true);
    clock.advance(2_000);
    events.length = 0;
    expect(a.purgeExpired()).toBe(1);
    expect(events).toMatchObject([{ key: 'x', reason: 'expired' }]);
    // And a set into the full page now evicts live entries only, with none expired left.
    events.length = 0;
    a.set('y', value(4), { ttl: 3_600_000 });
    expect(events.every((e) => e.reason === 'evicted')).toBe(true);
  });
});
