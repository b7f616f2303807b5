/**
 * A resizer killed with SIGKILL at each of its fault points (core/faults.ts): before it
 * published anything, after it published the two layouts, mid-way through copying a page's
 * entries, after copying them but before marking the page, after marking it but before emptying
 * it, and after publishing the new layout alone. Each time, a fresh handle must read every
 * session exact (none lost, none duplicated, none deleted coming back), writes and deletes must
 * work on the half-moved file, every page must check clean, and the next resize must finish the
 * move (resumed) with every session still exact, and the file check clean again.
 */
import { describe, expect, it } from 'vitest';
import { SharedCache } from '../../src/index.js';
import { PAGES_OFF } from '../../src/core/layout.js';
import { Child, useChildCleanup } from '../helpers/child.js';
import { expectAllPagesClean } from '../helpers/geometry.js';
import { useTmpDir } from '../helpers/tmp.js';

const PAGE = 64 * 1024;
const POINTS = ['resize:laid-out', 'resize:published', 'resize:copying', 'resize:copied', 'resize:marked', 'resize:finished'] as const;
/** Points after which the two layouts are both in use (a fresh handle sees the resize under way). */
const MOVING = new Set(['resize:published', 'resize:copying', 'resize:copied', 'resize:marked']);

function expectExact(cache: SharedCache, want: Map<string, unknown>, label: string): void {
  for (const [k, v] of want) expect(cache.get(k), `${label}: ${k}`).toEqual(v);
  const keys = [...cache.keys()].sort();
  expect(keys, `${label}: keys()`).toEqual([...want.keys()].filter((k) => want.get(k) !== undefined).sort());
}

describe('a resize killed with SIGKILL', () => {
  const tmp = useTmpDir();
  useChildCleanup();

  for (const point of POINTS) {
    for (const [from, to] of [[8, 32], [32, 8]] as const) {
      it(`at ${point}, growing ${from} -> ${to} pages, leaves every session readable and is finished by the next resize`, async () => {
        const path = tmp.path(`${point.replace(':', '-')}-${from}.smap`);
        const cache = SharedCache.create(path, { size: PAGES_OFF + from * PAGE, pageSize: PAGE, serializer: 'structured' });
        const want = new Map<string, unknown>();
        for (let i = 0; i < 1000; i++) {
          const v = { i, user: `u${i % 31}`, cart: [i, i + 1] };
          cache.set(`s:${i}`, v);
          want.set(`s:${i}`, v);
        }
        // Deleted before the resize: must stay deleted.
        for (let i = 0; i < 1000; i += 50) {
          cache.delete(`s:${i}`);
          want.delete(`s:${i}`);
        }
        cache.close();

        const child = new Child('core/resizer.ts', { args: [path, String(to), '0'], fault: point, faultAction: 'kill' });
        const exit = await child.waitExit(60_000);
        expect(exit, `the resizer was not killed at ${point}\n${child.stderr}`).toEqual({ code: null, signal: 'SIGKILL' });

        const after = SharedCache.open(path);
        const state = after.stats().resize;
        if (MOVING.has(point)) {
          expect(state, 'a resize under way').toMatchObject({ fromPages: from, toPages: to, resizerAlive: false });
        } else expect(state).toBeUndefined();
        expectExact(after, want, 'after the kill');
        expect(after.stats().entries).toBe(want.size);
        expectAllPagesClean(after);

        // The half-moved file takes writes and deletes, on keys of every page.
        for (let i = 1; i < 1000; i += 7) {
          if (!want.has(`s:${i}`)) continue;
          after.set(`s:${i}`, { i, rewritten: true });
          want.set(`s:${i}`, { i, rewritten: true });
        }
        for (let i = 3; i < 1000; i += 11) {
          after.delete(`s:${i}`);
          want.delete(`s:${i}`);
        }
        expectExact(after, want, 'after writes');

        const r = await after.resize({ pageCount: to, graceMs: 0 });
        expect(r.to.pageCount).toBe(to);
        expect(r.resumed).toBe(MOVING.has(point));
        expect(after.stats().resize).toBeUndefined();
        expectExact(after, want, 'after the resumed resize');
        expect(after.stats().entries).toBe(want.size);
        expectAllPagesClean(after);
        after.close();
        const fresh = SharedCache.open(path);
        expect(fresh.geometry.pageCount).toBe(to);
        expectExact(fresh, want, 'a fresh handle');
        fresh.close();
      });
    }
  }
});
