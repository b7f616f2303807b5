import { describe, expect, it } from 'vitest';
import { SharedCache } from '../../src/index.js';
import { internals } from '../../src/core/cache/internals.js';
import { CacheChild, openChild, useChildCleanup, type UpdateSpec } from '../helpers/child.js';
import { ONE_PAGE, expectAllPagesClean } from '../helpers/geometry.js';
import { useTmpDir } from '../helpers/tmp.js';

/** Generous: an operation that succeeds proves the dead holder's lock was recovered, not timed out. */
const LOCK_TIMEOUT = 10_000;

/** Starts a child that takes page 0's lock for `method(...args)` and hangs there; resolves once it holds it. */
async function holderHangingIn(path: string, method: string, ...args: unknown[]): Promise<{ holder: CacheChild; holderId: number }> {
  const holder = await openChild(path, { lockTimeout: LOCK_TIMEOUT }, { fault: 'lock:held', faultAction: 'hang' });
  const holderId = await holder.ownerId();
  void holder.fire(method, ...args);
  await holder.waitForFault('lock:held');
  return { holder, holderId };
}

const increment: UpdateSpec = { kind: 'increment' };

describe('a lock holder killed with SIGKILL', () => {
  const tmp = useTmpDir();
  useChildCleanup();

  it.each([
    ['set', ['k', 'new']],
    ['add', ['fresh', 'new']],
    ['replace', ['k', 'new']],
    ['update', ['n', increment]],
    ['delete', ['k']],
    ['touch', ['k', 5_000]],
  ] as Array<[string, unknown[]]>)('does not block the page after dying inside %s', async (method, args) => {
    const path = tmp.path();
    const cache = SharedCache.create(path, { ...ONE_PAGE, lockTimeout: LOCK_TIMEOUT });
    try {
      cache.set('k', 'old');
      cache.set('n', 7);
      const ttlBefore = cache.ttl('k');
      const { holder, holderId } = await holderHangingIn(path, method, ...args);
      const ix = internals(cache);
      expect(ix.lockWord(0), 'the hanging child holds page 0').toBe(holderId);
      expect(ix.ownerId).not.toBe(holderId);

      const exit = await holder.kill9();
      expect(exit.signal).toBe('SIGKILL');

      const before = cache.stats().lockRecoveries;
      cache.set('after', 42);
      expect(cache.get('after')).toBe(42);
      expect(cache.stats().lockRecoveries).toBeGreaterThanOrEqual(before + 1);
      expect(ix.lockWord(0)).toBe(0);

      // The killed operation had only taken the lock: it changed nothing.
      expect(cache.get('k')).toBe('old');
      expect(cache.ttl('k')).toBe(ttlBefore);
      expect(cache.get('n')).toBe(7);
      expect(cache.has('fresh')).toBe(false);
      expectAllPagesClean(cache);

      // Another process uses the same page normally.
      const other = await openChild(path, { lockTimeout: LOCK_TIMEOUT });
      expect(await other.callOk('get', 'after')).toBe(42);
      await other.callOk('set', 'from-other', { x: 1 });
      expect(await other.callOk('update', 'n', increment)).toBe(8);
      expect(cache.get('from-other')).toEqual({ x: 1 });
      await other.close();
    } finally {
      cache.close();
    }
  });

  it('lets a process that was already waiting for the lock through once the holder dies', async () => {
    const path = tmp.path();
    const cache = SharedCache.create(path, { ...ONE_PAGE, lockTimeout: LOCK_TIMEOUT });
    try {
      cache.set('k', 'old');
      const { holder } = await holderHangingIn(path, 'set', 'k', 'held');
      const waiter = await openChild(path, { lockTimeout: 30_000 });
      const waitsBefore = cache.stats().lockWaits;
      const pending = waiter.fire('set', 'w', 'waited');
      // Give the waiter time to start spinning on the lock (a pause, not a timing assertion).
      await new Promise((r) => setTimeout(r, 500));
      await holder.kill9();

      const result = await pending;
      expect(result).toEqual({ ok: true, value: undefined });
      expect(cache.get('w')).toBe('waited');
      expect(cache.get('k')).toBe('old');
      const stats = cache.stats();
      expect(stats.lockRecoveries).toBeGreaterThanOrEqual(1);
      expect(stats.lockWaits, 'the waiter never had to wait').toBeGreaterThan(waitsBefore);
      expectAllPagesClean(cache);
      await waiter.close();
    } finally {
      cache.close();
    }
  });

  it('has its locks released by recoverDeadOwners, which leaves live holders alone', async () => {
    const path = tmp.path();
    const cache = SharedCache.create(path, { ...ONE_PAGE, lockTimeout: LOCK_TIMEOUT });
    try {
      cache.set('k', 'old');
      const { holder, holderId } = await holderHangingIn(path, 'set', 'k', 'held');
      const ix = internals(cache);

      expect(cache.recoverDeadOwners(), 'the holder is alive').toBe(0);
      expect(ix.lockWord(0)).toBe(holderId);

      await holder.kill9();
      const before = cache.stats().lockRecoveries;
      expect(cache.recoverDeadOwners()).toBe(1);
      expect(ix.lockWord(0)).toBe(0);
      expect(cache.stats().lockRecoveries).toBe(before + 1);
      expectAllPagesClean(cache);
      expect(cache.recoverDeadOwners(), 'nothing left to recover').toBe(0);

      expect(cache.get('k')).toBe('old');
      cache.set('k', 'next');
      expect(cache.get('k')).toBe('next');
    } finally {
      cache.close();
    }
  });

  it('is recovered on the page it held while the other pages were never blocked', async () => {
    const path = tmp.path();
    const cache = SharedCache.create(path, { pageCount: 8, pageSize: 65536, lockTimeout: LOCK_TIMEOUT });
    try {
      const ix = internals(cache);
      const keys = Array.from({ length: 200 }, (_, i) => `key-${i}`);
      const held = keys[0];
      const heldPage = ix.pageOf(held);
      const elsewhere = keys.filter((k) => ix.pageOf(k) !== heldPage).slice(0, 10);
      expect(elsewhere.length).toBe(10);
      cache.set(held, 'old');

      const holder = await openChild(path, { lockTimeout: LOCK_TIMEOUT }, { fault: 'lock:held', faultAction: 'hang' });
      const holderId = await holder.ownerId();
      void holder.fire('set', held, 'new');
      await holder.waitForFault('lock:held');
      expect(ix.lockWord(heldPage)).toBe(holderId);

      // While the holder hangs, every other page works and needs no recovery.
      for (const k of elsewhere) cache.set(k, k.toUpperCase());
      for (const k of elsewhere) expect(cache.get(k)).toBe(k.toUpperCase());
      expect(cache.stats().lockRecoveries).toBe(0);

      await holder.kill9();
      cache.set(held, 'mine');
      expect(cache.get(held)).toBe('mine');
      const stats = cache.stats();
      expect(stats.pages[heldPage].lockRecoveries).toBeGreaterThanOrEqual(1);
      expect(stats.lockRecoveries).toBe(stats.pages[heldPage].lockRecoveries);
      expectAllPagesClean(cache);
    } finally {
      cache.close();
    }
  });
});
