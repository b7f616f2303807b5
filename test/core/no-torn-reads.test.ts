import { describe, expect, it } from 'vitest';
import { SharedCache } from '../../src/index.js';
import { Child, useChildCleanup } from '../helpers/child.js';
import { expectAllPagesClean, range } from '../helpers/geometry.js';
import { seedFromEnv } from '../helpers/rng.js';
import { useTmpDir } from '../helpers/tmp.js';

const PROCS = 3;
const KEYS_PER_PROC = 40;
const OPS = 25_000;

interface Done {
  type: 'done';
  reads: number;
  hits: number;
  crossHits: number;
  violations: string[];
}

describe('reads concurrent with writes in other processes', () => {
  const tmp = useTmpDir();
  useChildCleanup();

  it("never returns another key's value, a torn value or an older value than one already seen", async () => {
    const seed = seedFromEnv();
    const path = tmp.path();
    // Two small pages: values of up to 4 KB from 120 keys overflow them, so writes also move,
    // compact and evict while others read.
    const cache = SharedCache.create(path, { pageCount: 2, pageSize: 65536, lockTimeout: 30_000 });
    try {
      const children = range(PROCS).map(
        (i) => new Child('core/torn-rw.ts', { args: [path, String(i), String(PROCS), String(KEYS_PER_PROC), String(OPS), String(seed)] }),
      );
      await Promise.all(children.map((ch) => ch.nextMessage((m) => m?.type === 'ready')));
      for (const ch of children) ch.send({ type: 'go' });
      const results = await Promise.all(children.map((ch) => ch.nextMessage<Done>((m) => m?.type === 'done', 150_000)));
      const exits = await Promise.all(children.map((ch) => ch.waitExit()));

      for (const [i, r] of results.entries()) {
        expect(r.violations, `process ${i} (replay with SESSMAP_TEST_SEED=${seed})`).toEqual([]);
      }
      for (const e of exits) expect(e).toEqual({ code: 0, signal: null });
      // Not vacuous: readers really saw values written by other processes.
      const crossHits = results.reduce((a, r) => a + r.crossHits, 0);
      expect(crossHits, 'no process ever read a value written by another').toBeGreaterThan(1000);
      const stats = cache.stats();
      expect(stats.removals.evicted, 'the pages never overflowed').toBeGreaterThan(0);
      expectAllPagesClean(cache);
    } finally {
      cache.close();
    }
  });
});
