/**
 * The one place where a session store is put together: event sink (bus) -> backend -> service.
 * The primary, a cluster worker and a process on its own differ only in the role they pass (which
 * decides whether the backend creates or attaches, sweeps and watches, and whether this process
 * counts capacity) and in what they add around the result (the primary's supervision, a worker's
 * forwarder). Each part is built from the ones before it, so nothing is patched afterwards.
 */
import { logEvents, type Logger } from '../events/logger.js';
import type { EventBus } from '../events/bus.js';
import type { SessionEvents } from '../events/types.js';
import type { BackendDriver, BackendRole, Emit, SessionBackend } from '../sessions/backend.js';
import { normaliseSessionOptions, type NormalisedSessionOptions, type SessionOptions } from '../sessions/options.js';
import { SessionService } from '../sessions/service.js';
import type { SessionStore } from '../sessions/types.js';
import { backendOf, loadDriver, loadedDriver, type BackendOptions } from '../backends/select.js';
import { createSink, type LocalSinkOptions } from './sink.js';

/** A composed store, and what its owner needs around it. */
export interface Composed<B extends SessionBackend = SessionBackend> {
  readonly store: SessionStore;
  /** The bus the store's `events` are (the primary's cluster-wide stream). */
  readonly events: EventBus;
  /** Emits into the sink (the primary re-emits its workers' events here, so they are counted once). */
  readonly emit: Emit;
  readonly backend: B;
  /** Closes the store: service, backend (its sweeper and watch), sink (its timers, a worker's buffer). */
  close(): Promise<void>;
}

export interface ComposeInput<N> {
  role: BackendRole;
  sessions: NormalisedSessionOptions;
  /** The backend's options, normalised by its driver. */
  backend: N;
  /** The process's logger for this role (a child of the app's). */
  logger: Logger;
  /** A worker's forwarder to the primary. */
  forward?: LocalSinkOptions['forward'];
}

/** Builds the store on a loaded driver; synchronous when the driver opens synchronously. */
export function compose<B extends SessionBackend, N>(driver: BackendDriver<B, N> & { open(o: N, ctx: never): B }, input: ComposeInput<N>): Composed<B>;
export function compose<B extends SessionBackend, N>(driver: BackendDriver<B, N>, input: ComposeInput<N>): Composed<B> | Promise<Composed<B>>;
export function compose<B extends SessionBackend, N>(driver: BackendDriver<B, N>, input: ComposeInput<N>): Composed<B> | Promise<Composed<B>> {
  const { role, sessions, logger } = input;
  // A worker's events are counted and logged by the primary, which sees them all once.
  // A backend shared between hosts relays what this host caused (a worker's events, through its primary).
  let shared: B | undefined;
  const share = role === 'worker' ? undefined : <K extends keyof SessionEvents>(name: K, args: SessionEvents[K]) => shared?.share?.(name, args);
  const sink = createSink({ logger, capacityInterval: role === 'worker' ? 0 : sessions.capacityInterval, forward: input.forward, share });
  if (role !== 'worker') logEvents(sink.events, logger);
  const finish = (backend: B): Composed<B> => {
    shared = backend;
    const service = new SessionService(backend, sink, sessions);
    return { store: service, events: sink.events, emit: sink.emit, backend, close: () => service.close() };
  };
  let opened: B | Promise<B>;
  try {
    opened = driver.open(input.backend, { role, sessions, emit: sink.emit, emitHere: sink.emitHere, report: sink.report, logger });
  } catch (err) {
    sink.close();
    throw err;
  }
  if (!(opened instanceof Promise)) return finish(opened);
  return opened.then(finish, (err: unknown) => {
    sink.close();
    throw err;
  });
}

/**
 * A store without a cluster: the process creates the backend's store or attaches to it, and
 * supervises it. Once the backend's driver is loaded (by the first store of the process), the
 * store is opened within this call, before it returns its promise, as a synchronous backend opens.
 */
export async function composeStandalone(options: SessionOptions & BackendOptions = {}): Promise<SessionStore> {
  const sessions = normaliseSessionOptions(options);
  const name = backendOf(options);
  const driver = loadedDriver(name) ?? (await loadDriver(name));
  const backend = driver.normalise(options as Record<string, unknown>);
  const logger = sessions.logger.child({ component: 'sessions', role: 'standalone' });
  return (await compose(driver, { role: 'standalone', sessions, backend, logger })).store;
}
