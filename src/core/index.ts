export { SharedCache, UNCHANGED } from './cache/shared-cache.js';
export type * from './types.js';
export { defaultCacheDir } from './file.js';
export { EVICTED_TTL_BOUNDS } from './layout.js';
