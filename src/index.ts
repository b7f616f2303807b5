export * from './core/index.js';
export { ERROR_CODES, SessmapError, errorFromJSON, isSessmapError, type ErrorCode } from './errors.js';
