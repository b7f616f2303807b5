export * from './core/index.js';
export { ERROR_CODES, SessmapError, errorFromJSON, isSessmapError, type ErrorCode } from './errors.js';
export * from './cluster/index.js';
export * from './sessions/index.js';
export type * from './events/types.js';
export { silentLogger, type Logger } from './events/logger.js';
export type { MmapBackendOptions } from './backends/mmap/options.js';
