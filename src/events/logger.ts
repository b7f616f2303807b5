/**
 * Logging: injected and pino-shaped, silent by default. `logEvents` turns the event stream into
 * log lines: worker lifecycle at info, lock recoveries and repairs at warn, aggregated capacity
 * warnings at warn (one line per interval, never one per eviction), session lifecycle at debug.
 * Payloads carry hashed ids only (see hash.ts), so logs never hold a raw session id.
 *
 * The bus imports this module (for Logger), never the other way round.
 */
import type { SessionEventName, SessionEvents } from './types.js';

/** What logEvents needs of an emitter (the bus satisfies it; this module does not import the bus). */
export interface EventSource {
  on<K extends SessionEventName>(name: K, listener: (...args: SessionEvents[K]) => void): unknown;
}

/** The subset of pino's Logger that sessmap uses; a pino instance satisfies it. */
export interface Logger {
  child(bindings: Record<string, unknown>): Logger;
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const noop = (): void => {};

/** A logger that drops everything (the default). */
export const silentLogger: Logger = {
  child: () => silentLogger,
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
};

/**
 * A payload as a log line: the origin pid is renamed so it does not clash with pino's own `pid`,
 * and the raw session id that `exposeIds` puts on events is left out: logs never carry one.
 */
function fields(e: { pid: number; id?: string }): object {
  const { pid, id: _raw, ...rest } = e;
  return { ...rest, originPid: pid };
}

export function logEvents(bus: EventSource, logger: Logger): void {
  bus.on('workerAttached', (e) => logger.info(fields(e), 'worker attached'));
  bus.on('workerDetached', (e) => logger.info(fields(e), 'worker detached'));
  bus.on('lockRecovered', (e) => logger.warn(fields(e), 'recovered a lock held by a dead process'));
  bus.on('repaired', (e) => logger.warn(fields(e), 'repaired a damaged page'));
  bus.on('capacity', (e) => logger.warn(fields(e), 'live sessions were evicted: the cache is too small'));
  bus.on('dropped', (e) => logger.warn(fields(e), 'events dropped: a worker IPC channel backed up'));
  bus.on('backendUnavailable', (e) => logger.warn(fields(e), 'session backend unavailable: calls fail with SESSMAP_ERR_BACKEND_UNAVAILABLE until it answers'));
  bus.on('backendAvailable', (e) => logger.info(fields(e), 'session backend available again'));
  bus.on('created', (e) => logger.debug(fields(e), 'session created'));
  bus.on('destroyed', (e) => logger.debug(fields(e), 'session destroyed'));
  bus.on('regenerated', (e) => logger.debug(fields(e), 'session regenerated'));
  bus.on('expired', (e) => logger.debug(fields(e), 'session expired'));
}
