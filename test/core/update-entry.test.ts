import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SharedCache, UNCHANGED } from '../../src/index.js';
import { manualClock, type ManualClock } from '../helpers/clock.js';
import { useTmpDir } from '../helpers/tmp.js';

describe('updateEntry(key, fn): update that also says when the entry expires afterwards', () => {
  const tmp = useTmpDir();
  let clock: ManualClock;
  let c: SharedCache<{ n: number }>;

  beforeEach(() => {
    clock = manualClock();
    c = SharedCache.create(tmp.path(), { pageCount: 2, pageSize: 65536, clock: clock.fn });
  });
  afterEach(() => c.close());

  it('gives the value written and its expiry, Infinity without a TTL', () => {
    expect(c.updateEntry('a', () => ({ n: 1 }), { ttl: 5_000 })).toEqual({ value: { n: 1 }, expiresAt: clock.now() + 5_000 });
    expect(c.updateEntry('b', () => ({ n: 1 }))).toEqual({ value: { n: 1 }, expiresAt: Infinity });
    clock.advance(1_000);
    expect(c.updateEntry('a', (v) => ({ n: v!.n + 1 }))).toEqual({ value: { n: 2 }, expiresAt: clock.now() + 4_000 });
  });

  it('gives the stored entry and its own expiry when fn returns UNCHANGED', () => {
    c.set('a', { n: 7 }, { ttl: 60_000 });
    const at = c.inspect('a')!.expiresAt;
    c.get('b'); // a read in between must not leak its expiry into the answer
    expect(c.updateEntry('a', () => UNCHANGED)).toEqual({ value: { n: 7 }, expiresAt: at });
    c.set('n', { n: 0 });
    expect(c.updateEntry('n', () => UNCHANGED)).toEqual({ value: { n: 0 }, expiresAt: Infinity });
  });

  it('gives undefined and Infinity when there is no entry afterwards', () => {
    c.set('a', { n: 1 }, { ttl: 60_000 });
    expect(c.updateEntry('a', () => undefined)).toEqual({ value: undefined, expiresAt: Infinity });
    expect(c.updateEntry('absent', () => UNCHANGED)).toEqual({ value: undefined, expiresAt: Infinity });
  });
});
