/**
 * The primary: creates the backend's store (the mmap file, sized), hands what workers need to
 * reach it and the cluster-wide options to the workers the app forks (through the environment),
 * supervises them (a worker's exit releases what it held: the file's page locks, repaired at
 * once), and hosts the cluster-wide event stream, on which every event appears exactly once. The
 * backend sweeps expired sessions and watches its store; compose.ts builds it all.
 *
 * setupPrimary is synchronous (the file exists, or its error is thrown, before it returns), so
 * it opens the mmap backend through its driver imported here; the other entry points load a
 * backend with import() when it is chosen. Redis opens asynchronously: its driver is imported
 * here too (node-redis itself only once Redis is chosen), the handle's store waits for it, and
 * `ready` says when it is open. What workers need to reach it (the URL, the prefix) is known at
 * once, so the app forks them right away as it does with the file.
 *
 * With the `metrics` option it also serves `/metrics` (metrics-endpoint.ts): the file's counters
 * are the whole host's, so the workers take no part in it.
 */
import cluster, { type Worker } from 'node:cluster';
import { sessmapError } from '../errors.js';
import type { EventBus } from '../events/bus.js';
import type { SessionStore } from '../sessions/types.js';
import { normaliseSessionOptions } from '../sessions/options.js';
import type { CacheStats } from '../core/index.js';
import { mmapDriver } from '../backends/mmap/driver.js';
import { redisDriver } from '../backends/redis/driver.js';
import { backendOf } from '../backends/select.js';
import type { MmapBackend } from '../backends/mmap/backend.js';
import type { BackendContext, BackendDriver, SessionBackend } from '../sessions/backend.js';
import { deferBackend } from './deferred.js';
import type { SessionServiceOptions } from './options.js';
import { CONFIG_ENV, workerConfigOf } from './worker-config.js';
import { fromWire, isWorkerMessage } from './protocol.js';
import { compose, type Composed } from './compose.js';
import { checkMetricsOption, startMetrics, type MetricsEndpoint, type MetricsServerOptions } from './metrics-endpoint.js';

/** setupPrimary's options: the session service's, and the primary's own `metrics` endpoint. */
export interface PrimaryOptions extends SessionServiceOptions {
  /** Serve sessmap's Prometheus metrics at `http://host:port/metrics` from the primary (needs prom-client). */
  metrics?: MetricsServerOptions;
}

export interface PrimaryHandle {
  /** The cluster-wide typed event stream. */
  readonly events: EventBus;
  /** A session store for use in the primary itself. */
  readonly store: SessionStore;
  /** The backend the options chose. */
  readonly backend: 'mmap' | 'redis';
  /** The mmap file ('' on Redis). */
  readonly path: string;
  /** Resolves when the backend is open (at once for the file; Redis: its first answer, or commandTimeout). */
  readonly ready: Promise<void>;
  /**
   * With the `metrics` option: resolves to where `/metrics` is served once it listens (rejects
   * with SESSMAP_ERR_METRICS_CLIENT or SESSMAP_ERR_METRICS_LISTEN, also emitted as `error`).
   */
  readonly metrics: Promise<MetricsEndpoint> | undefined;
  /** The mmap file's statistics (on Redis: SESSMAP_ERR_INVALID_OPTION; use store.countSessions()). */
  stats(): CacheStats;
  /** Stops supervising; `unlink: true` also removes the file (sessions are lost). */
  close(options?: { unlink?: boolean }): Promise<void>;
}

export function setupPrimary(options: PrimaryOptions = {}): PrimaryHandle {
  if (!cluster.isPrimary) throw sessmapError('SESSMAP_ERR_NOT_PRIMARY', 'setupPrimary must run in the cluster primary; workers call attachWorker()');
  const metricsOption = checkMetricsOption(options.metrics);
  const name = backendOf(options);
  const sessions = normaliseSessionOptions(options);
  const log = sessions.logger.child({ component: 'cluster', role: 'primary' });
  let mmap: MmapBackend | undefined;
  let c: Composed<SessionBackend>;
  let config: ReturnType<typeof workerConfigOf>;
  let ready: Promise<void>;
  if (name === 'redis') {
    const driver = redisDriver;
    const o = driver.normalise(options as Record<string, unknown>);
    // Opens in the background; the store waits for it (cluster/deferred.ts).
    const deferred = {
      ...driver,
      open: (x: typeof o, ctx: BackendContext): SessionBackend => deferBackend(Promise.resolve(driver.open(x, ctx))),
    } as BackendDriver<SessionBackend, typeof o> & { open(x: typeof o, ctx: never): SessionBackend };
    c = compose(deferred, { role: 'primary', sessions, backend: o, logger: log });
    config = workerConfigOf('redis', driver.workerConfig(o, undefined as never), sessions);
    ready = (c.backend as ReturnType<typeof deferBackend>).opened.then(() => {
      log.info({ ...driver.describe(o, undefined as never), idleTimeout: sessions.idleTimeout, absoluteTimeout: sessions.absoluteTimeout }, 'session store ready');
    });
  } else {
    const driver = mmapDriver;
    const o = driver.normalise(options as Record<string, unknown>);
    const composed = compose(driver, { role: 'primary', sessions, backend: o, logger: log });
    mmap = composed.backend;
    c = composed;
    log.info({ ...driver.describe(o, mmap), idleTimeout: sessions.idleTimeout, absoluteTimeout: sessions.absoluteTimeout, evictionPolicy: sessions.evictionPolicy }, 'session cache ready');
    config = workerConfigOf('mmap', driver.workerConfig(o, mmap), sessions);
    ready = Promise.resolve();
  }
  ready.catch(() => {});
  const { backend, emit } = c;
  const metrics = metricsOption && startMetrics(metricsOption, name === 'redis' ? { store: c.store } : { cache: mmap });
  metrics?.ready.then(
    (at) => log.info({ url: at.url }, 'metrics endpoint listening'),
    (err: Error) => {
      if (!closed) emit('error', err);
    },
  );

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
        recovered = backend.processExited?.(pid) ?? 0;
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
    backend: name,
    path: mmap?.path ?? '',
    ready,
    metrics: metrics?.ready,
    stats: () => {
      if (mmap === undefined) throw sessmapError('SESSMAP_ERR_INVALID_OPTION', 'stats() describes the mmap file; on Redis, use store.countSessions()', { option: 'stats' });
      return mmap.stats();
    },
    async close(opts = {}) {
      if (closed) return;
      closed = true;
      cluster.off('fork', onFork);
      cluster.off('exit', onExit);
      for (const [w, l] of listeners) w.off('message', l);
      listeners.clear();
      if (previousEnv === undefined) delete process.env[CONFIG_ENV];
      else process.env[CONFIG_ENV] = previousEnv;
      await metrics?.close();
      await c.close();
      if (opts.unlink) mmap?.unlink();
      log.info({ unlinked: opts.unlink === true }, 'session service closed');
    },
  };
}
