/**
 * White-box access for tests: page invariants, key-to-page mapping and lock words.
 * Not exported from the package.
 */
import { INTERNALS, type CacheInternals, type SharedCache } from './shared-cache.js';

export function internals(cache: SharedCache<any>): CacheInternals {
  const i = INTERNALS.get(cache);
  if (!i) throw new Error('not a SharedCache');
  return i;
}
