export { setupPrimary, type PrimaryHandle } from './primary.js';
export { attachWorker, type WorkerOptions } from './worker.js';
export { openSessionStore } from './standalone.js';
export type { SessionServiceOptions, SessionEvictionPolicy } from './options.js';
