import { describe, expect, it } from 'vitest';
import { SharedCache } from '../../src/index.js';
import { internals } from '../../src/core/cache/internals.js';
import { openChild, useChildCleanup } from '../helpers/child.js';
import { expectCode } from '../helpers/errors.js';
import { ONE_PAGE, expectAllPagesClean } from '../helpers/geometry.js';
import { useTmpDir } from '../helpers/tmp.js';

describe('reads while another process holds the page lock', () => {
  const tmp = useTmpDir();
  useChildCleanup();

  it('reads every entry without waiting while a live process holds the lock outside a change', async () => {
    const path = tmp.path();
    const cache = SharedCache.create<string>(path, { ...ONE_PAGE, lockTimeout: 200 });
    try {
      cache.set('older', 'o');
      cache.set('recent', 'r');
      expect(cache.get('recent')).toBe('r'); // validates the page for lock-free reads
      const hitsBefore = cache.stats().hits;
      const missesBefore = cache.stats().misses;
      const holder = await openChild(path, { lockTimeout: 200 }, { fault: 'lock:held', faultAction: 'hang' });
      const holderId = await holder.ownerId();
      void holder.fire('set', 'other', 'x');
      await holder.waitForFault('lock:held');
      expect(internals(cache).lockWord(0)).toBe(holderId);

      // The holder is alive and stuck inside the lock: a locked read would time out after 200 ms.
      for (let i = 0; i < 100; i++) {
        expect(cache.get('recent')).toBe('r');
        expect(cache.get('older')).toBe('o');
        expect(cache.get('absent')).toBeUndefined();
      }
      // So do has / ttl / inspect (which never count as a use).
      expect(cache.has('older')).toBe(true);
      expect(cache.has('absent')).toBe(false);
      expect(cache.ttl('older')).toBe(Infinity);
      expect(cache.inspect('recent')).toMatchObject({ expiresAt: Infinity, priority: 'normal', size: 3 });
      expect(cache.stats().hits - hitsBefore, 'lock-free hits are counted').toBe(200);
      expect(cache.stats().misses - missesBefore, 'lock-free misses are counted').toBe(100);
      expect(cache.stats().lockRecoveries).toBe(0);
      // Writes need the lock: they wait, then time out, since the holder is alive.
      expectCode(() => cache.set('new', 'n'), 'SESSMAP_ERR_LOCK_TIMEOUT');

      await holder.kill9();
      expect(cache.get('other')).toBeUndefined();
      expectAllPagesClean(cache);
    } finally {
      cache.close();
    }
  });

  it('sends reads through the lock while a live writer is mid-change (they wait, then time out)', async () => {
    const path = tmp.path();
    const cache = SharedCache.create<string>(path, { ...ONE_PAGE, lockTimeout: 200 });
    try {
      cache.set('k', 'before');
      cache.set('j', 'other');
      expect(cache.get('k')).toBe('before');
      const writer = await openChild(path, { lockTimeout: 200 }, { fault: 'write:partial', faultAction: 'hang' });
      void writer.fire('set', 'k', 'after-'.repeat(50));
      await writer.waitForFault('write:partial');
      // Mid-change, neither the entry being written nor any other on the page is read without the lock.
      expectCode(() => cache.get('k'), 'SESSMAP_ERR_LOCK_TIMEOUT');
      expectCode(() => cache.get('j'), 'SESSMAP_ERR_LOCK_TIMEOUT');
      await writer.kill9();
      expect(['before', 'after-'.repeat(50)]).toContain(cache.get('k'));
      expect(cache.get('j')).toBe('other');
      expect(cache.stats().lockRecoveries).toBeGreaterThanOrEqual(1);
      expectAllPagesClean(cache);
    } finally {
      cache.close();
    }
  });

  it('never returns a value a writer is changing: a killed writer leaves readers on the locked path until the page is repaired', async () => {
    const path = tmp.path();
    const cache = SharedCache.create<string>(path, { ...ONE_PAGE, lockTimeout: 5_000 });
    try {
      cache.set('k', 'before');
      expect(cache.get('k')).toBe('before');
      // Killed half-way through overwriting k: the page is left mid-change (odd sequence).
      const writer = await openChild(path, { lockTimeout: 5_000 }, { fault: 'write:partial', faultAction: 'kill' });
      void writer.fire('set', 'k', 'after-'.repeat(50));
      expect((await writer.waitExit()).signal).toBe('SIGKILL');
      // The lock word still names the dead writer: the read recovers it, repairs, and returns a whole value.
      expect(['before', 'after-'.repeat(50)]).toContain(cache.get('k'));
      expect(cache.stats().lockRecoveries).toBeGreaterThanOrEqual(1);
      expectAllPagesClean(cache);
    } finally {
      cache.close();
    }
  });

  it("counts another process's lock-free reads as uses: LRU eviction spares what it read", async () => {
    const path = tmp.path();
    const removed: string[] = [];
    const cache = SharedCache.create<string>(path, { ...ONE_PAGE, onRemove: (e) => removed.push(e.key) });
    try {
      const value = (i: number) => `${i}:`.padEnd(1000, 'v');
      const keys: string[] = [];
      for (let i = 0; i < 40; i++) {
        keys.push(`k${i}`);
        cache.set(`k${i}`, value(i));
      }
      expect(removed).toEqual([]);
      const reader = await openChild(path);
      // The first read validates the page under the lock; the rest read without it.
      const spared = keys.slice(0, 10);
      await reader.callOk('get', keys[0]);
      for (const k of spared) expect(await reader.callOk('get', k)).toBe(value(Number(k.slice(1))));
      expect(internals(cache).lockWord(0)).toBe(0);
      await reader.close();
      // Make sure the reads are at least a millisecond newer than the writes (ms resolution across processes).
      const t = Date.now();
      while (Date.now() <= t + 1);
      for (let i = 0; removed.length < 15; i++) {
        expect(i, 'the page never filled up').toBeLessThan(200);
        cache.set(`n${i}`, value(i));
      }
      for (const k of spared) expect(removed, `${k} was read last by the other process`).not.toContain(k);
      expect(removed.slice(0, 15)).toEqual(keys.slice(10, 25));
    } finally {
      cache.close();
    }
  });
});
