export type * from './types.js';
export type { SessionOptions } from './options.js';
export { defaultUserIdOf } from './options.js';
export { newSessionId, isValidSessionId, checkSessionId, MAX_SESSION_ID_BYTES } from './ids.js';
