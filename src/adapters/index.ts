export type * from './types.js';
export { defaultUserIdOf } from './service.js';
export { newSessionId, isValidSessionId, checkSessionId, MAX_SESSION_ID_BYTES } from './ids.js';
