/**
 * What crosses a process boundary between a test and its fixtures: the tag that marks the
 * fixtures' own messages on a channel sessmap also uses, the codec, errors as plain data, and
 * the result of a call. Free of vitest and of src/, so every fixture process loads it.
 *
 * The codec is v8 bytes as base64 text: Infinity, undefined, Map, Set, BigInt and Buffer
 * survive it, through argv, an environment variable, or a cluster channel that uses Node's
 * default 'json' serialization (and sessmap's own messages there are never mistaken for ours).
 */
import v8 from 'node:v8';

/** Marks the fixtures' own messages (`{ [TEST_TAG]: 1, kind, ... }`); sessmap's carry `sessmap: 1`. */
export const TEST_TAG = 'sessmapTest';

/** A message of the fixtures: tagged, with its kind ('request', 'reply', 'ready', ...). */
export interface TaggedMessage {
  [TEST_TAG]: 1;
  kind: string;
  [field: string]: unknown;
}

/** Whether `m` is one of the fixtures' messages (of `kind`, when given) rather than sessmap's. */
export function isTagged(m: unknown, kind?: string): m is TaggedMessage {
  if (m === null || typeof m !== 'object') return false;
  const t = m as Record<string, unknown>;
  return t[TEST_TAG] === 1 && (kind === undefined || t.kind === kind);
}

/** A tagged message of `kind` with `fields`. */
export function tagged(kind: string, fields: Record<string, unknown> = {}): TaggedMessage {
  return { [TEST_TAG]: 1, kind, ...fields };
}

/** `value` as v8 bytes in base64 (see the module comment for what survives). */
export function encode(value: unknown): string {
  return v8.serialize(value).toString('base64');
}

/** The value {@link encode} made `text` from. */
export function decode<T = unknown>(text: string): T {
  return v8.deserialize(Buffer.from(text, 'base64')) as T;
}

/** How an error crosses: what it looked like where it was caught. */
export interface WireError {
  code?: string;
  name: string;
  message: string;
  /** `err.constructor.name` (for a thrown non-Error: its `typeof`). */
  constructorName: string;
  /** `err.toJSON()` when it has one (what sessmap itself sends over IPC). */
  json?: unknown;
  /** Only when asked for (see {@link wireError}): for the failure message of a harness. */
  stack?: string;
}

/** The plain-data copy of `err`; with `withStack`, its stack too. */
export function wireError(err: unknown, withStack = false): WireError {
  if (!(err instanceof Error)) return { name: 'NonError', message: String(err), constructorName: typeof err };
  const toJSON = (err as { toJSON?: unknown }).toJSON;
  const json = typeof toJSON === 'function' ? (toJSON as () => unknown).call(err) : undefined;
  return {
    code: (err as { code?: string }).code,
    name: err.name,
    message: err.message,
    constructorName: err.constructor?.name ?? 'unknown',
    ...(json === undefined ? {} : { json }),
    ...(withStack && err.stack !== undefined ? { stack: err.stack } : {}),
  };
}

/** One line for a failure message: `<constructor> <code>: <message>`. */
export function describeError(e: WireError): string {
  return `${e.constructorName} ${e.code ?? ''}: ${e.message}`;
}

/** What a call in another process gave: its value, or the error it threw. */
export type CallResult<T = any, E extends WireError = WireError> = { ok: true; value: T } | { ok: false; error: E };

/** Runs `fn`: its value as a {@link CallResult}, or what it threw (through `errorOf`). */
export function attempt<T, E extends WireError = WireError>(fn: () => T, errorOf: (err: unknown) => E = wireError as (err: unknown) => E): CallResult<T, E> {
  try {
    return { ok: true, value: fn() };
  } catch (err) {
    return { ok: false, error: errorOf(err) };
  }
}
