/**
 * White-box access for tests: page invariants, key-to-page mapping and lock words.
 * Not exported from the package.
 */
import type { SharedCache } from './cache/shared-cache.js';

export interface CacheInternals {
  checkPage(p: number): string[];
  pageOf(key: string): number;
  lockWord(p: number): number;
  ownerId: number;
}

/** Filled by each SharedCache as it is made. */
export const INTERNALS = new WeakMap<object, CacheInternals>();

export function internals(cache: SharedCache<any>): CacheInternals {
  const i = INTERNALS.get(cache);
  if (!i) throw new Error('not a SharedCache');
  return i;
}
