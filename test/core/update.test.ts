import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SharedCache } from '../../src/index.js';
import { internals } from '../../src/core/cache/internals.js';
import type { RemovalEvent } from '../../src/core/types.js';
import { SessmapError } from '../../src/errors.js';
import { expectCode, thrownBy } from '../helpers/errors.js';
import { useTmpDir } from '../helpers/tmp.js';

describe('update(key, fn): a read-modify-write under the page lock', () => {
  const tmp = useTmpDir();
  let events: RemovalEvent[];
  let c: SharedCache;

  beforeEach(() => {
    events = [];
    c = SharedCache.create(tmp.path(), { pageCount: 4, pageSize: 65536, lockTimeout: 300, onRemove: (e) => events.push(e) });
  });
  afterEach(() => c.close());

  /** Asserts every lock in the file is free (fn never leaves one behind). */
  function expectUnlocked(): void {
    const ix = internals(c);
    for (let p = 0; p < c.geometry.pageCount; p++) expect(ix.lockWord(p), `page ${p} lock`).toBe(0);
  }

  it('passes the current value and stores and returns what fn returns', () => {
    c.set('k', { n: 1 });
    const calls: unknown[] = [];
    const r = c.update('k', (old) => {
      calls.push(old);
      return { n: (old as { n: number }).n + 1 };
    });
    expect(calls).toEqual([{ n: 1 }]);
    expect(r).toEqual({ n: 2 });
    expect(c.get('k')).toEqual({ n: 2 });
    const v1 = c.inspect('k')!.version;
    c.update('k', (old) => old);
    expect(c.inspect('k')!.version, 'every write changes the version').not.toBe(v1);
  });

  it('creates an absent entry, passing undefined', () => {
    let seen: unknown = 'not called';
    expect(c.update('new', (old) => ((seen = old), 'made'), { priority: 'low' })).toBe('made');
    expect(seen).toBeUndefined();
    expect(c.get('new')).toBe('made');
    expect(c.inspect('new')?.priority).toBe('low');
  });

  it('deletes the entry when fn returns undefined, and creates nothing for an absent key', () => {
    c.set('k', 1);
    expect(c.update('k', () => undefined)).toBeUndefined();
    expect(c.has('k')).toBe(false);
    expect(events.map((e) => [e.key, e.reason])).toEqual([['k', 'deleted']]);
    expect(c.update('absent', () => undefined)).toBeUndefined();
    expect(c.has('absent')).toBe(false);
    expect(events.length).toBe(1);
    expect(c.stats().entries).toBe(0);
  });

  it('lets an error thrown by fn propagate, changing nothing and releasing the lock', () => {
    c.set('k', 'old', { ttl: 60_000 });
    const before = c.inspect('k');
    const boom = new Error('boom');
    const err = thrownBy(() =>
      c.update('k', () => {
        throw boom;
      }),
    );
    expect(err).toBe(boom);
    // Before the get: a get is a use, which moves lastUsed.
    expect(c.inspect('k')).toEqual(before);
    expect(c.get('k')).toBe('old');
    expectUnlocked();
    expect(thrownBy(() => c.update('absent', () => { throw boom; }))).toBe(boom);
    expect(c.has('absent')).toBe(false);
    c.set('k', 'after');
    expect(c.get('k')).toBe('after');
  });

  it('refuses an async fn with SESSMAP_ERR_UPDATE_ASYNC and changes nothing', async () => {
    c.set('k', 'old');
    const before = c.inspect('k');
    expectCode(() => c.update('k', async () => 'new'), 'SESSMAP_ERR_UPDATE_ASYNC');
    expectCode(() => c.update('k', () => Promise.resolve('new')), 'SESSMAP_ERR_UPDATE_ASYNC');
    expectCode(() => c.update('absent', async () => 'new'), 'SESSMAP_ERR_UPDATE_ASYNC');
    await new Promise((r) => setImmediate(r));
    expect(c.inspect('k')).toEqual(before);
    expect(c.get('k')).toBe('old');
    expect(c.has('absent')).toBe(false);
    expectUnlocked();
  });

  it('refuses a call to the cache from inside fn with SESSMAP_ERR_REENTRANT_CALL, and the cache stays usable', () => {
    c.set('k', 'old');
    c.set('other', 'o');
    const inner: Array<() => unknown> = [
      () => c.get('k'),
      () => c.set('k', 'inner'),
      () => c.get('other'),
      () => c.set('other', 'inner'),
      () => c.update('k', () => 'nested'),
      () => c.delete('other'),
    ];
    for (const call of inner) {
      let innerErr: unknown;
      const outer = thrownBy(() =>
        c.update('k', () => {
          try {
            call();
          } catch (err) {
            innerErr = err;
            throw err;
          }
          return 'outer';
        }),
      );
      expect(innerErr, `${call} did not throw inside fn`).toBeInstanceOf(SessmapError);
      expect((innerErr as SessmapError).code).toBe('SESSMAP_ERR_REENTRANT_CALL');
      expect(outer).toBe(innerErr);
      expectUnlocked();
    }
    expect(c.get('k')).toBe('old');
    expect(c.get('other')).toBe('o');
    expect(c.update('k', () => 'fine')).toBe('fine');
  });

  it('refuses a reentrant call through a second handle of the same file as well', () => {
    const d = SharedCache.open(tmp.path(), { lockTimeout: 300 });
    try {
      c.set('k', 'old');
      // Same process and thread, so the same owner id: d must not take c's lock as its own.
      const err = thrownBy(() => c.update('k', () => (d.set('k', 'inner'), 'outer')));
      expect(err).toBeInstanceOf(SessmapError);
      expect(['SESSMAP_ERR_REENTRANT_CALL', 'SESSMAP_ERR_LOCK_TIMEOUT']).toContain((err as SessmapError).code);
      expect(c.get('k')).toBe('old');
      expectUnlocked();
    } finally {
      d.close();
    }
  });

  it('refuses a value fn returns that cannot be serialized, keeping the old one', () => {
    c.set('k', 'old');
    expectCode(() => c.update('k', () => 10n), 'SESSMAP_ERR_SERIALIZE');
    expectCode(() => c.update('k', () => () => 1), 'SESSMAP_ERR_SERIALIZE');
    expect(c.get('k')).toBe('old');
    expectUnlocked();
  });
});
