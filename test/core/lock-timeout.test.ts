import { describe, expect, it } from 'vitest';
import { SharedCache } from '../../src/index.js';
import { internals } from '../../src/core/cache/internals.js';
import { openChild, useChildCleanup } from '../helpers/child.js';
import { expectCode } from '../helpers/errors.js';
import { ONE_PAGE, expectAllPagesClean } from '../helpers/geometry.js';
import { useTmpDir } from '../helpers/tmp.js';

describe('a page lock held by a live process', () => {
  const tmp = useTmpDir();
  useChildCleanup();

  it('makes writers give up with SESSMAP_ERR_LOCK_TIMEOUT instead of waiting forever, then works once the holder is gone', async () => {
    const path = tmp.path();
    const cache = SharedCache.create(path, { ...ONE_PAGE, lockTimeout: 200 });
    try {
      cache.set('k', 'old');
      cache.set('n', 1);
      const holder = await openChild(path, { lockTimeout: 200 }, { fault: 'lock:held', faultAction: 'hang' });
      const holderId = await holder.ownerId();
      void holder.fire('set', 'k', 'held');
      await holder.waitForFault('lock:held');
      const ix = internals(cache);
      expect(ix.lockWord(0)).toBe(holderId);

      const err = expectCode(() => cache.set('k', 'mine'), 'SESSMAP_ERR_LOCK_TIMEOUT');
      expect(err.message.length).toBeGreaterThan(0);
      expectCode(() => cache.update('n', (v) => (v as number) + 1), 'SESSMAP_ERR_LOCK_TIMEOUT');
      expectCode(() => cache.delete('k'), 'SESSMAP_ERR_LOCK_TIMEOUT');
      expectCode(() => cache.add('other', 1), 'SESSMAP_ERR_LOCK_TIMEOUT');
      expectCode(() => cache.touch('k', 1000), 'SESSMAP_ERR_LOCK_TIMEOUT');

      // A live holder's lock is never stolen.
      expect(ix.lockWord(0)).toBe(holderId);
      expect(cache.stats().lockRecoveries).toBe(0);
      expect(holder.exit, 'the holder is still alive').toBeUndefined();

      // A handle opened with its own lockTimeout honours it too.
      const second = SharedCache.open(path, { lockTimeout: 100 });
      expectCode(() => second.set('k', 'second'), 'SESSMAP_ERR_LOCK_TIMEOUT');
      second.close();

      await holder.kill9();
      cache.set('k', 'mine');
      expect(cache.get('k')).toBe('mine');
      expect(cache.update('n', (v) => (v as number) + 1)).toBe(2);
      expect(cache.stats().lockRecoveries).toBeGreaterThanOrEqual(1);
      expectAllPagesClean(cache);
    } finally {
      cache.close();
    }
  });

  it('times out a second child process as well, leaving what it tried to write unwritten', async () => {
    const path = tmp.path();
    const cache = SharedCache.create(path, { ...ONE_PAGE, lockTimeout: 200 });
    try {
      cache.set('k', 'old');
      const holder = await openChild(path, {}, { fault: 'lock:held', faultAction: 'hang' });
      void holder.fire('set', 'k', 'held');
      await holder.waitForFault('lock:held');

      const other = await openChild(path, { lockTimeout: 150 });
      const r = await other.call('set', 'k', 'other');
      expect(r.ok).toBe(false);
      expect(r.ok ? undefined : r.error.code).toBe('SESSMAP_ERR_LOCK_TIMEOUT');
      expect(other.exit).toBeUndefined();

      await holder.kill9();
      expect(await other.callOk('get', 'k')).toBe('old');
      await other.callOk('set', 'k', 'other');
      expect(cache.get('k')).toBe('other');
      await other.close();
    } finally {
      cache.close();
    }
  });
});
