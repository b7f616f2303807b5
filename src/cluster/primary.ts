/**
 * The primary: creates the backend's store (the mmap file, sized), hands what workers need to
 * reach it and the cluster-wide options to the workers the app forks (through the environment),
 * supervises them (a worker's exit releases what it held: the file's page locks, repaired at
 * once), and hosts the cluster-wide event stream, on which every event appears exactly once. The
 * backend sweeps expired sessions and watches its store; compose.ts builds it all.
 *
 * setupPrimary is synchronous (the file exists, or its error is thrown, before it returns), so
 * it opens the mmap backend through its driver imported here; the other entry points load a
 * backend with import() when it is chosen.
 */
import cluster, { type Worker } from 'node:cluster';
import { sessmapError } from '../errors.js';
import type { EventBus } from '../events/bus.js';
import type { SessionStore } from '../sessions/types.js';
import { normaliseSessionOptions } from '../sessions/options.js';
import type { CacheStats } from '../core/index.js';
import { mmapDriver } from '../backends/mmap/driver.js';
import type { SessionServiceOptions } from './options.js';
import { CONFIG_ENV, workerConfigOf } from './worker-config.js';
import { fromWire, isWorkerMessage } from './protocol.js';
import { compose } from './compose.js';

export interface PrimaryHandle {
  /** The cluster-wide typed event stream. */
  readonly events: EventBus;
  /** A session store for use in the primary itself. */
  readonly store: SessionStore;
  readonly path: string;
  stats(): CacheStats;
  /** Stops supervising; `unlink: true` also removes the file (sessions are lost). */
  close(options?: { unlink?: boolean }): Promise<void>;
}

export function setupPrimary(options: SessionServiceOptions = {}): PrimaryHandle {
  if (!cluster.isPrimary) throw sessmapError('SESSMAP_ERR_NOT_PRIMARY', 'setupPrimary must run in the cluster primary; workers call attachWorker()');
  const driver = mmapDriver;
  const backendOptions = driver.normalise(options as Record<string, unknown>);
  const sessions = normaliseSessionOptions(options);
  const log = sessions.logger.child({ component: 'cluster', role: 'primary' });
  const c = compose(driver, { role: 'primary', sessions, backend: backendOptions, logger: log });
  const { backend, emit } = c;
  log.info({ ...driver.describe(backendOptions, backend), idleTimeout: sessions.idleTimeout, absoluteTimeout: sessions.absoluteTimeout, evictionPolicy: sessions.evictionPolicy }, 'session cache ready');

  const config = workerConfigOf(driver.name as 'mmap', driver.workerConfig(backendOptions, backend), sessions);
  const previousEnv = process.env[CONFIG_ENV];
  process.env[CONFIG_ENV] = JSON.stringify(config);

  const onMessage = (worker: Worker) => (m: unknown) => {
    if (!isWorkerMessage(m)) return;
    if (m.kind === 'hello') {
      emit('workerAttached', { at: Date.now(), pid: process.pid, workerId: worker.id, workerPid: m.pid });
      return;
    }
    for (const w of m.events) {
      const [name, payload] = fromWire(w);
      emit(name, payload as never);
    }
    if (m.dropped > 0) emit('dropped', { at: Date.now(), pid: process.pid, count: m.dropped, workerPid: worker.process.pid ?? 0 });
  };
  const listeners = new Map<Worker, (m: unknown) => void>();
  const onFork = (worker: Worker): void => {
    const l = onMessage(worker);
    listeners.set(worker, l);
    worker.on('message', l);
  };
  const onExit = (worker: Worker, code: number | null, signal: string | null): void => {
    const pid = worker.process.pid;
    let recovered = 0;
    if (pid !== undefined) {
      try {
        recovered = backend.processExited(pid);
      } catch (err) {
        emit('error', err as Error);
      }
    }
    const l = listeners.get(worker);
    if (l) worker.off('message', l);
    listeners.delete(worker);
    emit('workerDetached', { at: Date.now(), pid: process.pid, workerId: worker.id, workerPid: pid ?? 0, code, signal, locksRecovered: recovered });
  };
  cluster.on('fork', onFork);
  cluster.on('exit', onExit);
  for (const w of Object.values(cluster.workers ?? {})) if (w) onFork(w);

  let closed = false;
  return {
    events: c.events,
    store: c.store,
    path: backend.path,
    stats: () => backend.stats(),
    async close(opts = {}) {
      if (closed) return;
      closed = true;
      cluster.off('fork', onFork);
      cluster.off('exit', onExit);
      for (const [w, l] of listeners) w.off('message', l);
      listeners.clear();
      if (previousEnv === undefined) delete process.env[CONFIG_ENV];
      else process.env[CONFIG_ENV] = previousEnv;
      await c.close();
      if (opts.unlink) backend.unlink();
      log.info({ unlinked: opts.unlink === true }, 'session service closed');
    },
  };
}
