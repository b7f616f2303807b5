/**
 * The options of the entry points (setupPrimary, attachWorker, openSessionStore and the
 * adapters): one flat object of session options and backend options, as apps write it. Each
 * layer reads its own part: the session options (sessions/options.ts) and the chosen backend's
 * (its driver's `normalise`); keys of the other part are left alone.
 */
import type { BackendOptions } from '../backends/select.js';
import type { SessionOptions } from '../sessions/options.js';

export type { SessionEvictionPolicy } from '../sessions/options.js';

/** Session options and backend options, flat (the mmap file's: path, size, maxSessions, pageSize, ifExists, lockTimeout). */
export interface SessionServiceOptions extends SessionOptions, BackendOptions {}
