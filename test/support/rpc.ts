/**
 * Requests and replies between processes, over an IPC channel: a test driving a fixture it
 * forked, and a fixture primary driving its cluster workers. Free of vitest (fixtures load it).
 *
 *   request  { [TEST_TAG]: 1, kind: 'request', id, payload: encode(body) }
 *   reply    { [TEST_TAG]: 1, kind: 'reply', id, payload: encode(CallResult) }
 *            or { ..., id, plain } for a value that must cross in the channel's own serialization
 *
 * The caller holds an {@link RpcClient} (ids, pending requests, timeouts, the peer's exit); the
 * callee calls {@link serve} with one handler, whose value or thrown error becomes the reply.
 */
import { decode, encode, isTagged, tagged, wireError, type CallResult, type WireError } from './wire.js';

interface Pending {
  resolve(result: CallResult): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout | undefined;
}

export interface RpcClientOptions {
  /** Who answers, for failure messages (e.g. `cluster-primary.ts`, `worker #0 (pid 42)`). */
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
    p.resolve('plain' in message ? { ok: true, value: message.plain } : decode<CallResult>(message.payload as string));
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
        if (out instanceof Plain) reply = { id, plain: out.value };
        else reply = { id, payload: encode(out instanceof Forward ? out.result : { ok: true, value: out }) };
      } catch (err) {
        reply = { id, payload: encode({ ok: false, error: errorOf(err) }) };
      }
      process.send!(tagged('reply', reply), () => options.afterReply?.(body));
    })();
  });
}
