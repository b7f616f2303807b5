/** The BackendContext the backend tests open a backend with: no sweeper (the contract's hook sweeps), plain LRU, events dropped. */
import type { BackendContext, BackendRole } from '../../src/sessions/backend.js';
import { normaliseSessionOptions } from '../../src/sessions/options.js';
import { silentLogger } from '../../src/events/logger.js';

export function backendContext(role: BackendRole): BackendContext {
  return {
    role,
    sessions: normaliseSessionOptions({ sweepInterval: 0, evictionPolicy: 'lru' }),
    emit: () => {},
    emitHere: () => {},
    report: () => {},
    logger: silentLogger,
  };
}
