/**
 * Resizing a file that worker_threads of this process are updating: two threads increment 1,000
 * keys (update(), under the page lock) from before the main thread grows the file 4x until after
 * it has shrunk it back. Each thread's handle follows the layout by itself. Every key's count must be exactly the
 * increments made to it, and the values update() returned for a key, across both threads, must
 * be 1..n each once (no two increments saw the same old value, none was lost or counted twice,
 * and no key was lost and started again from 0).
 */
import { Worker } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SharedCache } from '../../src/index.js';
import { PAGES_OFF } from '../../src/core/layout.js';
import { fixture } from '../helpers/paths.js';
import { useTmpDir } from '../helpers/tmp.js';

const PAGE = 64 * 1024;
const KEYS = Array.from({ length: 1000 }, (_, i) => `t:${i}`);

interface Done {
  type: 'done';
  returned: number[][];
  errors: string[];
}

function thread(path: string, offset: number, stop: Int32Array): { worker: Worker; message: (type: string) => Promise<any> } {
  const worker = new Worker(pathToFileURL(fixture('thread-boot.mjs')), {
    workerData: { script: pathToFileURL(fixture('core/increment-until-thread.ts')).href, path, keys: KEYS, offset, stop },
  });
  const seen: any[] = [];
  const waiting: Array<() => void> = [];
  let failed: Error | undefined;
  worker.on('message', (m) => {
    seen.push(m);
    for (const w of waiting.splice(0)) w();
  });
  worker.on('error', (e: unknown) => {
    failed = e instanceof Error ? e : new Error(String(e));
    for (const w of waiting.splice(0)) w();
  });
  const message = async (type: string): Promise<any> => {
    for (;;) {
      const i = seen.findIndex((m) => m.type === type);
      if (i >= 0) return seen.splice(i, 1)[0];
      if (failed) throw failed;
      await new Promise<void>((r) => waiting.push(r));
    }
  };
  return { worker, message };
}

describe('resizing a file worker_threads are updating', () => {
  const tmp = useTmpDir();

  it('grows it 4x and shrinks it back with every increment of two threads counted once', async () => {
    const path = tmp.path('threads.smap');
    const cache = SharedCache.create(path, { size: PAGES_OFF + 8 * PAGE, pageSize: PAGE, lockTimeout: 30_000 });
    const stop = new Int32Array(new SharedArrayBuffer(4));
    const threads = [0, 1].map((i) => thread(path, i * 500, stop));
    try {
      await Promise.all(threads.map((t) => t.message('ready')));
      for (const t of threads) t.worker.postMessage({ type: 'go' });
      await new Promise((r) => setTimeout(r, 50));
      const grown = await cache.resize({ pageCount: 32, graceMs: 300 });
      const shrunk = await cache.resize({ pageCount: 8, graceMs: 300 });
      const setsThen = cache.stats().sets;
      await new Promise((r) => setTimeout(r, 50));
      Atomics.store(stop, 0, 1);
      const done: Done[] = await Promise.all(threads.map((t) => t.message('done')));
      for (const d of done) expect(d.errors).toEqual([]);
      // Both resizes moved entries the threads were writing.
      expect(grown.entriesMoved).toBeGreaterThan(0);
      expect(shrunk.entriesMoved).toBeGreaterThan(0);
      // ...and the threads went on writing after the shrink (their updates are the sets).
      expect(cache.stats().sets, 'no update after the resizes').toBeGreaterThan(setsThen);
      for (const [k, key] of KEYS.entries()) {
        const all = [...done[0].returned[k], ...done[1].returned[k]].sort((a, b) => a - b);
        expect(cache.get(key), key).toBe(all.length);
        const wrong = all.findIndex((v, i) => v !== i + 1);
        expect(wrong, `${key}: value ${all[wrong]} at rank ${wrong + 1}`).toBe(-1);
      }
      expect(cache.geometry.pageCount).toBe(8);
    } finally {
      for (const t of threads) await t.worker.terminate();
      cache.close();
    }
  });
});
