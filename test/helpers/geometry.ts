/** Small geometries used across the core tests, and helpers over `internals`. */
import { expect } from 'vitest';
import type { SharedCache } from '../../src/index.js';
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
