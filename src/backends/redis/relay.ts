/**
 * What crosses between hosts, besides the sessions themselves.
 *
 * Events. A host (a cluster primary, or a process on its own) publishes the session events it
 * caused (its workers' included: they reach it over IPC first) on the channel under the prefix,
 * in batches (what 10 ms produced, one message: `<host id> <JSON array of [name, payload]>`);
 * every other host emits them on its own stream, once. A message starts with its host's id, so a
 * host skips its own (it emitted them already) without parsing them, and counts nothing twice. What arrives is checked before it is emitted: an event name sessmap relays, a
 * payload object; anything else (another program on the channel) is dropped, never thrown.
 *
 * Keyspace notifications. `expired` and `evicted` of session keys, as Redis itself reclaims
 * them, reach every host from Redis directly (on Redis Cluster each master sends its own: the
 * relay subscribes on every master), so they are emitted here and never relayed. The relay turns
 * them on with CONFIG SET where allowed, and says once, as a warning, when it cannot (managed
 * Redis): then evictions by Redis go unreported, and expiry is the sweep's alone.
 */
import { randomBytes } from 'node:crypto';
import type { SessionEvents } from '../../events/types.js';
import type { BackendChange, BackendContext } from '../../sessions/backend.js';
import type { RedisLink } from './connection.js';
import type { KeyScheme } from './keys.js';

const RELAYED: ReadonlySet<string> = new Set(['created', 'updated', 'destroyed', 'regenerated', 'expired', 'evicted']);
const MAX_BATCH = 500;
/** How long events wait to go out together (one message), at most. */
const BATCH_MS = 10;

/** A host's id on the channel (the primary's, handed to its workers is not needed: workers do not subscribe). */
export function newHostId(): string {
  return randomBytes(9).toString('base64url');
}

/** The notify-keyspace-events flags with keyevent (E), expired (x) and evicted (e) added. */
export function withKeyEvents(flags: string): string {
  let f = flags;
  if (!f.includes('E')) f += 'E';
  if (!f.includes('A')) {
    if (!f.includes('x')) f += 'x';
    if (!f.includes('e')) f += 'e';
  }
  return f;
}

export class HostRelay {
  readonly #link: RedisLink;
  readonly #keys: KeyScheme;
  readonly #host: string;
  readonly #ctx: BackendContext;
  readonly #report: (c: BackendChange) => void;
  readonly #listening: boolean;
  readonly #db: number;
  #batch: Array<[string, unknown]> = [];
  #flushing = false;
  #closed = false;
  #warned = false;

  constructor(link: RedisLink, keys: KeyScheme, host: string, ctx: BackendContext, report: (c: BackendChange) => void, listening: boolean, db: number) {
    this.#db = db;
    this.#link = link;
    this.#keys = keys;
    this.#host = host;
    this.#ctx = ctx;
    this.#report = report;
    this.#listening = listening;
  }

