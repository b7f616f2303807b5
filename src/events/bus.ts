/**
 * The event bus: an eventemitter3 emitter typed with the SessionEvents map. eventemitter3 drops
 * an 'error' event nobody listens to, and lets a throwing listener break the emitter's caller:
 * `emitSafely` logs the first case and contains the second.
 */
import { EventEmitter } from 'eventemitter3';
import type { Logger } from './logger.js';
import type { SessionEventName, SessionEvents } from './types.js';

export type EventBus = EventEmitter<SessionEvents>;

export function createEventBus(): EventBus {
  return new EventEmitter<SessionEvents>();
}

export function emitSafely<K extends SessionEventName>(bus: EventBus, logger: Logger, name: K, ...args: SessionEvents[K]): void {
  if (name === 'error' && bus.listenerCount('error') === 0) {
    logger.error({ err: args[0] }, 'sessmap error (no error listener)');
    return;
  }
  try {
    (bus.emit as (n: K, ...a: SessionEvents[K]) => boolean)(name, ...args);
  } catch (err) {
    logger.error({ err, event: name }, 'a sessmap event listener threw');
  }
}
