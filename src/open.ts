/**
 * The session store without a cluster: a single process, worker_threads, or unrelated processes
 * on one host that share a file. Each opener creates the backend's store or attaches to it, and
 * supervises it (sweeps, watches the file, counts capacity); events are local to the process
 * that caused them (each still happens once: the process that removes an entry is the one that
 * reports it). The backend is chosen by the options and loaded with import() when chosen.
 */
import { composeStandalone } from './cluster/compose.js';
import type { SessionServiceOptions } from './cluster/options.js';
import type { SessionStore } from './sessions/types.js';

export async function openSessionStore(options: SessionServiceOptions = {}): Promise<SessionStore> {
  return composeStandalone(options);
}
