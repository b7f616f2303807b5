/**
 * The link to Redis or Redis Cluster: node-redis loaded with import() (an optional peer), the
 * client made (or the app's own used), and every call bounded. Each call settles within
 * `commandTimeout` plus at most 50 ms (one timer of the link's, for every call): with the reply,
 * or with SESSMAP_ERR_BACKEND_UNAVAILABLE. Nothing waits
 * for a connection that is down: the offline queue is off, the queue of commands in flight is
 * bounded, and after a call timed out (a hung server: SIGSTOP, a full network buffer) the link
 * is down and calls fail at once until a probe (PING, every 200 ms) gets an answer.
 *
 * The link reports its state changes (`onStatus`): down once per outage, up once at its end, and
 * counts its commands' failures and latencies (`stats`, {@link LinkStats}).
 */
import { sessmapError } from '../../errors.js';
import type { BackendMetrics, HistogramSnapshot } from '../../sessions/types.js';
import type { NormalisedRedisOptions } from './options.js';

/** The part of a node-redis client or cluster sessmap uses (typed here; `redis` stays optional). */
interface NodeRedis {
  sendCommand(...args: unknown[]): Promise<unknown>;
  duplicate(overrides?: object): NodeRedis;
  connect(): Promise<unknown>;
  close?(): Promise<void>;
  destroy?(): void;
  quit?(): Promise<unknown>;
  on(event: string, l: (...a: unknown[]) => void): unknown;
  off(event: string, l: (...a: unknown[]) => void): unknown;
  subscribe(channel: string | string[], listener: (message: string, channel: string) => void): Promise<void>;
  readonly isReady?: boolean;
  readonly masters?: Array<{ host: string; port: number }>;
  nodeClient?(node: unknown): NodeRedis | Promise<NodeRedis>;
}

type RedisModule = { createClient(o: object): NodeRedis; createCluster(o: object): NodeRedis };

/** The queue of commands sent and waiting, at most (then calls fail at once). */
const MAX_IN_FLIGHT = 10_000;
const PROBE_MS = 200;
/** The bound's slack past commandTimeout: a call fails within commandTimeout + TIMER_SLACK_MS + TICK_MS. */
const TIMER_SLACK_MS = 25;
const TICK_MS = 25;

/** A call waiting for its reply, and how it fails when its bound passes first. */
interface Pending {
  readonly at: number;
  readonly reject: (err: Error) => void;
}

export async function loadRedis(): Promise<RedisModule> {
  try {
    return (await import('redis')) as unknown as RedisModule;
  } catch (err) {
    throw sessmapError(
      'SESSMAP_ERR_REDIS_CLIENT',
      "the Redis backend needs node-redis: npm install redis@6 (it is an optional peer dependency of sessmap, loaded only when the redis option is given)",
      { cause: (err as Error).message },
    );
  }
}

/** A Lua script, called by its SHA-1 (EVALSHA) and loaded again (EVAL) when Redis lost it. */
export interface LuaScript {
  readonly name: string;
  readonly source: string;
  readonly sha: string;
}

/** Redis answered with an error reply (not a connection problem): WRONGTYPE, OOM, a script's own. */
export function isReplyError(err: unknown): err is Error {
  const n = (err as { constructor?: { name?: string } })?.constructor?.name;
  return n === 'ErrorReply' || n === 'SimpleError' || n === 'BlobError';
}

/** Replies that mean "not now" rather than "no": the server is loading, busy, failing over. */
const TRANSIENT = /^(LOADING|BUSY|CLUSTERDOWN|TRYAGAIN|MASTERDOWN|READONLY|NOREPLICAS)\b/;

/** Upper bounds of the latency buckets, in seconds (a round trip on one host is ~0.1 ms; commandTimeout is 1 s by default). */
const LATENCY_BUCKETS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

type CommandErrorKind = keyof BackendMetrics['commandErrors'];

/**
 * What the link counts in this process, for `sessmap/metrics` (through the backend's
 * `metrics()`): the commands that failed, by kind, and how long the commands that got a reply
 * took, in fixed buckets. Counting costs two clock reads and a few additions per command; there
 * is no label per key or per session.
 *
 * The kinds are what the caller got: `reply` (Redis answered with an error: a script's own, OOM,
 * WRONGTYPE; not NOSCRIPT, which the link answers by loading the script), `timeout` (no reply
 * within commandTimeout), `unavailable` (SESSMAP_ERR_BACKEND_UNAVAILABLE for any other reason: no
 * connection, the breaker open after a timeout, too many commands in flight, the server loading,
 * busy or failing over).
 */
