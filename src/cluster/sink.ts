/**
 * Where a composed service's events go (its {@link EventSink}): the local bus, made safe
 * (emitSafely), with the live evictions counted into one `capacity` event per interval where the
 * process is the one that reports capacity (the primary, for the whole cluster: forwarded worker
 * events pass through its sink; a process on its own, for itself). A worker's sink adds the
 * forwarder to the primary on top.
 */
import { createEventBus, emitSafely, type EventBus } from '../events/bus.js';
import type { Logger } from '../events/logger.js';
import type { SessionEvents } from '../events/types.js';
import type { Emit } from '../sessions/backend.js';
import type { EventSink } from '../sessions/service.js';

export interface LocalSinkOptions {
  logger: Logger;
  /** Count live evictions into a `capacity` event every this many ms; 0: do not (a worker). */
  capacityInterval: number;
  /** Also hand every event to this (a worker's forwarder). */
  forward?: { push<K extends keyof SessionEvents>(name: K, args: SessionEvents[K]): void; flush(): void };
  /**
   * The session events this host caused, for the other hosts (a backend shared between hosts
   * relays them): the primary's and a process on its own's; a worker's go to its primary first.
   */
  share?: <K extends keyof SessionEvents>(name: K, args: SessionEvents[K]) => void;
}

/** The events other hosts see from this one: what happened to sessions (not this host's own state). */
const SHARED: ReadonlySet<string> = new Set(['created', 'updated', 'destroyed', 'regenerated', 'expired', 'evicted']);

export interface LocalSink extends EventSink {
  readonly events: EventBus;
  /** An error nobody called for: logged once at error level, emitted to `error` listeners only. */
  report(err: Error, fields?: Record<string, unknown>): void;
}

export function createSink(o: LocalSinkOptions): LocalSink {
  const bus = createEventBus();
  const log = o.logger;
  const forward = o.forward;
  const counting = o.capacityInterval > 0;
  let evictedLive = 0;
  const share = o.share;
  const emitHere: Emit = (name, ...args) => {
    if (counting && name === 'evicted' && (args[0] as { live: boolean }).live) evictedLive++;
    emitSafely(bus, log, name, ...args);
  };
  const emit: Emit = (name, ...args) => {
    emitHere(name, ...args);
    forward?.push(name, args);
    if (share !== undefined && SHARED.has(name)) share(name, args);
  };
  let timer: NodeJS.Timeout | undefined;
  if (counting) {
    timer = setInterval(() => {
      if (evictedLive === 0) return;
      const n = evictedLive;
      evictedLive = 0;
      emit('capacity', { at: Date.now(), pid: process.pid, evictedLive: n, intervalMs: o.capacityInterval });
    }, o.capacityInterval);
    timer.unref();
  }
  return {
    events: bus,
    emit,
    emitHere,
    report(err, fields = {}) {
      log.error({ err, code: (err as { code?: string }).code, ...fields }, err.message);
      // Logged above: emit only to listeners (emitSafely would log an unheard 'error' a second time).
      if (bus.listenerCount('error') > 0) emitSafely(bus, log, 'error', err);
      forward?.push('error', [err]);
    },
    close() {
      if (timer !== undefined) clearInterval(timer);
      forward?.flush();
    },
  };
}
