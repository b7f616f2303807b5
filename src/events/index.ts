export type * from './types.js';
export { createEventBus, emitSafely, type EventBus } from './bus.js';
export { silentLogger, logEvents, type Logger } from './logger.js';
