import { describe, expect, it } from 'vitest';
import { SharedCache } from '../../src/index.js';
import { expectCode } from '../helpers/errors.js';
import { useCacheOpener } from '../support/caches.js';

describe('time to live, with an injected clock', () => {
  const { tmp, events, clock, caches, open } = useCacheOpener({ defaults: { size: '1m' } });

  it('keeps an entry readable until its TTL runs out and removes it as expired after', () => {
    const c = open();
    c.set('k', 'v', { ttl: 1_000 });
    clock.advance(999);
    expect(c.get('k')).toBe('v');
    expect(c.has('k')).toBe(true);
    expect(c.ttl('k')).toBe(1);
    clock.advance(2);
    expect(c.get('k')).toBeUndefined();
    expect(c.has('k')).toBe(false);
    expect(c.ttl('k')).toBeUndefined();
    expect(c.inspect('k')).toBeUndefined();
    expect(c.getMany(['k'])).toEqual([undefined]);
    expect(events.map((e) => [e.key, e.reason, e.ttlLeft])).toEqual([['k', 'expired', undefined]]);
    expect(c.get('k')).toBeUndefined();
    expect(events.length, 'an expiry is reported once').toBe(1);
    expect(c.stats().removals.expired).toBe(1);
  });

  it('reports the remaining ms from ttl(), Infinity without expiry and undefined when absent', () => {
    const c = open();
    const t0 = clock.now();
    c.set('a', 1, { ttl: 5_000 });
    c.set('b', 2, { ttl: 0 });
    c.set('c', 3, { ttl: Infinity });
    c.set('d', 4);
    clock.advance(1_234);
    expect(c.ttl('a')).toBe(3_766);
    expect(c.ttl('b')).toBe(Infinity);
    expect(c.ttl('c')).toBe(Infinity);
    expect(c.ttl('d')).toBe(Infinity);
    expect(c.ttl('nope')).toBeUndefined();
    expect(c.inspect('a')).toMatchObject({ expiresAt: t0 + 5_000, createdAt: t0 });
    expect(c.inspect('b')?.expiresAt).toBe(Infinity);
  });

  it('touch gives a new TTL from now without rewriting the value', () => {
    const c = open();
    const t0 = clock.now();
    c.set('k', { big: 'x'.repeat(500) }, { ttl: 1_000 });
    const before = c.inspect('k')!;
    const sets = c.stats().sets;
    clock.advance(800);
    expect(c.touch('k', 1_000)).toBe(true);
    expect(c.ttl('k')).toBe(1_000);
    clock.advance(900); // past the first deadline
    expect(c.get('k')).toEqual({ big: 'x'.repeat(500) });
    const after = c.inspect('k')!;
    expect(after.version, 'touch rewrote the entry').toBe(before.version);
    expect(after.createdAt).toBe(t0);
    expect(after.size).toBe(before.size);
    expect(after.expiresAt).toBe(t0 + 1_800);
    expect(c.stats().sets).toBe(sets);

    expect(c.touch('k', 0)).toBe(true);
    expect(c.ttl('k')).toBe(Infinity);
    expect(c.touch('absent', 1_000)).toBe(false);
    expect(c.has('absent')).toBe(false);

    c.set('short', 1, { ttl: 10 });
    clock.advance(11);
    expect(c.touch('short', 60_000), 'an expired entry is not revived').toBe(false);
    expect(c.get('short')).toBeUndefined();
  });

  it('add stores only when the key is absent or expired', () => {
    const c = open();
    expect(c.add('k', 'first', { ttl: 100 })).toBe(true);
    expect(c.add('k', 'second')).toBe(false);
    expect(c.get('k')).toBe('first');
    clock.advance(101);
    expect(c.add('k', 'third', { ttl: 500 })).toBe(true);
    expect(c.get('k')).toBe('third');
    expect(c.ttl('k')).toBe(500);
  });

  it('replace stores only when the key is present and unexpired', () => {
    const c = open();
    expect(c.replace('k', 'x')).toBe(false);
    expect(c.has('k')).toBe(false);
    c.set('k', 'first', { ttl: 100 });
    const v1 = c.inspect('k')!.version;
    expect(c.replace('k', 'second', { ttl: 1_000 })).toBe(true);
    expect(c.get('k')).toBe('second');
    expect(c.ttl('k')).toBe(1_000);
    expect(c.inspect('k')!.version).not.toBe(v1);
    clock.advance(1_001);
    expect(c.replace('k', 'third')).toBe(false);
    expect(c.get('k')).toBeUndefined();
  });

  it('update keeps the remaining TTL unless given a new one', () => {
    const c = open({ defaultTtl: 7_000 });
    c.set('n', 1, { ttl: 1_000 });
    clock.advance(400);
    expect(c.update('n', (v) => (v as number) + 1)).toBe(2);
    expect(c.ttl('n')).toBe(600);
    expect(c.update('n', (v) => (v as number) + 1, { ttl: 5_000 })).toBe(3);
    expect(c.ttl('n')).toBe(5_000);
    clock.advance(5_001);
    let seen: unknown = 'not called';
    expect(c.update('n', (v) => ((seen = v), 10))).toBe(10);
    expect(seen, 'an expired entry is passed as undefined').toBeUndefined();
    expect(c.ttl('n'), 'a new entry gets defaultTtl').toBe(7_000);
  });

  it('applies defaultTtl to writes without a ttl, and open() takes it from the file unless overridden', () => {
    const path = tmp.path();
    const c = SharedCache.create(path, { size: '1m', clock: clock.fn, defaultTtl: 3_000 });
    caches.push(c);
    c.set('a', 1);
    expect(c.ttl('a')).toBe(3_000);
    c.set('b', 1, { ttl: 0 });
    expect(c.ttl('b')).toBe(Infinity);
    expect(c.add('c', 1)).toBe(true);
    expect(c.ttl('c')).toBe(3_000);
    c.update('d', () => 1);
    expect(c.ttl('d')).toBe(3_000);
    c.setMany([['e', 1], ['f', 1, { ttl: 50 }]]);
    expect(c.ttl('e')).toBe(3_000);
    expect(c.ttl('f')).toBe(50);

    const inherits = SharedCache.open(path, { clock: clock.fn });
    const overrides = SharedCache.open(path, { clock: clock.fn, defaultTtl: 100 });
    caches.push(inherits, overrides);
    inherits.set('g', 1);
    overrides.set('h', 1);
    expect(c.ttl('g')).toBe(3_000);
    expect(c.ttl('h')).toBe(100);
  });

  it('purgeExpired removes every expired entry in every page, reports each, and returns the count', () => {
    const c = open({ pageCount: 4, pageSize: 65536 });
    const expiring: string[] = [];
    for (let i = 0; i < 40; i++) {
      if (i % 4 === 0) expiring.push(`k${i}`);
      c.set(`k${i}`, i, i % 4 === 0 ? { ttl: 1_000 } : {});
    }
    clock.advance(999);
    expect(c.purgeExpired()).toBe(0);
    clock.advance(2);
    expect(c.purgeExpired()).toBe(10);
    expect(events.map((e) => e.key).sort()).toEqual([...expiring].sort());
    expect(events.every((e) => e.reason === 'expired')).toBe(true);
    const stats = c.stats();
    expect(stats.removals.expired).toBe(10);
    expect(stats.entries).toBe(30);
    expect(stats.pages.reduce((a, p) => a + p.removals.expired, 0)).toBe(10);
    expect(c.purgeExpired()).toBe(0);
    expect(events.length).toBe(10);
  });

  it('lists no expired entry in keys() or entries()', () => {
    const c = open({ pageCount: 4, pageSize: 65536 });
    for (let i = 0; i < 20; i++) c.set(`k${i}`, i, i % 2 === 0 ? { ttl: 10 } : {});
    clock.advance(11);
    const odd = Array.from({ length: 10 }, (_, i) => `k${2 * i + 1}`);
    expect([...c.keys()].sort()).toEqual([...odd].sort());
    expect(new Map(c.entries())).toEqual(new Map(odd.map((k) => [k, Number(k.slice(1))])));
  });

  it('refuses a negative or NaN ttl with SESSMAP_ERR_INVALID_OPTION and changes nothing', () => {
    const c = open();
    c.set('k', 'old', { ttl: 5_000 });
    for (const ttl of [-1, NaN, -Infinity]) {
      expectCode(() => c.set('k', 'new', { ttl }), 'SESSMAP_ERR_INVALID_OPTION');
      expectCode(() => c.add('other', 'new', { ttl }), 'SESSMAP_ERR_INVALID_OPTION');
      expectCode(() => c.replace('k', 'new', { ttl }), 'SESSMAP_ERR_INVALID_OPTION');
      expectCode(() => c.touch('k', ttl), 'SESSMAP_ERR_INVALID_OPTION');
      expectCode(() => c.update('k', () => 'new', { ttl }), 'SESSMAP_ERR_INVALID_OPTION');
      expectCode(() => c.setMany([['k', 'new', { ttl }]]), 'SESSMAP_ERR_INVALID_OPTION');
    }
    expectCode(() => c.set('k', 'new', { ttl: '5' as unknown as number }), 'SESSMAP_ERR_INVALID_OPTION');
    expect(c.get('k')).toBe('old');
    expect(c.ttl('k')).toBe(5_000);
    expect(c.has('other')).toBe(false);
    expectCode(() => SharedCache.create(tmp.path('bad.smap'), { size: '1m', defaultTtl: -5 }), 'SESSMAP_ERR_INVALID_OPTION');
  });

  it('keeps absolute expiry times exact far beyond 2038 and 2106', () => {
    const c = open();
    clock.set(Date.UTC(2200, 0, 1));
    const t = clock.now();
    c.set('far', 1, { ttl: 1_000 });
    const century = 100 * 365 * 24 * 3600 * 1000;
    c.set('long', 2, { ttl: century });
    expect(c.inspect('far')?.expiresAt).toBe(t + 1_000);
    expect(c.ttl('long')).toBe(century);
    clock.advance(1_001);
    expect(c.get('far')).toBeUndefined();
    expect(c.get('long')).toBe(2);
  });
});
