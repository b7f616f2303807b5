/**
 * The session service without a cluster: a single process, worker_threads, or unrelated
 * processes on one host that share a file. Each opener creates the file or attaches to it;
 * events are local to the process that caused them (each still happens once: the process that
 * removes an entry is the one that reports it).
 */
import { emitSafely } from '../events/bus.js';
import { logEvents } from '../events/log.js';
import type { SessionEvents } from '../events/types.js';
import type { SessionStore } from '../adapters/types.js';
import { normaliseServiceOptions, type SessionServiceOptions } from './options.js';
import { watchFilePath } from './file-watch.js';
import { buildRuntime, startSweeper } from './runtime.js';

export async function openSessionStore(options: SessionServiceOptions = {}): Promise<SessionStore> {
  const o = normaliseServiceOptions(options);
  const log = o.logger.child({ component: 'sessions', role: 'standalone' });
  let bus: ReturnType<typeof buildRuntime>['bus'] | undefined;
  const emit = <K extends keyof SessionEvents>(name: K, ...args: SessionEvents[K]): void => emitSafely(bus!, log, name, ...args);
  const rt = buildRuntime('create', o, emit);
  bus = rt.bus;
  logEvents(bus, log);
  const stopSweeper = startSweeper(rt.cache, o.sweepInterval, (err) => emit('error', err as Error));
  const stopWatch = watchFilePath(rt.cache, o.sweepInterval, rt.bus, log, 'process');
  const close = rt.service.close.bind(rt.service);
  rt.service.close = async () => {
    stopSweeper();
    stopWatch();
    await close();
  };
  return rt.service;
}
