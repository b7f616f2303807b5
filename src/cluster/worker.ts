/**
 * The worker side: attaches to the file the primary created (its path and options come through
 * the environment), and returns a session store. Events are emitted on the store's local
 * `events` and forwarded to the primary in batches; the channel's backlog is bounded, and what
 * cannot be sent is counted and reported, never allowed to block a request or grow without end.
 */
import { sessmapError } from '../errors.js';
import { emitSafely } from '../events/bus.js';
import { silentLogger, type Logger } from '../events/log.js';
import type { SessionEvents } from '../events/types.js';
import type { SessionStore } from '../adapters/types.js';
import { normaliseServiceOptions, type SessionServiceOptions } from './options.js';
import { CONFIG_ENV, checkWorkerOptions, type WorkerConfig } from './worker-config.js';
import { toWire, type WireEvent, type WorkerMessage } from './protocol.js';
import { buildRuntime } from './runtime.js';

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
  const raw = process.env[CONFIG_ENV];
  let config: Partial<WorkerConfig> = {};
  if (raw !== undefined) {
    try {
      config = JSON.parse(raw) as WorkerConfig;
    } catch {
      throw sessmapError('SESSMAP_ERR_NO_PRIMARY', `environment variable ${CONFIG_ENV} is not valid JSON`);
    }
    checkWorkerOptions(config as WorkerConfig, options);
  }
  const path = options.path ?? config.path;
  if (path === undefined) {
    throw sessmapError('SESSMAP_ERR_NO_PRIMARY', 'attachWorker found no session service: call setupPrimary() in the primary before cluster.fork(), or pass { path }');
  }
  const o = normaliseServiceOptions({ ...config, ...options, path, ifExists: 'attach', sweepInterval: 0 });
  const log: Logger = (options.logger ?? silentLogger).child({ component: 'cluster', role: 'worker' });
  const forward = createForwarder();
  let local: ReturnType<typeof buildRuntime>['bus'] | undefined;
  const emit = <K extends keyof SessionEvents>(name: K, ...args: SessionEvents[K]): void => {
    emitSafely(local!, log, name, ...args);
    forward.push(toWire(name, args));
  };
  const rt = buildRuntime('open', o, emit);
  local = rt.bus;
  forward.hello();
  const close = rt.service.close.bind(rt.service);
  rt.service.close = async () => {
    forward.flush();
    await close();
  };
  return rt.service;
}

function createForwarder(): { push(e: WireEvent): void; flush(): void; hello(): void } {
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
    push(e) {
      if (!canSend()) return;
      if (buffer.length >= MAX_BUFFERED) dropped++;
      else buffer.push(e);
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
