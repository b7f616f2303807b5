export { SharedCache, UNCHANGED } from './cache.js';
export { DEFAULT_OPTIONS, parseSize } from './options.js';
export type * from './types.js';
export { defaultCacheDir } from './file.js';
