/**
 * The primary: creates and sizes the cache file, hands its path and options to the workers the
 * app forks (through the environment), supervises them (a worker's exit releases and repairs
 * every page lock it held, at once), sweeps expired sessions, and hosts the cluster-wide event
 * stream, on which every event appears exactly once.
 */
import cluster, { type Worker } from 'node:cluster';
import fs from 'node:fs';
import { sessmapError } from '../errors.js';
import { emitSafely, type EventBus } from '../events/bus.js';
import { logEvents } from '../events/log.js';
import type { SessionEvents } from '../events/types.js';
import type { SessionStore } from '../adapters/types.js';
import type { CacheStats } from '../core/index.js';
import { normaliseServiceOptions, type SessionServiceOptions } from './options.js';
import { CONFIG_ENV, workerConfigOf } from './worker-config.js';
import { fromWire, isWorkerMessage, type WorkerMessage } from './protocol.js';
import { watchFilePath } from './file-watch.js';
import { buildRuntime, startSweeper } from './runtime.js';

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
  const o = normaliseServiceOptions(options);
  const log = o.logger.child({ component: 'cluster', role: 'primary' });
  let bus: EventBus | undefined;
  let evictedLive = 0;
  const emit = <K extends keyof SessionEvents>(name: K, ...args: SessionEvents[K]): void => {
    if (name === 'evicted' && (args[0] as { live: boolean }).live) evictedLive++;
    emitSafely(bus!, log, name, ...args);
  };
  const rt = buildRuntime('create', o, emit);
  bus = rt.bus;
  logEvents(bus, log);
  const g = rt.cache.geometry;
  if (o.sizeNote) log.info({ size: g.fileSize }, o.sizeNote);
  log.info({ path: o.path, size: g.fileSize, pages: g.pageCount, pageSize: g.pageSize, maxItemBytes: rt.cache.maxItemBytes, idleTimeout: o.idleTimeout, absoluteTimeout: o.absoluteTimeout, evictionPolicy: o.evictionPolicy }, 'session cache ready');

  const config = workerConfigOf(o, g.pageSize);
  const previousEnv = process.env[CONFIG_ENV];
  process.env[CONFIG_ENV] = JSON.stringify(config);

  const onMessage = (worker: Worker) => (m: unknown) => {
    if (!isWorkerMessage(m)) return;
    const msg = m as WorkerMessage;
    if (msg.kind === 'hello') {
      emit('workerAttached', { at: Date.now(), pid: process.pid, workerId: worker.id, workerPid: msg.pid });
      return;
    }
    for (const w of msg.events) {
      const [name, payload] = fromWire(w);
      emit(name, payload as never);
    }
    if (msg.dropped > 0) emit('dropped', { at: Date.now(), pid: process.pid, count: msg.dropped, workerPid: worker.process.pid ?? 0 });
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
    if (pid !== undefined && !rt.cache.closed) {
      try {
        recovered = rt.cache.recoverOwnerPid(pid);
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

  const stopSweeper = startSweeper(rt.cache, o.sweepInterval, (err) => emit('error', err as Error));
  // A tmp cleaner or an operator deleting or replacing the file breaks every worker forked afterwards: say so now.
  const stopWatch = watchFilePath(rt.cache, o.sweepInterval, bus, log, 'primary');
  const capacityTimer = setInterval(() => {
    if (evictedLive === 0) return;
    const n = evictedLive;
    evictedLive = 0;
    emit('capacity', { at: Date.now(), pid: process.pid, evictedLive: n, intervalMs: o.capacityInterval });
  }, o.capacityInterval);
  capacityTimer.unref();

  let closed = false;
  return {
    events: bus,
    store: rt.service,
    path: o.path,
    stats: () => rt.cache.stats(),
    async close(opts = {}) {
      if (closed) return;
      closed = true;
      stopSweeper();
      stopWatch();
      clearInterval(capacityTimer);
      cluster.off('fork', onFork);
      cluster.off('exit', onExit);
      for (const [w, l] of listeners) w.off('message', l);
      listeners.clear();
      if (previousEnv === undefined) delete process.env[CONFIG_ENV];
      else process.env[CONFIG_ENV] = previousEnv;
      rt.cache.close();
      if (opts.unlink) fs.rmSync(o.path, { force: true });
      log.info({ unlinked: opts.unlink === true }, 'session service closed');
    },
  };
}
