/**
 * A host's invalidation channel for its near-cache: Redis's server-assisted client-side caching
 * in broadcast mode. One connection subscribes to `__redis__:invalidate`; another turns tracking
 * on with `CLIENT TRACKING ON REDIRECT <the first's id> BCAST PREFIX <prefix>s:`, so Redis sends
 * the names of the session keys any client changes (a write, a touch, a destroy, an expiry or
 * an eviction), and null when the data set was flushed. Broadcast mode needs no per-key
 * bookkeeping in Redis, and one channel serves every process of the host.
 *
 * Why not a pub/sub bus of sessmap's own: Redis sends these itself, for every change of a key,
 * from whichever client, script or expiry, on the same server as the data, so a change cannot be
 * made without its invalidation being sent; a bus of our own misses what any other client does.
 *
 * An invalidation of a session the host holds a copy of asks Redis what the session is now (one
 * HMGET; of one it holds none: a tombstone, no call) and the copy becomes that, so
 * a touch, another host's write or this host's own (which Redis reports too) leaves every host a
 * current copy rather than a miss; a session gone from Redis leaves a tombstone. Until that
 * answer comes (one round trip), the old copy may be served: the bound on staleness is the
 * invalidation's travel plus one round trip.
 *
 * On Redis Cluster a change is reported by the master that holds the key, to a connection on
 * that master: the channel is such a pair of connections on every master, and is up only while
 * all of them are.
 *
 * The channel is lost when any of its connections errors, closes or reconnects, when a probe
 * (ROLE on each tracking connection every second) gets no answer within commandTimeout or finds
 * a node that is no longer a master, or when the cluster's masters are no longer those the
 * channel listens to (a failover, a node added): then the near-cache stops serving at once and is
 * emptied, and the channel is made again from new connections to the masters of the moment; the
 * near-cache serves again, empty, once tracking is on again on every one.
 */
import type { Logger } from '../../events/logger.js';
import type { StoredSession } from '../../sessions/backend.js';
import type { KeyScheme } from './keys.js';
import type { NearCache } from './near-cache.js';

/** The part of node-redis the channel uses (connections of its own, RESP2 for classic pub/sub). */
export interface TrackingConnection {
  connect(): Promise<unknown>;
  sendCommand(args: string[]): Promise<unknown>;
  subscribe(channel: string, listener: (message: unknown) => void): Promise<void>;
  on(event: string, l: (...a: unknown[]) => void): unknown;
  destroy(): void;
}

/** A master the channel listens to, and how to make connections to it. */
export interface TrackingNode {
  readonly name: string;
  connect(): TrackingConnection;
}

/** Where the channel listens: the masters of the moment, and their names (to see them change). */
export interface TrackingTopology {
  nodes(): TrackingNode[];
  names(): string[];
}

const PROBE_MS = 1000;
const RETRY_MS = 200;

export class InvalidationChannel {
  readonly #where: TrackingTopology;
  readonly #keys: KeyScheme;
  readonly #near: NearCache;
  readonly #timeout: number;
  readonly #log: Logger;
  #conns: TrackingConnection[] = [];
  #probe: NodeJS.Timeout | undefined;
  #closed = false;
  #up = false;
  #warned = false;
  #generation = 0;
  readonly #current: (token: string) => Promise<{ session: StoredSession; expiresAt: number } | undefined>;

  /**
   * `current(token)`: what Redis holds now for a session (its version and deadline; undefined:
   * none), asked when Redis says the session changed, so that a touch or this host's own write
   * keeps the copy (with its new deadline) instead of dropping it.
   */
  constructor(
    where: TrackingTopology,
    keys: KeyScheme,
    near: NearCache,
    commandTimeout: number,
    log: Logger,
    current: (token: string) => Promise<{ session: StoredSession; expiresAt: number } | undefined>,
  ) {
    this.#current = current;
    this.#where = where;
    this.#keys = keys;
    this.#near = near;
    this.#timeout = commandTimeout;
    this.#log = log;
  }

  get up(): boolean {
    return this.#up;
  }

  /** Makes the channel; resolves once it is up (or failed once: it goes on trying). */
  async start(): Promise<void> {
    this.#near.flush(false);
    await this.#open();
  }

