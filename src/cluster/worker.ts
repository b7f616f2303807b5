/**
 * The worker side: attaches to the file the primary created (its path and options come through
 * the environment), and returns a session store. Events are emitted on the store's local
 * `events` and forwarded to the primary in batches; the channel's backlog is bounded, and what
 * cannot be sent is counted and reported, never allowed to block a request or grow without end.
 */
import { silentLogger, type Logger } from '../events/logger.js';
import type { SessionEvents } from '../events/types.js';
import type { SessionStore } from '../sessions/types.js';
import { normaliseSessionOptions } from '../sessions/options.js';
import { backendOf, loadDriver, loadedDriver } from '../backends/select.js';
import type { SessionServiceOptions } from './options.js';
import { checkWorkerOptions, readWorkerConfig } from './worker-config.js';
import { toWire, type WireEvent, type WorkerMessage } from './protocol.js';
import { compose } from './compose.js';

/** Events held for the primary at most; beyond this they are counted as dropped. */
const MAX_BUFFERED = 10_000;
/** Batches on their way before the worker stops sending and buffers. */
const MAX_IN_FLIGHT = 8;
const FLUSH_MS = 20;

/**
 * A worker's options. Its own: `logger`, `userIdOf`, `clock`, `lockTimeout`. The rest hold for
 * the whole cluster and come from the primary: given here, each must be what the primary has
 * (SESSMAP_ERR_OPTION_CONFLICT otherwise). Outside a primary-managed cluster, `path` names the
 * file to attach to.
 */
export type WorkerOptions = SessionServiceOptions;

export async function attachWorker(options: WorkerOptions = {}): Promise<SessionStore> {
  const config = readWorkerConfig();
  const name = config?.backend ?? backendOf(options);
  // No await once the driver is loaded: the store is opened within this call (see composeStandalone).
  const driver = loadedDriver(name) ?? (await loadDriver(name));
  if (config !== undefined) checkWorkerOptions(config, driver, options as Record<string, unknown>);
  const backend = driver.workerOptions(config?.options ?? {}, options as Record<string, unknown>);
  // The primary sweeps for the whole cluster.
  const sessions = normaliseSessionOptions({ ...config?.sessions, ...options, sweepInterval: 0 });
  const logger: Logger = (options.logger ?? silentLogger).child({ component: 'cluster', role: 'worker' });
  const forward = createForwarder();
  const composed = await compose(driver, { role: 'worker', sessions, backend, logger, forward });
  forward.hello();
  return composed.store;
}

/** Batches this worker's events for the primary over IPC, with a bounded backlog. */
function createForwarder(): { push<K extends keyof SessionEvents>(name: K, args: SessionEvents[K]): void; flush(): void; hello(): void } {
  let buffer: WireEvent[] = [];
  let dropped = 0;
  let inFlight = 0;
  let timer: NodeJS.Timeout | undefined;
  const canSend = (): boolean => typeof process.send === 'function' && process.connected === true;
  const send = (m: WorkerMessage): void => {
    inFlight++;
    process.send!(m, undefined, {}, () => {
      inFlight--;
      if (buffer.length > 0 && timer === undefined) schedule();
    });
  };
  const flush = (): void => {
    timer = undefined;
    if (!canSend()) {
      dropped += buffer.length;
      buffer = [];
      return;
    }
    if (inFlight >= MAX_IN_FLIGHT || (buffer.length === 0 && dropped === 0)) return;
    const events = buffer;
    buffer = [];
    const d = dropped;
    dropped = 0;
    send({ sessmap: 1, kind: 'events', events, dropped: d });
  };
  const schedule = (): void => {
    timer = setTimeout(flush, FLUSH_MS);
    timer.unref();
  };
  return {
    push(name, args) {
      if (!canSend()) return;
      if (buffer.length >= MAX_BUFFERED) dropped++;
      else buffer.push(toWire(name, args));
      if (timer === undefined) schedule();
    },
    flush() {
      if (timer !== undefined) clearTimeout(timer);
      flush();
    },
    hello() {
      if (canSend()) send({ sessmap: 1, kind: 'hello', pid: process.pid });
    },
  };
}
