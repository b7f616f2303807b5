import { describe, expect, it } from 'vitest';
import { SharedCache } from '../../src/index.js';
import { internals } from '../../src/core/internals.js';
import { openChild, useChildCleanup } from '../helpers/child.js';
import { expectCode } from '../helpers/errors.js';
import { ONE_PAGE, expectAllPagesClean } from '../helpers/geometry.js';
import { useTmpDir } from '../helpers/tmp.js';

describe('reads while another process holds the page lock', () => {
  const tmp = useTmpDir();
  useChildCleanup();

  it("returns the page's most recently used entry without waiting, and sends other reads through the lock", async () => {
    const path = tmp.path();
    const cache = SharedCache.create<string>(path, { ...ONE_PAGE, lockTimeout: 200 });
    try {
      cache.set('older', 'o');
      cache.set('recent', 'r');
      expect(cache.get('recent')).toBe('r'); // the page's most recent use
      const hitsBefore = cache.stats().hits;
      const holder = await openChild(path, { lockTimeout: 200 }, { fault: 'lock:held', faultAction: 'hang' });
      const holderId = await holder.ownerId();
      void holder.fire('set', 'other', 'x');
      await holder.waitForFault('lock:held');
      expect(internals(cache).lockWord(0)).toBe(holderId);

      // The holder is alive and stuck inside the lock: a locked read would time out.
      for (let i = 0; i < 100; i++) expect(cache.get('recent')).toBe('r');
      expect(cache.stats().hits - hitsBefore, 'lock-free hits are counted').toBe(100);
      // Reading any other entry moves it in the LRU order, which needs the lock.
      expectCode(() => cache.get('older'), 'SESSMAP_ERR_LOCK_TIMEOUT');
      expect(cache.stats().lockRecoveries).toBe(0);

      await holder.kill9();
      expect(cache.get('older')).toBe('o');
      expect(cache.get('other')).toBeUndefined();
      expect(cache.stats().hits - hitsBefore).toBe(101);
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
});