  async start(): Promise<void> {
    if (!this.#listening) return;
    const channel = await this.#link.subscriber();
    await channel.subscribe(this.#keys.channel, (message) => this.#received(message));
    await this.#keyEvents();
  }

  /** Turns keyspace notifications on again (a restarted server forgot its CONFIG SET). */
  async reconfigure(): Promise<void> {
    if (!this.#listening || this.#closed) return;
    for (const m of await this.#link.masters()) await this.#configure(m);
  }

  async #configure(m: { name: string; send(args: ReadonlyArray<string>): Promise<unknown> }): Promise<void> {
    try {
      const r = (await m.send(['CONFIG', 'GET', 'notify-keyspace-events'])) as unknown;
      const current = Array.isArray(r) ? String(r[1] ?? '') : r !== null && typeof r === 'object' ? String(Object.values(r)[0] ?? '') : '';
      const wanted = withKeyEvents(current);
      if (wanted !== current) await m.send(['CONFIG', 'SET', 'notify-keyspace-events', wanted]);
    } catch (err) {
      // Refused (managed Redis: CONFIG renamed or not permitted), as opposed to not answered.
      if ((err as { code?: string }).code !== 'SESSMAP_ERR_BACKEND_UNAVAILABLE') this.#warnOnce(m.name, err as Error);
    }
  }

  /** Subscribes to `expired` and `evicted` key events on every master, enabling them where needed. */
  async #keyEvents(): Promise<void> {
    const db = this.#db;
    for (const m of await this.#link.masters()) {
      await this.#configure(m);
      const sub = await this.#link.subscriber(m.subscriber);
      await sub.subscribe([`__keyevent@${db}__:expired`, `__keyevent@${db}__:evicted`], (key, channel) => this.#keyEvent(channel.endsWith(':evicted') ? 'evicted' : 'expired', key));
    }
  }

  #warnOnce(node: string, err: Error): void {
    if (this.#warned) return;
    this.#warned = true;
    this.#ctx.logger.warn(
      { node, err: err.message },
      'cannot enable Redis keyspace notifications (CONFIG SET notify-keyspace-events Exe was refused, as managed Redis does): ' +
        "sessions Redis evicts under maxmemory are not reported; expiry is reported by sessmap's sweep. Set notify-keyspace-events to include 'Exe' in the server's configuration",
    );
  }

  #keyEvent(kind: 'expired' | 'evicted', key: string): void {
    if (this.#closed) return;
    const token = this.#keys.tokenOfKey(key);
    if (token === undefined) return;
    const id = this.#keys.handleOf(token);
    if (this.#keys.plain) {
      this.#report({ id, reason: kind, ttlLeft: kind === 'evicted' ? undefined : 0, heardEverywhere: true });
      return;
    }
    // The deadline index still has the session's deadline: how long it had left; then the entry goes.
    const dz = this.#keys.deadlineKey(this.#keys.bucketOf(token));
    this.#link.send(dz, ['ZSCORE', dz, token]).then(
      (score) => {
        const deadline = score === null || score === undefined ? undefined : Number(score);
        const now = this.#ctx.sessions.clock();
        this.#report({ id, reason: kind, heardEverywhere: true, ...(deadline !== undefined ? { expiresAt: deadline, ttlLeft: Math.max(0, deadline - now) } : {}) });
        if (deadline !== undefined) void this.#link.send(dz, ['ZREM', dz, token]).catch(() => {});
      },
      () => this.#report({ id, reason: kind, heardEverywhere: true }),
    );
  }

  /** Queues an event this host caused for the other hosts; published within BATCH_MS, with the others of that time. */
  share<K extends keyof SessionEvents>(name: K, args: SessionEvents[K]): void {
    if (this.#closed || !RELAYED.has(name)) return;
    this.#batch.push([name, args[0]]);
    if (this.#batch.length >= MAX_BATCH) this.#flush();
    else if (!this.#flushing) {
      this.#flushing = true;
      setTimeout(() => this.#flush(), BATCH_MS).unref();
    }
  }

  #flush(): void {
    this.#flushing = false;
    if (this.#batch.length === 0) return;
    const e = this.#batch;
    this.#batch = [];
    // Fire and forget: a lost batch (Redis down) loses events for the other hosts, never a request.
    // `<host> <json>`: a host skips its own messages before parsing them.
    void this.#link.send(undefined, ['PUBLISH', this.#keys.channel, `${this.#host} ${JSON.stringify(e)}`]).catch(() => {});
  }

  #received(message: string): void {
    if (this.#closed) return;
    const space = message.indexOf(' ');
    if (space <= 0 || message.slice(0, space) === this.#host) return;
    let e: unknown;
    try {
      e = JSON.parse(message.slice(space + 1));
    } catch {
      return;
    }
    if (!Array.isArray(e)) return;
    for (const item of e) {
      if (!Array.isArray(item) || item.length !== 2) continue;
      const [name, payload] = item as [unknown, unknown];
      if (typeof name !== 'string' || !RELAYED.has(name) || payload === null || typeof payload !== 'object' || typeof (payload as { sid?: unknown }).sid !== 'string') continue;
      this.#ctx.emitHere(name as 'created', payload as SessionEvents['created'][0]);
    }
  }

  async close(): Promise<void> {
    this.#flush();
    this.#closed = true;
  }
}
