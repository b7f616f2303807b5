/**
 * The session backend on Redis or Redis Cluster. Every step on a session is one Lua script
 * (scripts.ts) on one slot: a write, a touch, a destroy cost one round trip, a read one. An
 * update whose new data a callback computes (updateSession) is a read and a compare-and-set on
 * the version, retried when another host wrote in between, and run one at a time per session in
 * this process, so that concurrent updates of one session queue here rather than collide there.
 *
 * The key scheme is keys.ts's; the sweep of deadlines, the listings and the relay of events and
 * keyspace notifications are sweeper.ts's, listing.ts's and relay.ts's. The backend is usable
 * once the digest secret is known (from the option, or read from Redis once); until then a call
 * waits for it up to commandTimeout, then fails with SESSMAP_ERR_BACKEND_UNAVAILABLE.
 */
import { rmSync } from 'node:fs';
import { sessmapError } from '../../errors.js';
import type { SessionEvents } from '../../events/types.js';
import type { BackendMetrics } from '../../sessions/types.js';
import {
  KEEP,
  expiryOf,
  type BackendChange,
  type BackendContext,
  type SessionBackend,
  type StoredSession,
  type WriteResult,
  type WriteSpec,
} from '../../sessions/backend.js';
import type { RedisLink } from './connection.js';
import { KeyScheme, isHandle } from './keys.js';
import { countSessions, clearAll, listSessions } from './listing.js';
import type { NormalisedRedisOptions } from './options.js';
import { HostRelay } from './relay.js';
import { decode, encode, num, scriptError, str } from './values.js';
import type { NearCache } from './near-cache.js';
import type { InvalidationChannel } from './tracking.js';
import { CAS, INDEX_ADD, INDEX_LIST, PUT, READ, READ_FIELDS, REMOVE, TOUCH } from './scripts.js';
import { startSweep, sweepOnce } from './sweeper.js';

/** How long a hashed session key outlives its deadline, for the sweep to report whose it was. */
export const GRACE_MS = 60_000;
/** Compare-and-set attempts of one update before it gives up (another host kept winning). */
const MAX_CAS_ATTEMPTS = 100;

type Reply = Array<string | number | null>;

export class RedisBackend implements SessionBackend {
  readonly remote = true;
  readonly link: RedisLink;
  readonly #o: NormalisedRedisOptions;
  readonly #ctx: BackendContext;
  readonly #grace: number;
  readonly #hostId: string;
  #keys: KeyScheme | undefined;
  readonly #keysReady: Promise<KeyScheme>;
  #relay: HostRelay | undefined;
  #near: NearCache | undefined;
  #channel: InvalidationChannel | undefined;
  /** The near-cache file this process made for itself alone, removed on close. */
  #nearFile: string | undefined;
  #stopSweep: () => void = () => {};
  #listener: ((change: BackendChange) => void) | undefined;
  #closed = false;
  /** The tail of each session's queue of updates in this process. */
  readonly #queues = new Map<string, Promise<unknown>>();

  /**
   * `keys`: the key scheme, once the digest secret is known (it may come later: Redis was down
   * when the backend opened; calls wait for it up to commandTimeout).
   */
  constructor(link: RedisLink, keys: Promise<KeyScheme>, o: NormalisedRedisOptions, ctx: BackendContext, hostId: string) {
    this.link = link;
    this.#o = o;
    this.#ctx = ctx;
    this.#hostId = hostId;
    this.#grace = o.keys === 'plain' ? 0 : GRACE_MS;
    this.#keysReady = keys.then((k) => (this.#keys = k));
    this.#keysReady.catch(() => {});
  }

