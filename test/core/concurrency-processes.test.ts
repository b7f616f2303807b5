import { describe, expect, it } from 'vitest';
import { SharedCache } from '../../src/index.js';
import { Child, useChildCleanup } from '../helpers/child.js';
import { expectAllPagesClean, range } from '../helpers/geometry.js';
import { useTmpDir } from '../helpers/tmp.js';

const CHILDREN = 4;
const ITERATIONS = 10_000;
const KEYS = ['alpha', 'beta', 'gamma', 'delta', 'epsilon'];
const PER_KEY = (CHILDREN * ITERATIONS) / KEYS.length;

interface Done {
  type: 'done';
  returned: number[][];
  errors: string[];
  lockWaits: number;
}

describe('update() from several processes at once', () => {
  const tmp = useTmpDir();
  useChildCleanup();

  it('loses no increment when 4 processes each run 10,000 updates on 5 shared keys', async () => {
    const path = tmp.path();
    // Two pages for five keys: every lock is fought over.
    const cache = SharedCache.create(path, { pageCount: 2, pageSize: 65536, lockTimeout: 30_000 });
    try {
      const children = range(CHILDREN).map(
        (i) => new Child('core/incrementer.ts', { args: [path, JSON.stringify(KEYS), String(ITERATIONS), String(i)] }),
      );
      await Promise.all(children.map((ch) => ch.nextMessage((m) => m?.type === 'ready')));
      for (const ch of children) ch.send({ type: 'go' });
      const results = await Promise.all(children.map((ch) => ch.nextMessage<Done>((m) => m?.type === 'done', 150_000)));
      const exits = await Promise.all(children.map((ch) => ch.waitExit()));

      for (const [i, r] of results.entries()) expect(r.errors, `child ${i} errors`).toEqual([]);
      for (const e of exits) expect(e).toEqual({ code: 0, signal: null });

      // Exact totals, per key and in sum.
      const totals = KEYS.map((k) => cache.get(k));
      expect(totals).toEqual(KEYS.map(() => PER_KEY));
      expect((totals as number[]).reduce((a, b) => a + b, 0)).toBe(CHILDREN * ITERATIONS);

      // update() returned every value 1..PER_KEY exactly once across all processes: no two
      // increments ever read the same old value.
      for (const k of KEYS.keys()) {
        const all = results.flatMap((r) => r.returned[k]).sort((a, b) => a - b);
        expect(all.length).toBe(PER_KEY);
        const wrong = all.findIndex((v, i) => v !== i + 1);
        expect(wrong, `key ${KEYS[k]}: value ${all[wrong]} at rank ${wrong + 1}`).toBe(-1);
        // ...and each process saw its own results strictly increase.
        for (const r of results) {
          const mine = r.returned[k];
          expect(mine.every((v, i) => i === 0 || v > mine[i - 1])).toBe(true);
        }
      }

      // The processes really contended for the locks (otherwise this test proved nothing).
      expect(cache.stats().lockWaits, 'no lock acquisition ever had to wait').toBeGreaterThan(0);
      expectAllPagesClean(cache);
    } finally {
      cache.close();
    }
  });
});
