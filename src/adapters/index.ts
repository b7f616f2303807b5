export type * from './types.js';
export type { SessionBackend, StoredSession, BackendRemoval } from './backend.js';
export { KEEP } from './backend.js';
export { SessionService, defaultUserIdOf } from './service.js';
export { MmapBackend } from './mmap-backend.js';
export { newSessionId, isValidSessionId, checkSessionId } from './ids.js';
