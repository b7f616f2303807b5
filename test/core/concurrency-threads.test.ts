import { describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import { SharedCache } from '../../src/index.js';
import { expectAllPagesClean, range } from '../helpers/geometry.js';
import { fixture } from '../helpers/paths.js';
import { useTmpDir } from '../helpers/tmp.js';

const THREADS = 4;
const ITERATIONS = 10_000;
const KEYS = ['alpha', 'beta', 'gamma', 'delta', 'epsilon'];
const PER_KEY = (THREADS * ITERATIONS) / KEYS.length;

interface Done {
  type: 'done';
  returned: number[][];
  errors: string[];
}

/** A worker_thread running incrementer-thread.ts; resolves messages by type. */
function startThread(path: string, offset: number) {
  const worker = new Worker(pathToFileURL(fixture('thread-boot.mjs')), {
    workerData: { script: pathToFileURL(fixture('core/incrementer-thread.ts')).href, path, keys: KEYS, iterations: ITERATIONS, offset },
  });
  const messages: Array<{ type: string }> = [];
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  worker.on('message', (m) => {
    messages.push(m);
    wake?.();
  });
  worker.on('error', (err: unknown) => {
    failure = err instanceof Error ? err : new Error(String(err));
    wake?.();
  });
  worker.on('exit', (code) => {
    failure ??= new Error(`worker ${offset} exited with code ${code}`);
    wake?.();
  });
  async function next<T>(type: string): Promise<T> {
    for (;;) {
      const i = messages.findIndex((m) => m.type === type);
      if (i >= 0) return messages.splice(i, 1)[0] as T;
      if (failure) throw failure;
      await new Promise<void>((r) => (wake = r));
    }
  }
  return { worker, next };
}

describe('update() from several worker_threads at once', () => {
  const tmp = useTmpDir();

  it('loses no increment when 4 threads each run 10,000 updates on 5 shared keys', async () => {
    const path = tmp.path();
    const cache = SharedCache.create(path, { pageCount: 2, pageSize: 65536, lockTimeout: 30_000 });
    const threads = range(THREADS).map((i) => startThread(path, i));
    try {
      await Promise.all(threads.map((t) => t.next('ready')));
      for (const t of threads) t.worker.postMessage({ type: 'go' });
      const results = await Promise.all(threads.map((t) => t.next<Done>('done')));

      for (const [i, r] of results.entries()) expect(r.errors, `thread ${i} errors`).toEqual([]);
      const totals = KEYS.map((k) => cache.get(k));
      expect(totals).toEqual(KEYS.map(() => PER_KEY));
      expect((totals as number[]).reduce((a, b) => a + b, 0)).toBe(THREADS * ITERATIONS);

      for (const k of KEYS.keys()) {
        const all = results.flatMap((r) => r.returned[k]).sort((a, b) => a - b);
        expect(all.length).toBe(PER_KEY);
        const wrong = all.findIndex((v, i) => v !== i + 1);
        expect(wrong, `key ${KEYS[k]}: value ${all[wrong]} at rank ${wrong + 1}`).toBe(-1);
      }
      expect(cache.stats().lockWaits, 'no lock acquisition ever had to wait').toBeGreaterThan(0);
      expectAllPagesClean(cache);
    } finally {
      await Promise.all(threads.map((t) => t.worker.terminate()));
      cache.close();
    }
  });
});
