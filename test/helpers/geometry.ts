/** Small geometries used across the core tests, and helpers over `internals`. */
import { expect } from 'vitest';
import { SharedCache } from '../../src/index.js';
import type { RemovalEvent } from '../../src/core/types.js';
import { internals } from '../../src/core/cache/internals.js';

/** One 64 KiB page: every key lands in page 0, so faults and evictions hit the page under test. */
export const ONE_PAGE = Object.freeze({ pageCount: 1, pageSize: 65536 });

/** Problems reported by checkPage for every page, keyed by page; `{}` when all are consistent. */
export function pageProblems(cache: SharedCache): Record<number, string[]> {
  const ix = internals(cache);
  const out: Record<number, string[]> = {};
  for (let p = 0; p < cache.geometry.pageCount; p++) {
    const problems = ix.checkPage(p);
    if (problems.length > 0) out[p] = problems;
  }
  return out;
}

/** Asserts every page of the file is consistent. */
export function expectAllPagesClean(cache: SharedCache): void {
  expect(pageProblems(cache)).toEqual({});
}

export function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/**
 * Creates a ONE_PAGE cache at `path` and fills it with ~1 KB entries `<prefix>-<i>` up to its
 * first eviction. Returns it open, with the keys still present (in write order) and their values.
 */
export function fillOnePage(path: string, prefix: string): { cache: SharedCache; present: string[]; values: Map<string, unknown> } {
  const events: RemovalEvent[] = [];
  const cache = SharedCache.create(path, { ...ONE_PAGE, onRemove: (e) => events.push(e) });
  const written: string[] = [];
  const values = new Map<string, unknown>();
  for (let i = 0; events.length === 0; i++) {
    expect(i, 'the page never filled up').toBeLessThan(1000);
    const v = { i, s: `${i}:`.padEnd(1000, prefix) };
    cache.set(`${prefix}-${i}`, v);
    written.push(`${prefix}-${i}`);
    values.set(`${prefix}-${i}`, v);
  }
  for (const e of events) values.delete(e.key);
  return { cache, present: written.filter((k) => values.has(k)), values };
}

/**
 * Sets `key` through a new handle on `path` and checks that it took no eviction: the room was
 * there (fragmented), and every survivor reads exact and no deleted key comes back.
 */
export function expectWriteWithoutEviction(path: string, key: string, value: unknown, survivors: Map<string, unknown>, deleted: readonly string[]): void {
  const events: RemovalEvent[] = [];
  const cache = SharedCache.open(path, { onRemove: (e) => events.push(e) });
  try {
    cache.set(key, value);
    expect(cache.get(key)).toEqual(value);
    expect(events.filter((e) => e.reason === 'evicted')).toEqual([]);
    for (const [k, v] of survivors) expect(cache.get(k)).toEqual(v);
    for (const k of deleted) expect(cache.get(k)).toBeUndefined();
  } finally {
    cache.close();
  }
}