export class LinkStats {
  readonly errors: Record<CommandErrorKind, number> = { reply: 0, timeout: 0, unavailable: 0 };
  /** Replies per bucket (not cumulative); the last is above every bound. */
  readonly #counts: number[] = new Array<number>(LATENCY_BUCKETS.length + 1).fill(0);
  #sum = 0;
  #count = 0;

  /** A command got a reply (an error reply included) after `seconds`. */
  replied(seconds: number): void {
    let i = 0;
    while (i < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[i]) i++;
    this.#counts[i]++;
    this.#sum += seconds;
    this.#count++;
  }

  failed(kind: CommandErrorKind): void {
    this.errors[kind]++;
  }

  /** A copy of the counts as they are now. */
  snapshot(): { commandErrors: Record<CommandErrorKind, number>; commandSeconds: HistogramSnapshot } {
    return {
      commandErrors: { ...this.errors },
      commandSeconds: { bounds: LATENCY_BUCKETS, counts: [...this.#counts], sum: this.#sum, count: this.#count },
    };
  }
}

export class RedisLink {
  readonly cluster: boolean;
  /** The commands' failures by kind and the latencies of their replies, in this process. */
  readonly stats = new LinkStats();
  readonly #o: NormalisedRedisOptions;
  readonly #own: boolean;
  readonly #base: NodeRedis;
  readonly #r: NodeRedis;
  readonly #mod: RedisModule;
  /** Calls waiting for a reply, in order of their bound. */
  readonly #pending = new Set<Pending>();
  #wheel: NodeJS.Timeout | undefined;
  #up = true;
  #probe: NodeJS.Timeout | undefined;
  #closed = false;
  readonly #status = new Set<(up: boolean, cause?: Error) => void>();
  readonly #extra: NodeRedis[] = [];
  readonly #onError = (err: unknown): void => this.#down(err as Error);
  readonly #onReady = (): void => this.#upAgain();

  constructor(mod: RedisModule, o: NormalisedRedisOptions) {
    this.#o = o;
    this.#mod = mod;
    const t = o.commandTimeout;
    const common = {
      // node-redis bounds each command with a timer of its own (5 s by default): an
      // AbortSignal.timeout and a listener per command, more CPU than a GET. The link's one
      // timer bounds every call already.
      commandOptions: { timeout: 0 },
      disableOfflineQueue: true,
      commandsQueueMaxLength: MAX_IN_FLIGHT,
      socket: { connectTimeout: t, reconnectStrategy: (n: number) => Math.min(50 * 2 ** n, 1000) },
    };
    if (o.client !== undefined) {
      this.#own = false;
      this.#base = o.client as NodeRedis;
      this.cluster = Array.isArray(this.#base.masters);
    } else if (o.rootNodes !== undefined) {
      this.#own = true;
      this.cluster = true;
      this.#base = mod.createCluster({ rootNodes: o.rootNodes.map((url) => ({ url })), defaults: common, commandOptions: common.commandOptions });
    } else {
      this.#own = true;
      this.cluster = false;
      this.#base = mod.createClient({ url: o.url, ...common });
    }
    this.#r = this.#base;
    this.#base.on('error', this.#onError);
    this.#base.on('ready', this.#onReady);
  }

  /** Connects (own clients); resolves when connected or after `waitMs`, whichever is first. */
  async start(waitMs: number): Promise<boolean> {
    if (!this.#own) return true;
    const connected = this.#base.connect().then(
      () => true,
      (err: unknown) => {
        this.#down(err as Error);
        return false;
      },
    );
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((r) => {
      timer = setTimeout(() => r(false), waitMs);
      timer.unref();
    });
    const ok = await Promise.race([connected, late]);
    clearTimeout(timer);
    if (!ok) this.#down(new Error(`no connection to Redis within ${waitMs} ms`));
    return ok;
  }

  get up(): boolean {
    return this.#up;
  }

  onStatus(l: (up: boolean, cause?: Error) => void): () => void {
    this.#status.add(l);
    return () => this.#status.delete(l);
  }

  /** One command; routed by `key` on a cluster (undefined: any node). */
  send(key: string | undefined, args: ReadonlyArray<string>): Promise<unknown> {
    return this.#call(() => (this.cluster ? this.#r.sendCommand(key, false, args) : this.#r.sendCommand(args)));
  }

  /** A script by EVALSHA; on NOSCRIPT (a restarted or flushed server), EVAL, which loads it again. */
  async script(s: LuaScript, keys: readonly string[], args: ReadonlyArray<string | number>): Promise<unknown> {
    const rest = [String(keys.length), ...keys, ...args.map(String)];
    try {
      return await this.send(keys[0], ['EVALSHA', s.sha, ...rest]);
    } catch (err) {
      if (!(isReplyError(err) && err.message.startsWith('NOSCRIPT'))) throw err;
      return this.send(keys[0], ['EVAL', s.source, ...rest]);
    }
  }

  /**
   * Runs `fn` on node-redis with the bound, the in-flight cap and the breaker; maps its errors.
   * The bound is one timer for all calls (see #sweep), not one per call: a timer and an
   * AbortSignal per command cost more CPU than the command itself does here.
   */
  #call(fn: () => Promise<unknown>): Promise<unknown> {
    if (this.#closed) return Promise.reject(sessmapError('SESSMAP_ERR_CLOSED', 'the Redis session backend was closed'));
    if (!this.#up && this.#probe !== undefined) return this.#refused(new Error('Redis did not answer in time; waiting for it to answer a probe'));
    if (this.#pending.size >= MAX_IN_FLIGHT) return this.#refused(new Error(`${MAX_IN_FLIGHT} commands are waiting for Redis`));
    return new Promise((resolve, reject) => {
      const call: Pending = { at: Date.now() + this.#o.commandTimeout + TIMER_SLACK_MS, reject };
      this.#pending.add(call);
      if (this.#wheel === undefined) this.#startWheel();
      const sent = performance.now();
      fn().then(
        (reply) => {
          if (!this.#pending.delete(call)) return;
          this.stats.replied((performance.now() - sent) / 1000);
          if (!this.#up) this.#upAgain();
          resolve(reply);
        },
        (err: unknown) => {
          if (!this.#pending.delete(call)) return;
          if (isReplyError(err)) this.stats.replied((performance.now() - sent) / 1000);
          reject(this.#failed(err as Error));
        },
      );
    });
  }

  /** A call failed at once, not sent. */
  #refused(cause: Error): Promise<never> {
    this.stats.failed('unavailable');
    return Promise.reject(this.#unavailable(cause));
  }

  /** Fails the calls past their bound, every TICK_MS while any is pending (calls are in order of their bound). */
  #startWheel(): void {
    this.#wheel = setInterval(() => {
      const now = Date.now();
      for (const call of this.#pending) {
        if (call.at > now) break;
        this.#pending.delete(call);
        call.reject(this.#failed(Object.assign(new Error(`no reply from Redis within ${this.#o.commandTimeout} ms`), { timedOut: true })));
      }
      if (this.#pending.size === 0) {
        clearInterval(this.#wheel);
        this.#wheel = undefined;
      }
    }, TICK_MS);
    this.#wheel.unref();
  }

  #failed(err: Error): Error {
    if (isReplyError(err)) {
      if (TRANSIENT.test(err.message)) {
        this.stats.failed('unavailable');
        return this.#unavailable(err);
      }
      // NOSCRIPT is answered by loading the script (script()): not a failure of the caller's.
      if (!err.message.startsWith('NOSCRIPT')) this.stats.failed('reply');
      if (err.message.startsWith('OOM')) {
        return sessmapError('SESSMAP_ERR_CACHE_FULL', "Redis is at maxmemory and its policy evicts nothing (noeviction): nothing was written", { cause: err.message });
      }
      return Object.assign(err, { replyError: true });
    }
    const timedOut = (err as { timedOut?: boolean }).timedOut === true || (err as { constructor?: { name?: string } }).constructor?.name === 'TimeoutError';
    this.stats.failed(timedOut ? 'timeout' : 'unavailable');
    this.#down(err, timedOut);
    return this.#unavailable(err);
  }

  #unavailable(cause: Error): Error {
    return sessmapError('SESSMAP_ERR_BACKEND_UNAVAILABLE', `Redis is unavailable: ${cause.message}`, { cause: cause.message });
  }

  /** The link is down: say so once; after a timeout, probe until an answer comes. */
  #down(cause: Error, timedOut = false): void {
    if (this.#closed) return;
    if (this.#up) {
      this.#up = false;
      for (const l of this.#status) l(false, cause);
    }
    if (timedOut && this.#probe === undefined) {
      const probe = (): void => {
        this.#probe = setTimeout(() => {
          const ping = this.cluster ? this.#r.sendCommand(undefined, false, ['PING']) : this.#r.sendCommand(['PING']);
          const deadline = new Promise<never>((_, rej) => setTimeout(() => rej(new Error('probe timed out')), this.#o.commandTimeout).unref());
          Promise.race([ping, deadline]).then(
            () => this.#upAgain(),
            () => {
              if (!this.#closed) probe();
            },
          );
        }, PROBE_MS);
        this.#probe.unref();
      };
      probe();
    }
  }

  #upAgain(): void {
    if (this.#probe !== undefined) clearTimeout(this.#probe);
    this.#probe = undefined;
    if (this.#up || this.#closed) return;
    this.#up = true;
    for (const l of this.#status) l(true);
  }

  /** Every master: for SCAN, CONFIG and keyspace subscriptions (one node when not a cluster). */
  async masters(): Promise<Array<{ name: string; send(args: ReadonlyArray<string>): Promise<unknown>; subscriber(): NodeRedis }>> {
    if (!this.cluster) {
      const r = this.#r;
      return [{ name: 'redis', send: (args) => this.#call(() => r.sendCommand(args)), subscriber: () => this.#base.duplicate() }];
    }
    const out = [];
    for (const m of this.#base.masters ?? []) {
      const node = await this.#base.nodeClient!(m);
      out.push({ name: `${m.host}:${m.port}`, send: (args: ReadonlyArray<string>) => this.#call(() => node.sendCommand(args)), subscriber: () => node.duplicate() });
    }
    return out;
  }

  /**
   * Where the near-cache's invalidation channel listens: every master (one node when not a
   * cluster), each with a way to make connections to it for the channel: RESP2 (classic pub/sub
   * for the redirected invalidations, which must come from the node the keys live on), no
   * reconnecting of their own (the channel makes new ones), not closed with the link (the
   * channel closes them).
   */
  trackingNodes(): Array<{ name: string; connect(): NodeRedis & { destroy(): void } }> {
    const socket = { connectTimeout: this.#o.commandTimeout, reconnectStrategy: false };
    const own = { RESP: 2, disableOfflineQueue: true, commandOptions: { timeout: 0 } };
    if (!this.cluster) {
      const connect = () => (this.#o.url !== undefined ? this.#mod.createClient({ url: this.#o.url, ...own, socket }) : this.#base.duplicate({ ...own, socket }));
      return [{ name: 'redis', connect: connect as () => NodeRedis & { destroy(): void } }];
    }
    return (this.#base.masters ?? []).map((m) => ({
      name: `${m.host}:${m.port}`,
      connect: (() => {
        // The credentials and TLS of the root nodes (or the app's cluster's defaults), this master's address.
        if (this.#o.rootNodes !== undefined) {
          const u = new URL(this.#o.rootNodes[0]!);
          u.hostname = m.host;
          u.port = String(m.port);
          return this.#mod.createClient({ url: u.toString(), ...own, socket });
        }
        const d = (this.#base as { options?: { defaults?: object } }).options?.defaults ?? {};
        return this.#mod.createClient({ ...d, ...own, socket: { ...((d as { socket?: object }).socket ?? {}), ...socket, host: m.host, port: m.port } });
      }) as () => NodeRedis & { destroy(): void },
    }));
  }

  /** The masters the cluster client knows now ("host:port", sorted; one name when not a cluster). */
  masterNames(): string[] {
    if (!this.cluster) return ['redis'];
    return (this.#base.masters ?? []).map((m) => `${m.host}:${m.port}`).sort();
  }

  /** A connection of its own for subscriptions, closed with the link. */
  async subscriber(of?: () => NodeRedis): Promise<NodeRedis> {
    const s = of !== undefined ? of() : this.#base.duplicate();
    s.on('error', () => {});
    this.#extra.push(s);
    await s.connect();
    return s;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#probe !== undefined) clearTimeout(this.#probe);
    if (this.#wheel !== undefined) clearInterval(this.#wheel);
    for (const call of this.#pending) call.reject(sessmapError('SESSMAP_ERR_CLOSED', 'the Redis session backend was closed'));
    this.#pending.clear();
    this.#base.off('error', this.#onError);
    this.#base.off('ready', this.#onReady);
    const end = async (c: NodeRedis): Promise<void> => {
      try {
        if (typeof c.destroy === 'function') c.destroy();
        else if (typeof c.close === 'function') await c.close();
      } catch {
        // already closed
      }
    };
    await Promise.all(this.#extra.map(end));
    if (this.#own) await end(this.#base);
  }
}
