export { SharedCache, UNCHANGED } from './cache.js';
export type * from './types.js';
export { defaultCacheDir } from './file.js';
