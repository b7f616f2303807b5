/**
 * How a test and the fixture processes it forks talk, over IPC. Free of vitest and of src/, so
 * every fixture process loads it.
 *
 * What crosses: the fixtures' own messages carry a tag, so they never look like sessmap's own on
 * a cluster channel; values cross in one codec, v8 bytes as base64 text, through which Infinity,
 * undefined, Map, Set, BigInt and Buffer survive argv, an environment variable, or a channel with
 * Node's default 'json' serialization; errors cross as plain data, and a call's outcome as a
 * {@link CallResult}.
 *
 * Requests and replies, for a test driving a fixture and for a fixture primary driving its
 * cluster workers:
 *   request  { [TEST_TAG]: 1, kind: 'request', id, payload: encode(body) }
 *   reply    { [TEST_TAG]: 1, kind: 'reply', id, payload: encode(CallResult) }
 *            or { ..., id, plain: 1, value } for a value that must cross in the channel's own serialization
 * The caller holds an {@link RpcClient} (ids, pending requests, timeouts, the peer's exit); the
 * callee calls {@link serve} with one handler, whose value or thrown error becomes the reply.
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

// ------------------------------------------------------------------ requests and replies

interface Pending {
  resolve(result: CallResult): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout | undefined;
}

export interface RpcClientOptions {
  /** Who answers, for failure messages (e.g. `cluster/primary.ts`, `worker #0 (pid 42)`). */
  who: string;
  /** Appended to a timeout's failure (e.g. the peer's stderr). */
  detail?: () => string;
}

/** The calling side: sends requests through `send` and matches the replies given to {@link accept}. */
export class RpcClient {
  readonly #send: (message: unknown) => void;
  readonly #options: RpcClientOptions;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #gone: string | undefined;

  constructor(send: (message: unknown) => void, options: RpcClientOptions) {
    this.#send = send;
    this.#options = options;
  }

  /** Takes `message` when it is a reply to one of this client's requests; false for anything else. */
  accept(message: unknown): boolean {
    if (!isTagged(message, 'reply') || typeof message.id !== 'number') return false;
    const p = this.#pending.get(message.id);
    if (p === undefined) return false;
    this.#pending.delete(message.id);
    clearTimeout(p.timer);
    p.resolve(message.plain === 1 ? { ok: true, value: message.value } : decode<CallResult>(message.payload as string));
    return true;
  }

  /**
   * Sends `body`; resolves with the peer's {@link CallResult}. Rejects after `timeoutMs`, or when
   * the peer is gone (see {@link close}).
   */
  request<T = any>(body: Record<string, unknown>, timeoutMs = Infinity): Promise<CallResult<T>> {
    if (this.#gone !== undefined) return Promise.reject(new Error(this.#gone));
    const id = this.#nextId++;
    return new Promise<CallResult<T>>((resolve, reject) => {
      const timer = Number.isFinite(timeoutMs)
        ? setTimeout(() => {
            this.#pending.delete(id);
            const detail = this.#options.detail?.() ?? '';
            reject(new Error(`${this.#options.who}: timed out after ${timeoutMs} ms waiting for the reply to ${what(body)}${detail}`));
          }, timeoutMs)
        : undefined;
      this.#pending.set(id, { resolve: resolve as Pending['resolve'], reject, timer });
      this.#send(tagged('request', { id, payload: encode(body) }));
    });
  }

  /** The peer is gone: every pending request, and every later one, rejects with `reason`. */
  close(reason: string): void {
    this.#gone = reason;
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer);
      p.reject(new Error(reason));
    }
    this.#pending.clear();
  }
}

/** Names a request for a failure message: its `cmd` or `op` (and `method`). */
function what(body: Record<string, unknown>): string {
  const name = String(body.cmd ?? body.op ?? 'a request');
  return typeof body.method === 'string' ? `${name} ${body.method}` : name;
}

/** A handler's value that is sent as the reply's CallResult itself (e.g. one a worker gave). */
export class Forward {
  constructor(readonly result: CallResult) {}
}

/** A handler's value sent as-is in the channel's own serialization, not through the codec. */
export class Plain {
  constructor(readonly value: unknown) {}
}

export interface ServeOptions<B> {
  /** How a thrown error crosses. @default {@link wireError} */
  errorOf?: (err: unknown) => WireError;
  /** Runs once the reply to `body` is on its way (e.g. `process.exit` after a close). */
  afterReply?: (body: B) => void;
}

/**
 * The answering side, on this process's channel: each request's body goes to `handler` (called
 * at once, in arrival order); its value, a {@link Forward}ed result or a {@link Plain} value is
 * the reply, and so is what it throws. Messages that are not requests are left to other listeners.
 */
export function serve<B extends object>(handler: (body: B) => unknown, options: ServeOptions<B> = {}): void {
  const errorOf = options.errorOf ?? ((err: unknown) => wireError(err));
  process.on('message', (message: unknown) => {
    if (!isTagged(message, 'request')) return;
    const id = message.id as number;
    const body = decode<B>(message.payload as string);
    void (async () => {
      let reply: Record<string, unknown>;
      try {
        const out = await handler(body);
        if (out instanceof Plain) reply = { id, plain: 1, value: out.value };
        else reply = { id, payload: encode(out instanceof Forward ? out.result : { ok: true, value: out }) };
      } catch (err) {
        reply = { id, payload: encode({ ok: false, error: errorOf(err) }) };
      }
      process.send!(tagged('reply', reply), () => options.afterReply?.(body));
    })();
  });
}
