export { setupPrimary, type PrimaryHandle, type PrimaryOptions } from './primary.js';
export type { MetricsEndpoint, MetricsServerOptions } from './metrics-endpoint.js';
export { attachWorker, type WorkerOptions } from './worker.js';
export { openSessionStore } from '../open.js';
export type { SessionServiceOptions, SessionEvictionPolicy } from './options.js';