  async #open(): Promise<void> {
    if (this.#closed) return;
    const gen = ++this.#generation;
    const lost = (why: string) => () => this.#lost(gen, why);
    const nodes = this.#where.nodes();
    const listened = nodes.map((n) => n.name).sort().join(' ');
    const pairs = nodes.map((n) => ({ name: n.name, sub: n.connect(), tracker: n.connect() }));
    this.#conns = pairs.flatMap((p) => [p.sub, p.tracker]);
    for (const c of this.#conns) {
      c.on('error', lost('an error'));
      c.on('end', lost('the connection closed'));
      c.on('reconnecting', lost('a reconnection'));
    }
    try {
      if (pairs.length === 0) throw new Error('no master known yet');
      await Promise.all(pairs.map((p) => this.#track(gen, p.sub, p.tracker)));
    } catch (err) {
      this.#lost(gen, (err as Error).message);
      return;
    }
    if (gen !== this.#generation || this.#closed) return;
    this.#up = true;
    this.#near.flush(true);
    if (this.#warned) this.#log.info({}, 'near-cache invalidation channel back: the near-cache serves again');
    this.#warned = false;
    this.#probe = setInterval(() => {
      if (this.#where.names().join(' ') !== listened) {
        this.#lost(gen, "the cluster's masters changed");
        return;
      }
      for (const p of pairs) this.#ask(gen, p.name, p.tracker);
    }, PROBE_MS);
    this.#probe.unref();
  }

  /** Turns tracking on for one master: its invalidations redirected to `sub`, on the same node. */
  async #track(gen: number, sub: TrackingConnection, tracker: TrackingConnection): Promise<void> {
    await Promise.all([sub.connect(), tracker.connect()]);
    const id = String(await sub.sendCommand(['CLIENT', 'ID']));
    await sub.sendCommand(['CLIENT', 'SETNAME', 'sessmap-invalidations']);
    await tracker.sendCommand(['CLIENT', 'SETNAME', 'sessmap-tracking']);
    await sub.subscribe('__redis__:invalidate', (m) => this.#invalidated(gen, m));
    await tracker.sendCommand(['CLIENT', 'TRACKING', 'ON', 'REDIRECT', id, 'BCAST', 'PREFIX', this.#keys.sessionPrefix()]);
  }

  /** The probe of one master: it answers within commandTimeout, and is still a master. */
  #ask(gen: number, name: string, tracker: TrackingConnection): void {
    let answered = false;
    const t = setTimeout(() => {
      if (!answered) this.#lost(gen, `no answer from ${name} to a probe within ${this.#timeout} ms`);
    }, this.#timeout);
    t.unref();
    tracker.sendCommand(['ROLE']).then(
      (role) => {
        answered = true;
        clearTimeout(t);
        const r = Array.isArray(role) ? String(role[0]) : '';
        if (r !== 'master') this.#lost(gen, `${name} is no longer a master (${r})`);
      },
      () => this.#lost(gen, `a probe of ${name} failed`),
    );
  }

  #invalidated(gen: number, message: unknown): void {
    if (gen !== this.#generation || this.#closed) return;
    const now = Date.now();
    if (message === null || message === undefined) {
      this.#near.invalidate(null, now);
      return;
    }
    const keys = Array.isArray(message) ? message : [message];
    const tokens: string[] = [];
    for (const k of keys) {
      const t = this.#keys.tokenOfKey(String(k));
      if (t !== undefined) tokens.push(t);
    }
    for (const t of tokens) {
      // A session this host holds no copy of: a tombstone (a read racing this invalidation must
      // not land its old answer), and no read of Redis: broadcast mode reports every session.
      if (!this.#near.holds(t)) {
        this.#near.invalidate([t], now);
        continue;
      }
      this.#current(t).then(
        (c) => {
          if (gen === this.#generation && !this.#closed) this.#near.revise(t, c, now);
        },
        () => {
          if (gen === this.#generation && !this.#closed) this.#near.invalidate([t], now);
        },
      );
    }
  }

  /** The channel is lost: stop serving at once, empty the near-cache, make the channel again. */
  #lost(gen: number, why: string): void {
    if (gen !== this.#generation || this.#closed) return;
    this.#generation++;
    this.#up = false;
    if (this.#probe !== undefined) clearInterval(this.#probe);
    this.#probe = undefined;
    this.#near.flush(false);
    if (!this.#warned) {
      this.#warned = true;
      this.#log.warn({ reason: why }, 'near-cache invalidation channel lost: the near-cache was emptied and serves nothing until the channel is back');
    }
    for (const c of this.#conns) {
      try {
        c.destroy();
      } catch {
        // gone
      }
    }
    this.#conns = [];
    setTimeout(() => void this.#open(), RETRY_MS).unref();
  }

  close(): void {
    this.#closed = true;
    this.#up = false;
    if (this.#probe !== undefined) clearInterval(this.#probe);
    for (const c of this.#conns) {
      try {
        c.destroy();
      } catch {
        // gone
      }
    }
    this.#conns = [];
  }
}
