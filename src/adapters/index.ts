export type * from './types.js';
export { defaultUserIdOf } from './service.js';
export { newSessionId, isValidSessionId, checkSessionId } from './ids.js';
