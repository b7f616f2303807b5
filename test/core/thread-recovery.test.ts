/**
 * A worker_thread terminated while it holds a page lock (Worker#terminate can stop JavaScript
 * anywhere, inside a lock included). Its process lives on, so the pid says nothing: owners are OS
 * thread ids on Linux, and a waiter finds the thread gone and takes the lock over, as for a
 * killed process. Without that, every writer of the page would time out, forever.
 */
import { Worker } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SharedCache } from '../../src/index.js';
import { internals } from '../../src/core/cache/internals.js';
import { THREAD_OWNERS } from '../../src/core/lock.js';
import { ONE_PAGE, expectAllPagesClean } from '../helpers/geometry.js';
import { fixture } from '../helpers/paths.js';
import { useTmpDir } from '../helpers/tmp.js';

describe.runIf(THREAD_OWNERS)('a worker_thread terminated inside a page lock', () => {
  const tmp = useTmpDir();

  it('does not stall the others: the next writer finds the thread gone, takes the lock over and repairs the page', async () => {
    const path = tmp.path();
    const recovered: number[] = [];
    const cache = SharedCache.create<string>(path, { ...ONE_PAGE, lockTimeout: 10_000, onLockRecovered: (e) => recovered.push(e.pid) });
    try {
      cache.set('k', 'before');
      const worker = new Worker(pathToFileURL(fixture('thread-boot.mjs')), {
        workerData: { script: pathToFileURL(fixture('core/cache-thread.ts')).href, path, key: 'other' },
        env: { ...process.env, SESSMAP_FAULT: 'lock:held', SESSMAP_FAULT_ACTION: 'hang' },
        stderr: true,
      });
      const exited = new Promise<number>((r) => worker.once('exit', r));
      // The thread spins inside the lock: its owner id appears in the lock word.
      for (let i = 0; internals(cache).lockWord(0) === 0; i++) {
        expect(i, 'the thread never took the lock').toBeLessThan(6_000);
        await new Promise((r) => setTimeout(r, 5));
      }
      const holder = internals(cache).lockWord(0);
      expect(holder).not.toBe(internals(cache).ownerId);
      await worker.terminate();
      await exited;
      expect(internals(cache).lockWord(0), 'a terminated thread leaves its lock word behind').toBe(holder);

      // Reads go on without the lock; the write waits for the lock, finds its owner gone, takes it over.
      expect(cache.get('k')).toBe('before');
      cache.set('k', 'after');
      expect(cache.get('k')).toBe('after');
      expect(cache.get('other')).toBeUndefined();
      expect(cache.stats().lockRecoveries).toBe(1);
      expect(recovered).toEqual([holder & 0x3fffff]);
      expect(internals(cache).lockWord(0)).toBe(0);
      expectAllPagesClean(cache);
    } finally {
      cache.close();
    }
  });
});
