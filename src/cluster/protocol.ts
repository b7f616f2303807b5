/**
 * Messages between workers and the primary, over the cluster's IPC channel. Every message has
 * `sessmap: 1` so the app's own messages pass by untouched. Errors travel as
 * `{ code, message, name, details }` (with the default serialization an Error would lose its
 * message, with 'advanced' its code) and are rebuilt from the registry on arrival.
 */
import { errorFromJSON } from '../errors.js';
import type { SessionEventName, SessionEvents } from '../events/types.js';

export const TAG = 'sessmap';

/** One event as it crosses IPC. */
export type WireEvent = [SessionEventName, unknown];

export type WorkerMessage =
  | { sessmap: 1; kind: 'hello'; pid: number }
  | { sessmap: 1; kind: 'events'; events: WireEvent[]; dropped: number };

export function isWorkerMessage(m: unknown): m is WorkerMessage {
  return typeof m === 'object' && m !== null && (m as { sessmap?: unknown }).sessmap === 1 && typeof (m as { kind?: unknown }).kind === 'string';
}

export function toWire<K extends SessionEventName>(name: K, args: SessionEvents[K]): WireEvent {
  const payload = args[0] as unknown;
  if (payload instanceof Error) {
    const e = payload as Error & { code?: string; details?: unknown };
    return [name, { code: e.code, message: e.message, name: e.name, details: e.details }];
  }
  return [name, payload];
}

export function fromWire(w: WireEvent): WireEvent {
  if (w[0] === 'error') return [w[0], errorFromJSON(w[1] as { code?: unknown; message?: unknown; name?: unknown; details?: unknown })];
  return w;
}
