import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SharedCache } from '../../src/index.js';
import type { CreateOptions, RemovalEvent } from '../../src/core/types.js';
import { expectCode } from '../helpers/errors.js';
import { useTmpDir } from '../helpers/tmp.js';

describe('the basic operations of a cache handle', () => {
  const tmp = useTmpDir();
  let events: RemovalEvent[];
  let caches: SharedCache[];

  beforeEach(() => {
    events = [];
    caches = [];
  });
  afterEach(() => {
    for (const c of caches) {
      try {
        c.close();
      } catch {
        // closed by the test
      }
    }
  });

  function open(opts: CreateOptions = {}): SharedCache {
    const c = SharedCache.create(tmp.path(), { size: '2m', onRemove: (e) => events.push(e), ...opts });
    caches.push(c);
    return c;
  }

  it('sets, gets, checks and deletes entries', () => {
    const c = open();
    expect(c.get('a')).toBeUndefined();
    expect(c.has('a')).toBe(false);
    c.set('a', { n: 1, s: 'x', list: [1, 2, { deep: true }], nil: null });
    expect(c.get('a')).toEqual({ n: 1, s: 'x', list: [1, 2, { deep: true }], nil: null });
    expect(c.has('a')).toBe(true);
    c.set('a', 'overwritten');
    expect(c.get('a')).toBe('overwritten');
    expect(events, 'an overwrite is not a removal').toEqual([]);
    expect(c.delete('a')).toBe(true);
    expect(c.delete('a')).toBe(false);
    expect(c.get('a')).toBeUndefined();
    expect(events).toEqual([{ key: 'a', reason: 'deleted', page: expect.any(Number), ttlLeft: undefined, expiresAt: Infinity }]);
    for (const v of [0, '', false, null, [], {}]) {
      c.set('falsy', v);
      expect(c.get('falsy'), JSON.stringify(v)).toEqual(v);
      expect(c.has('falsy')).toBe(true);
    }
  });

  it('returns a fresh copy on every get, unaffected by later changes to the object', () => {
    const c = open();
    const v = { list: [1] };
    c.set('k', v);
    v.list.push(2);
    const a = c.get('k') as { list: number[] };
    expect(a).toEqual({ list: [1] });
    a.list.push(3);
    expect(c.get('k')).toEqual({ list: [1] });
  });

  it('add only creates and replace only overwrites', () => {
    const c = open();
    expect(c.replace('k', 1)).toBe(false);
    expect(c.has('k')).toBe(false);
    expect(c.add('k', 1)).toBe(true);
    expect(c.add('k', 2)).toBe(false);
    expect(c.get('k')).toBe(1);
    expect(c.replace('k', 3)).toBe(true);
    expect(c.get('k')).toBe(3);
  });

  it('reads and writes many entries at once, with per-entry options', () => {
    const c = open({ pageCount: 8, pageSize: 65536 });
    const entries: Array<[string, unknown, { ttl?: number; priority?: 'low' | 'normal' }?]> = [];
    for (let i = 0; i < 100; i++) entries.push([`k${i}`, { i }, i % 10 === 0 ? { priority: 'low', ttl: 60_000 } : undefined]);
    c.setMany(entries);
    c.setMany(new Map([['m1', 'one'], ['m2', 'two']]));
    const keys = [...entries.map(([k]) => k), 'missing', 'm1', 'k5', 'm2'];
    expect(c.getMany(keys)).toEqual([...entries.map(([, v]) => v), undefined, 'one', { i: 5 }, 'two']);
    expect(c.inspect('k10')?.priority).toBe('low');
    expect(c.inspect('k11')?.priority).toBe('normal');
    expect(c.ttl('k20')).toBeLessThanOrEqual(60_000);
    expect(c.ttl('k21')).toBe(Infinity);
    expect(c.getMany([])).toEqual([]);
  });

  it('lists every live entry exactly once through keys() and entries()', () => {
    const c = open({ pageCount: 8, pageSize: 65536 });
    const want = new Map<string, unknown>();
    for (let i = 0; i < 300; i++) want.set(`key-${i}`, { i, s: 'p'.repeat(i % 50) });
    c.setMany(want);
    for (let i = 0; i < 300; i += 7) {
      c.delete(`key-${i}`);
      want.delete(`key-${i}`);
    }
    const keys = [...c.keys()];
    expect(keys.length).toBe(want.size);
    expect(new Set(keys)).toEqual(new Set(want.keys()));
    const entries = [...c.entries()];
    expect(entries.length).toBe(want.size);
    expect(new Map(entries)).toEqual(want);
  });

  it('clear removes everything in every page and reports each entry as cleared', () => {
    const c = open({ pageCount: 4, pageSize: 65536 });
    for (let i = 0; i < 50; i++) c.set(`k${i}`, i);
    c.clear();
    expect([...c.keys()]).toEqual([]);
    expect(c.get('k1')).toBeUndefined();
    expect(events.length).toBe(50);
    expect(events.every((e) => e.reason === 'cleared')).toBe(true);
    expect(new Set(events.map((e) => e.key)).size).toBe(50);
    const stats = c.stats();
    expect(stats.entries).toBe(0);
    expect(stats.removals.cleared).toBe(50);
    c.set('again', 1);
    expect(c.get('again')).toBe(1);
  });

  it('lets two handles in one process see each other\'s writes at once', () => {
    const path = tmp.path();
    const a = SharedCache.create(path, { size: '1m' });
    const b = SharedCache.open(path);
    caches.push(a, b);
    a.set('k', 'from a');
    expect(b.get('k')).toBe('from a');
    b.set('k', 'from b');
    expect(a.get('k')).toBe('from b');
    for (let i = 0; i < 100; i++) (i % 2 ? a : b).update('n', (v) => ((v as number | undefined) ?? 0) + 1);
    expect(a.get('n')).toBe(100);
    expect(b.delete('k')).toBe(true);
    expect(a.has('k')).toBe(false);
    expect(b.geometry).toEqual(a.geometry);
  });

  it('calls onRemove outside any lock, so the handler may use the cache', () => {
    const path = tmp.path();
    const seen: unknown[] = [];
    const c: SharedCache = SharedCache.create(path, {
      pageCount: 1,
      pageSize: 65536,
      lockTimeout: 500,
      onRemove: (e) => {
        seen.push(e.key, c.get('other'));
        c.set('log', e.key);
      },
    });
    caches.push(c);
    c.set('other', 'o');
    c.set('gone', 1);
    expect(c.delete('gone')).toBe(true);
    expect(seen).toEqual(['gone', 'o']);
    expect(c.get('log')).toBe('gone');
  });

  it('refuses every call after close() with SESSMAP_ERR_CLOSED', () => {
    const c = open();
    c.set('k', 1);
    c.close();
    const calls: Array<() => unknown> = [
      () => c.get('k'),
      () => c.has('k'),
      () => c.set('k', 2),
      () => c.add('x', 1),
      () => c.replace('k', 1),
      () => c.delete('k'),
      () => c.touch('k', 10),
      () => c.ttl('k'),
      () => c.update('k', () => 1),
      () => c.getMany(['k']),
      () => c.setMany([['k', 1]]),
      () => [...c.keys()],
      () => [...c.entries()],
      () => c.inspect('k'),
      () => c.purgeExpired(),
      () => c.clear(),
      () => c.stats(),
      () => c.recoverDeadOwners(),
    ];
    for (const call of calls) expectCode(call, 'SESSMAP_ERR_CLOSED');
    const d = SharedCache.open(tmp.path());
    caches.push(d);
    expect(d.get('k'), 'closing one handle leaves the file intact').toBe(1);
  });
});