  /** Once the key scheme is known: subscribes and sweeps (the primary, a process on its own). */
  async start(): Promise<void> {
    const keys = await this.#keysReady;
    if (this.#closed) return;
    const supervising = this.#ctx.role !== 'worker';
    const db = this.#o.url === undefined ? 0 : Number(new URL(this.#o.url).pathname.slice(1) || 0);
    this.#relay = new HostRelay(this.link, keys, this.#hostId, this.#ctx, (c) => this.#report(c), supervising, db);
    if (supervising && !keys.plain) this.#stopSweep = startSweep(this, this.#ctx.sessions.sweepInterval, this.#ctx.sessions.clock, (c) => this.#report(c));
    await this.#relay.start();
  }

  /**
   * After an outage: puts this host's secret back when Redis lost it (SET NX), adopts the one
   * another host put there first (logged), and turns keyspace notifications on again.
   */
  async reconnected(load: (link: RedisLink, o: NormalisedRedisOptions, mine: string) => Promise<string>): Promise<void> {
    const keys = this.#keys;
    if (keys === undefined || this.#o.secret !== undefined) return;
    const secret = await load(this.link, this.#o, keys.secret);
    if (!keys.sameSecret(secret)) {
      this.#keys = new KeyScheme(keys.prefix, keys.plain, secret);
      this.#ctx.logger.warn({ key: keys.secretKey }, 'the digest secret in Redis changed (the server lost its data and another host wrote a new one): hashed ids follow the new secret');
    }
    await this.#relay?.reconfigure();
  }

  /**
   * Puts the near-cache in front (the driver opened its file); `channel`: this process keeps the
   * host's invalidation channel (the primary, a process on its own), started here.
   */
  async useNearCache(near: NearCache, channel: InvalidationChannel | undefined, unlinkOnClose?: string): Promise<void> {
    if (this.#closed) {
      near.close();
      return;
    }
    this.#near = near;
    this.#channel = channel;
    this.#nearFile = unlinkOnClose;
    await channel?.start();
  }

  /** The near-cache's counts in this process (undefined without one). */
  counts(): Record<string, number> | undefined {
    const n = this.#near?.stats;
    return n === undefined ? undefined : { nearHits: n.hits, nearMisses: n.misses, nearInvalidations: n.invalidations, nearFlushes: n.flushes };
  }

  /** This process's command failures and latencies, and its near-cache's counts (`sessmap/metrics` reads them). */
  metrics(): BackendMetrics {
    const n = this.#near?.stats;
    return { ...this.link.stats.snapshot(), ...(n === undefined ? {} : { nearCache: { ...n } }) };
  }

  /** Sweeps every bucket now (the periodic sweep does this every sweepInterval); resolves to how many sessions expired. */
  async sweep(): Promise<number> {
    await this.#open();
    return this.keys.plain ? 0 : sweepOnce(this, this.#ctx.sessions.clock(), (c) => this.#report(c));
  }

  /** The key scheme; SESSMAP_ERR_BACKEND_UNAVAILABLE while the secret is not known yet. */
  get keys(): KeyScheme {
    if (this.#keys === undefined) throw sessmapError('SESSMAP_ERR_BACKEND_UNAVAILABLE', 'Redis has not been reached yet (the digest secret is read from it once)');
    return this.#keys;
  }

  /** Waits for the key scheme up to commandTimeout. */
  async #ready(): Promise<void> {
    if (this.#closed) throw sessmapError('SESSMAP_ERR_CLOSED', 'the Redis session backend was closed');
    if (this.#keys !== undefined) return;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), this.#o.commandTimeout)));
    await Promise.race([this.#keysReady.catch(() => undefined), late]);
    clearTimeout(timer);
    void this.keys;
  }

  #keysOf(id: string): { token: string; keys: string[] } {
    const token = this.keys.token(id);
    const k = this.keys.sessionKey(token);
    return { token, keys: this.keys.plain ? [k] : [k, this.keys.deadlineKey(this.keys.bucketOf(token))] };
  }

  #report(c: BackendChange): void {
    this.#listener?.(c);
  }

  /** An expired session a write found (and replaced) before the sweep did: reported as the sweep would. */
  #due(token: string, r: Reply, at: number): void {
    if (num(r[at]) !== 1) return;
    const u = str(r[at + 1]);
    this.#report({ id: this.keys.handleOf(token), reason: 'expired', expiresAt: num(r[at + 2]), session: { a: 0, ...(u !== undefined ? { u } : {}) } });
    if (u !== undefined) void this.indexRemove(u, this.keys.handleOf(token)).catch(() => {});
  }

  #check(): void {
    if (this.#closed) throw sessmapError('SESSMAP_ERR_CLOSED', 'the Redis session backend was closed');
  }

  /** Checks the backend is open and the key scheme known (waiting for it a while). */
  async #open(): Promise<void> {
    this.#check();
    if (this.#keys === undefined) await this.#ready();
  }

  /** A read: from the near-cache when it holds a current copy, else from Redis (kept there). */
  async #read(id: string, now: number): Promise<{ session: StoredSession; expiresAt: number } | undefined> {
    const near = this.#near;
    if (near === undefined) return this.#readRedis(id, now);
    if (this.#closed || this.#keys === undefined) await this.#open();
    const token = this.#keys!.token(id);
    const hit = near.read(token, now);
    if (hit !== undefined) return hit;
    const g = near.epoch();
    const since = Date.now();
    const r = await this.#readRedis(id, now);
    if (r !== undefined) near.keep(token, r.session, r.expiresAt, since, g);
    return r;
  }

  /** A read from Redis itself (updates compare versions with it). */
  async #readRedis(id: string, now: number): Promise<{ session: StoredSession; expiresAt: number } | undefined> {
    if (this.#closed || this.#keys === undefined) await this.#open();
    const scheme = this.#keys!;
    if (!scheme.plain) {
      // One HMGET: the session's fields and its deadline; past it, the sweep is about to report it.
      const k = scheme.sessionKey(scheme.token(id));
      const f = (await this.link.send(k, ['HMGET', k, ...READ_FIELDS])) as Reply;
      const e = num(f[6]);
      if (f[4] === null || e === undefined || e <= now) return undefined;
      const s: StoredSession = { d: decode(f[0]), c: num(f[1])!, a: num(f[2])!, i: num(f[3])!, v: num(f[4])! };
      const u = str(f[5]);
      if (u !== undefined) s.u = u;
      return { session: s, expiresAt: e };
    }
    const { token, keys } = this.#keysOf(id);
    const r = (await this.link.script(READ, keys, [now, token])) as Reply | null;
    if (r === null) return undefined;
    if (r[0] === 's') {
      // connect-redis's JSON (plain keys): its data, until the first write turns it into sessmap's hash.
      const a = this.#ctx.sessions.absoluteTimeout;
      return { session: { d: decode(r[1]), c: now, a: a > 0 ? now + a : 0, i: this.#ctx.sessions.idleTimeout, v: 0 }, expiresAt: num(r[2])! };
    }
    const s: StoredSession = { d: decode(r[1]), c: num(r[2])!, a: num(r[3])!, i: num(r[4])!, v: num(r[5])! };
    const u = str(r[6]);
    if (u !== undefined) s.u = u;
    return { session: s, expiresAt: num(r[7])! };
  }

  read(id: string): Promise<{ session: StoredSession; expiresAt: number } | undefined> {
    return this.#read(id, this.#ctx.sessions.clock());
  }

  /** What Redis itself holds for a session now (the near-cache's invalidation channel asks). */
  readFresh(id: string): Promise<{ session: StoredSession; expiresAt: number } | undefined> {
    return this.#readRedis(id, this.#ctx.sessions.clock());
  }

  async write(id: string, now: number, spec: WriteSpec): Promise<WriteResult> {
    await this.#open();
    const { token, keys } = this.#keysOf(id);
    const g = this.#near?.epoch() ?? 0;
    const since = Date.now();
    const data = encode(spec.data);
    const u = spec.user;
    const args = [
      now,
      token,
      data,
      spec.ttl === undefined ? '' : spec.ttl,
      spec.idleTimeout,
      spec.absoluteTimeout,
      u.mode,
      u.mode === 'set' ? u.id : u.mode === 'auto' ? (u.derived ?? '') : '',
      spec.mustBeNew ? 1 : 0,
      spec.ifExists ? 1 : 0,
      spec.ifVersion === undefined ? '' : spec.ifVersion,
      this.#grace,
    ];
    let r: Reply;
    try {
      r = (await this.link.script(PUT, keys, args)) as Reply;
    } catch (err) {
      throw scriptError(err);
    }
    this.#due(token, r, 9);
    const session: StoredSession = { d: spec.data, c: num(r[4])!, a: num(r[5])!, i: num(r[6])!, v: num(r[3])! };
    const user = str(r[7]);
    if (user !== undefined) session.u = user;
    const beforeUser = str(r[1]);
    const before = num(r[0]) === 1 ? { v: num(r[2]) ?? 0, ...(beforeUser !== undefined ? { u: beforeUser } : {}) } : undefined;
    const expiresAt = num(r[8])!;
    this.#near?.keep(token, session, expiresAt, since, g);
    return { before, session, expiresAt };
  }

  /** One update at a time per session in this process; the next starts when the last settled. */
  #serial<T>(token: string, run: () => Promise<T>): Promise<T> {
    const prev = this.#queues.get(token) ?? Promise.resolve();
    const next = prev.then(run, run);
    const tail = next.then(
      () => {},
      () => {},
    );
    this.#queues.set(token, tail);
    void tail.then(() => {
      if (this.#queues.get(token) === tail) this.#queues.delete(token);
    });
    return next;
  }

  async modify(id: string, now: number, fn: (current: StoredSession | undefined) => StoredSession | undefined | typeof KEEP): Promise<{ before: StoredSession | undefined; expiresAt: number }> {
    await this.#open();
    const { token, keys } = this.#keysOf(id);
    return this.#serial(token, async () => {
      for (let attempt = 1; ; attempt++) {
        const g = this.#near?.epoch() ?? 0;
        const since = Date.now();
        const cur = await this.#readRedis(id, now);
        const next = fn(cur?.session);
        if (next === KEEP) return { before: cur?.session, expiresAt: cur?.expiresAt ?? 0 };
        const expected = cur === undefined ? '' : cur.session.v;
        const args: Array<string | number> =
          next === undefined
            ? [now, token, expected, 'del']
            : [now, token, expected, 'put', encode(next.d), next.c, next.a, next.i, next.v, next.u ?? '', expiryOf(next, now), this.#grace];
        const r = (await this.link.script(CAS, keys, args)) as Reply;
        if (num(r[0]) === 1) {
          this.#due(token, r, 1);
          if (next === undefined) this.#near?.invalidate([token], Date.now());
          else this.#near?.keep(token, next, expiryOf(next, now), since, g);
          return { before: cur?.session, expiresAt: next === undefined ? 0 : expiryOf(next, now) };
        }
        if (attempt >= MAX_CAS_ATTEMPTS) {
          throw sessmapError('SESSMAP_ERR_VERSION_CONFLICT', `the session changed under ${MAX_CAS_ATTEMPTS} attempts in a row to update it (other hosts kept writing it)`);
        }
        // Another host wrote in between: read again, after a short random pause.
        await new Promise((r2) => setTimeout(r2, Math.random() * Math.min(50, attempt * 2)));
      }
    });
  }

  async remove(id: string, now: number): Promise<{ u?: string } | undefined> {
    await this.#open();
    const { token, keys } = this.#keysOf(id);
    const r = (await this.link.script(REMOVE, keys, [now, token])) as Reply | null;
    // Gone from this host's near-cache before the call returns (other hosts: by invalidation).
    this.#near?.invalidate([token], Date.now());
    if (r === null) return undefined;
    const u = str(r[1]);
    return u === undefined ? {} : { u };
  }

  async extend(id: string, expiresAt: number, slack = 0, now = this.#ctx.sessions.clock()): Promise<boolean> {
    await this.#open();
    const { token, keys } = this.#keysOf(id);
    const r = num(await this.link.script(TOUCH, keys, [now, token, expiresAt, slack, this.#grace]));
    // The copy keeps its data; its deadline is the one just set (Redis's invalidation of the
    // touch then finds the same version and keeps it too).
    if (this.#near !== undefined) {
      if (r === 2) this.#near.retime(token, expiresAt);
      else if (r !== 1) this.#near.invalidate([token], Date.now());
    }
    return r === 1 || r === 2;
  }

  async indexAdd(userId: string, id: string, absoluteDeadline = 0): Promise<void> {
    await this.#open();
    const key = this.keys.userKey(userId);
    const others = (await this.link.script(INDEX_ADD, [key], [this.#ctx.sessions.clock(), this.keys.token(id), absoluteDeadline > 0 ? absoluteDeadline : '+inf'])) as string[];
    if (others.length === 0) return;
    // The user's other sessions that Redis evicted (or that expired unswept) since: dropped as the
    // index is written, so it does not grow with every login of a user who never logs out.
    const gone = await Promise.all(
      others.map(async (t) => {
        const k = this.keys.sessionKey(String(t));
        return Number(await this.link.send(k, ['EXISTS', k])) === 0 ? String(t) : undefined;
      }),
    );
    const dead = gone.filter((t): t is string => t !== undefined);
    if (dead.length > 0) await this.link.send(key, ['ZREM', key, ...dead]);
  }

  async indexRemove(userId: string, id: string): Promise<void> {
    await this.#open();
    const key = this.keys.userKey(userId);
    await this.link.send(key, ['ZREM', key, this.keys.token(id)]);
  }

  async indexList(userId: string): Promise<string[]> {
    await this.#open();
    const key = this.keys.userKey(userId);
    const members = (await this.link.script(INDEX_LIST, [key], [this.#ctx.sessions.clock(), ''])) as string[];
    return members.map((m) => this.keys.handleOf(String(m)));
  }

  async count(): Promise<number> {
    await this.#open();
    return countSessions(this.link, this.keys, this.#ctx.sessions.clock());
  }

  async list(): Promise<Array<[string, StoredSession]>> {
    await this.#open();
    const now = this.#ctx.sessions.clock();
    return listSessions(this.link, this.keys, now, (id) => this.#read(id, now));
  }

  async clear(): Promise<void> {
    await this.#open();
    await clearAll(this.link, this.keys);
  }

  digest(text: string): string {
    return this.keys.digest(text);
  }

  sid(id: string): string {
    return this.keys.sid(id);
  }

  handle(id: string): string {
    return this.keys.handle(id);
  }

  isHandle(id: string): boolean {
    return !this.keys.plain && isHandle(id);
  }

  share<K extends keyof SessionEvents>(name: K, args: SessionEvents[K]): void {
    if (!this.#closed) this.#relay?.share(name, args);
  }

  subscribe(listener: (change: BackendChange) => void): () => void {
    this.#listener = listener;
    return () => {
      if (this.#listener === listener) this.#listener = undefined;
    };
  }

  /** The options this backend was opened with (the driver describes it from them). */
  get options(): NormalisedRedisOptions {
    return this.#o;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopSweep();
    this.#channel?.close();
    this.#near?.close();
    if (this.#nearFile !== undefined) rmSync(this.#nearFile, { force: true });
    this.#listener = undefined;
    await this.#relay?.close();
    await this.link.close();
  }
}
