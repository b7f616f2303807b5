export { setupPrimary, type PrimaryHandle } from './primary.js';
export { attachWorker, type WorkerOptions } from './worker.js';
export { openSessionStore } from '../open.js';
export type { SessionServiceOptions, SessionEvictionPolicy } from './options.js';
