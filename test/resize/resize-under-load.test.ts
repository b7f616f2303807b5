/**
 * The test: two processes update 1,000 sessions without pause while a third grows the
 * file 4x and then shrinks it back. Every session must be present throughout (an update that
 * finds no entry is counted as missing) and at the end, and every increment counted: each
 * session's `n` is exactly the number of updates the two processes made to it. The resizer is
 * slowed down (a pause after each page it moves), so that many updates land while pages move.
 */
import { describe, expect, it } from 'vitest';
import { SharedCache } from '../../src/index.js';
import { PAGES_OFF } from '../../src/core/layout.js';
import { Child, useChildCleanup } from '../helpers/child.js';
import { expectAllPagesClean } from '../helpers/geometry.js';
import { useTmpDir } from '../helpers/tmp.js';

const PAGE = 64 * 1024;
const SESSIONS = 1000;

interface Done {
  counts: number[];
  missing: number;
  errors: string[];
  pageCount: number;
}

function busy(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // the resizer holds no lock here: the updaters run
  }
}

describe('resizing a file two processes are updating', () => {
  const tmp = useTmpDir();
  useChildCleanup();

  it('grows it 4x and shrinks it back with every session present and every increment counted', async () => {
    const path = tmp.path('load.smap');
    const cache = SharedCache.create<{ n: number; user: string }>(path, { size: PAGES_OFF + 8 * PAGE, pageSize: PAGE, serializer: 'structured', lockTimeout: 30_000 });
    const keys = Array.from({ length: SESSIONS }, (_, i) => `s:${i.toString(36).padStart(6, '0')}`);
    for (const [i, k] of keys.entries()) cache.set(k, { n: 0, user: `user-${i % 97}` });
    const workers = [0, 1].map((w) => new Child('core/resize-updater.ts', { args: [path, JSON.stringify(keys), String(w)] }));
    await Promise.all(workers.map((w) => w.nextMessage((m) => m?.type === 'ready')));
    for (const w of workers) w.send({ type: 'go' });
    await new Promise((r) => setTimeout(r, 300));

    // Writes (sets) counted in the file while pages were moving, for each resize.
    const during: number[] = [];
    for (const pageCount of [32, 8]) {
      let first = -1;
      let last = -1;
      const r = await cache.resize({
        pageCount,
        // The updaters' operations take microseconds: half a second covers any of them in flight.
        graceMs: 500,
        onProgress: (p) => {
          if (p.phase !== 'moving') return;
          const sets = cache.stats().sets;
          if (first < 0) first = sets;
          last = sets;
          busy(15);
        },
      });
      expect(r.to.pageCount).toBe(pageCount);
      expect(r.entriesMoved).toBe(SESSIONS);
      during.push(last - first);
      for (const k of keys) expect(cache.has(k), k).toBe(true);
    }
    await new Promise((r) => setTimeout(r, 300));
    for (const w of workers) w.send({ type: 'stop' });
    const done = await Promise.all(workers.map((w) => w.nextMessage<Done>((m) => m?.type === 'done', 60_000)));
    await Promise.all(workers.map((w) => w.waitExit()));

    for (const d of done) {
      expect(d.errors).toEqual([]);
      expect(d.missing, 'updates that found no session').toBe(0);
      expect(d.pageCount, 'the worker followed the layout by itself').toBe(8);
    }
    // Both resizes overlapped the updaters' work: hundreds of writes while pages moved.
    for (const n of during) expect(n).toBeGreaterThan(100);
    let total = 0;
    for (const [i, k] of keys.entries()) {
      const want = done[0].counts[i] + done[1].counts[i];
      expect(cache.get(k)?.n, k).toBe(want);
      total += want;
    }
    expect(total).toBeGreaterThan(SESSIONS * 10);
    expect(cache.geometry.pageCount).toBe(8);
    expectAllPagesClean(cache);
    cache.close();
  });
});
