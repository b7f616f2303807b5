/**
 * The session service: ids, deadlines, versions, the per-user index and lifecycle events, on
 * top of any {@link SessionBackend}. Where its events go is its owner's choice, given as an
 * {@link EventSink} (the cluster primary emits them on the cluster-wide bus; a worker emits them
 * locally and forwards them to the primary). What the backend removes by itself arrives on the
 * backend's feed, by session id, and becomes `expired` and `evicted` events here.
 */
import { sessmapError } from '../errors.js';
import { KEEP, expiryOf, type BackendChange, type Emit, type SessionBackend, type StoredSession, type WriteUser } from './backend.js';
import { checkSessionId, checkUserId, newSessionId } from './ids.js';
import type { NormalisedSessionOptions } from './options.js';
import type { BackendMetrics, SessionData, SessionEventEmitter, SessionRecord, SessionStore, SessionWriteOptions } from './types.js';
import { asJson } from '../util/json-shape.js';

/** Where a service's events go: the emitter apps listen to, the function that emits, and what ends it. */
export interface EventSink {
  readonly events: SessionEventEmitter;
  readonly emit: Emit;
  /** Emits in this process only (what every host heard for itself): not forwarded, not relayed. */
  readonly emitHere: Emit;
  /** Called once, when the service closes (after its backend): timers stop, buffers flush. */
  close(): void;
}

/**
 * How far a touch may leave the deadline where it is: min(1 s, 1% of the idle timeout). A session
 * used by request after request then costs no write (nor page lock) on most of them; its idle
 * deadline is at most that much earlier than the last request + idle timeout, never later.
 */
export function touchSlack(idle: number): number {
  return Math.min(1_000, Math.floor(idle / 100));
}

/** Sessions whose absolute deadline and hashed id this process remembers (up to twice this). */
const MEMO_MAX = 10_000;

type Memo = { a: number; sid: string | undefined; e: number; t: number };

/**
 * A bounded memo in two generations: entries go into the young map; when it is full it becomes
 * the old one and the oldest generation is dropped whole. O(1) per call (a Map's first key, which
 * a one-at-a-time LRU drop would use, costs a walk past every entry deleted before it).
 */
class Generations {
  #young = new Map<string, Memo>();
  #old = new Map<string, Memo>();

  get(id: string): Memo | undefined {
    return this.#young.get(id) ?? this.#old.get(id);
  }

  set(id: string, m: Memo): void {
    if (this.#young.size >= MEMO_MAX) {
      this.#old = this.#young;
      this.#young = new Map();
    }
    this.#young.set(id, m);
    this.#old.delete(id);
  }

  delete(id: string): void {
    this.#young.delete(id);
    this.#old.delete(id);
  }
}

export class SessionService<D = SessionData> implements SessionStore<D> {
  readonly events: SessionEventEmitter;
  readonly #backend: SessionBackend;
  readonly #o: NormalisedSessionOptions;
  readonly #sink: EventSink;
  readonly #emit: Emit;
  readonly #unsubscribe: () => void;
  #closed = false;
  /**
   * Per id: the absolute deadline (fixed for the life of a session id), the hashed id, and the
   * expiry last seen (`e`, at `t`). Lets a touch with a TTL move the deadline without reading
   * and decoding the session first, and a touch right after a read (a request that changed
   * nothing) skip the backend when the deadline it would set is within the slack of the one
   * just seen: what the backend's own slack check would answer, without the round trip.
   */
  readonly #memo = new Generations();

  constructor(backend: SessionBackend, sink: EventSink, options: NormalisedSessionOptions) {
    this.events = sink.events;
    this.#backend = backend;
    this.#o = options;
    this.#sink = sink;
    this.#emit = sink.emit;
    this.#unsubscribe = backend.subscribe((change) => this.#changed(change));
  }

  hashId(id: string): string {
    const m = this.#memo.get(id);
    if (m !== undefined) return (m.sid ??= this.#backend.sid(id));
    return this.#backend.sid(id);
  }

  /** The backend's own counts in this process (a Redis near-cache's hits and misses), if it keeps any. */
  backendStats(): Record<string, number> | undefined {
    return this.#backend.counts?.();
  }

  /** What the backend counts in this process for `sessmap/metrics` (Redis's commands and near-cache), if it counts anything. */
  backendMetrics(): BackendMetrics | undefined {
    return this.#backend.metrics?.();
  }

  /** Whether the backend's calls wait for the network (see SessionBackend.remote). */
  get remote(): boolean {
    return this.#backend.remote === true;
  }

  handleOf(id: string): string {
    checkSessionId(id);
    return this.#backend.handle?.(id) ?? id;
  }

  /** Remembers a session's absolute deadline `a`, and its expiry `e` as seen at `t` (0: unknown). */
  #remember(id: string, a: number, e = 0, t = 0): void {
    const m = this.#memo.get(id);
    if (m !== undefined && m.a === a) {
      m.e = e;
      m.t = t;
      return;
    }
    this.#memo.set(id, { a, sid: m?.sid, e, t });
  }

  /** What every event about a session carries: hashed ids, and the raw id only on opt-in. */
  ref(id: string, userId?: string, sid?: string): { at: number; pid: number; sid: string; id?: string; uid?: string } {
    const r: { at: number; pid: number; sid: string; id?: string; uid?: string } = { at: Date.now(), pid: process.pid, sid: sid ?? this.hashId(id) };
    if (this.#o.exposeIds) r.id = id;
    if (userId !== undefined) r.uid = this.#backend.digest(`uid:${userId}`);
    return r;
  }

  /** Turns a removal the backend made by itself into an event. */
  #changed(r: BackendChange): void {
    this.#memo.delete(r.id);
    const emit = r.heardEverywhere === true ? this.#sink.emitHere : this.#emit;
    if (r.reason === 'expired') {
      // The absolute deadline ended it when the expiry had reached it (touches never pass it).
      const a = r.session?.a ?? 0;
      const deadline = a !== 0 && r.expiresAt !== undefined && r.expiresAt >= a ? 'absolute' : 'idle';
      emit('expired', { ...this.ref(r.id, r.session?.u), deadline });
    }
    else if (r.reason === 'evicted') {
      const ttlLeft = r.ttlLeft ?? 0;
      emit('evicted', { ...this.ref(r.id), ttlLeft, live: ttlLeft > 0 });
    }
  }

  async getSession(id: string): Promise<SessionRecord<D> | undefined> {
    checkSessionId(id);
    if (this.#handle(id)) return undefined;
    return this.#get(id);
  }

  /** A listed handle: taken by destroySession and the service's own listings, nowhere else. */
  #handle(id: string): boolean {
    return this.#backend.isHandle?.(id) === true;
  }

  #refuseHandle(id: string): void {
    if (this.#handle(id)) {
      throw sessmapError('SESSMAP_ERR_INVALID_SESSION_ID', 'a session handle (from allSessions or sessionsOf) names a session for destroySession only; it is not a session id', {});
    }
  }

  async #get(id: string): Promise<SessionRecord<D> | undefined> {
    const e = await this.#backend.read(id);
    if (e === undefined) return undefined;
    const now = this.#o.clock();
    if (e.session.a !== 0 && e.session.a <= now) return undefined;
    this.#remember(id, e.session.a, e.expiresAt, now);
    return this.#record(id, e.session, now, e.expiresAt);
  }

  async setSession(id: string, data: D, options: SessionWriteOptions = {}): Promise<SessionRecord<D>> {
    checkSessionId(id);
    this.#refuseHandle(id);
    return this.#write(id, data, options, false);
  }

  async createSession(data: D, options: Omit<SessionWriteOptions, 'ifVersion' | 'ifExists'> = {}): Promise<SessionRecord<D>> {
    return this.#write(newSessionId(), data, options, true);
  }

  async #write(id: string, data: D, options: SessionWriteOptions, mustBeNew: boolean): Promise<SessionRecord<D>> {
    const ttl = options.ttl === undefined ? undefined : this.#ttl(options.ttl);
    if (options.userId !== undefined && options.userId !== null) checkUserId(options.userId);
    const now = this.#o.clock();
    const user: WriteUser =
      options.userId === null ? { mode: 'clear' } : options.userId !== undefined ? { mode: 'set', id: options.userId } : { mode: 'auto', derived: this.#o.userIdOf(data) };
    const { before, session: s, expiresAt } = await this.#backend.write(id, now, {
      data: asJson(data),
      ttl,
      user,
      mustBeNew,
      ifExists: options.ifExists === true,
      ifVersion: options.ifVersion,
      idleTimeout: this.#o.idleTimeout,
      absoluteTimeout: this.#o.absoluteTimeout,
    });
    this.#remember(id, s.a, expiresAt, now);
    await this.#reindex(id, before?.u, s.u, s.a);
    if (before === undefined) this.#emit('created', this.ref(id, s.u));
    else this.#emit('updated', { ...this.ref(id, s.u), version: s.v });
    return this.#record(id, s, now, expiresAt);
  }

  /**
   * Whether a touch of `id` to `ttl` is already done, decided without the backend: the session
   * was seen within the slack, with a deadline within the slack of the one the touch would set
   * (what the backend's own check would answer; touchSession returns true without a call then).
   * For callers that can finish synchronously (the express store: express-session then writes
   * its response in one go). False means: call touchSession.
   */
  touchIsCurrent(id: string, ttl: number): boolean {
    const m = this.#memo.get(id);
    if (m === undefined || typeof ttl !== 'number' || !(ttl > 0) || !Number.isFinite(ttl)) return false;
    const now = this.#o.clock();
    return this.#current(m, expiryOf({ d: undefined, c: 0, a: m.a, i: ttl, v: 0 }, now), now, touchSlack(ttl));
  }

  /** Seen within the slack, at a deadline within the slack of `until`: the backend would write nothing. */
  #current(m: { e: number; t: number }, until: number, now: number, slack: number): boolean {
    return until > now && m.t > 0 && now - m.t <= slack && Math.abs(m.e - until) <= slack;
  }

  async touchSession(id: string, options: { ttl?: number } = {}): Promise<boolean> {
    checkSessionId(id);
    if (this.#handle(id)) return false;
    const m = this.#memo.get(id);
    if (options.ttl !== undefined && m !== undefined) {
      // The absolute deadline of an id never changes: no need to read the session to cap the touch.
      const now = this.#o.clock();
      const idle = this.#ttl(options.ttl);
      const until = expiryOf({ d: undefined, c: 0, a: m.a, i: idle, v: 0 }, now);
      if (until <= now) return false;
      const slack = touchSlack(idle);
      if (this.#current(m, until, now, slack)) return true;
      return this.#backend.extend(id, until, slack, now);
    }
    const s = (await this.#backend.read(id))?.session;
    if (s === undefined) return false;
    this.#remember(id, s.a);
    const idle = options.ttl === undefined ? s.i : this.#ttl(options.ttl);
    const now = this.#o.clock();
    const until = expiryOf({ ...s, i: idle }, now);
    if (until <= now) return false;
    return this.#backend.extend(id, until, touchSlack(idle), now);
  }

  async destroySession(id: string): Promise<boolean> {
    checkSessionId(id);
    return this.#destroy(id, 'destroyed');
  }

  async #destroy(id: string, reason: 'destroyed' | 'regenerated' | 'logout-everywhere'): Promise<boolean> {
    const sid = this.hashId(id);
    this.#memo.delete(id);
    const before = await this.#backend.remove(id, this.#o.clock());
    if (before === undefined) return false;
    if (before.u !== undefined) await this.#backend.indexRemove(before.u, id);
    this.#emit('destroyed', { ...this.ref(id, before.u, sid), reason });
    return true;
  }

  async updateSession(id: string, fn: (data: D) => D | undefined, options: Omit<SessionWriteOptions, 'ifVersion' | 'ifExists'> = {}): Promise<SessionRecord<D> | undefined> {
    checkSessionId(id);
    if (this.#handle(id)) return undefined;
    const ttl = options.ttl === undefined ? undefined : this.#ttl(options.ttl);
    if (options.userId !== undefined && options.userId !== null) checkUserId(options.userId);
    let next: StoredSession | undefined;
    const now = this.#o.clock();
    const { before, expiresAt } = await this.#backend.modify(id, now, (cur) => {
      if (cur === undefined) return KEEP;
      const data = fn(cur.d as D);
      if (data === undefined) return undefined;
      const userId = options.userId === null ? undefined : options.userId ?? cur.u ?? this.#o.userIdOf(data);
      next = { d: asJson(data), c: cur.c, a: cur.a, i: ttl ?? cur.i, v: cur.v + 1 };
      if (userId !== undefined) next.u = userId;
      return next;
    });
    if (before === undefined) return undefined;
    if (next === undefined) {
      this.#memo.delete(id);
      if (before.u !== undefined) await this.#backend.indexRemove(before.u, id);
      this.#emit('destroyed', { ...this.ref(id, before.u), reason: 'destroyed' });
      return undefined;
    }
    const s: StoredSession = next;
    this.#remember(id, s.a, expiresAt, now);
    await this.#reindex(id, before.u, s.u, s.a);
    this.#emit('updated', { ...this.ref(id, s.u), version: s.v });
    return this.#record(id, s, now, expiresAt);
  }

  async regenerateSession(id: string): Promise<SessionRecord<D> | undefined> {
    checkSessionId(id);
    if (this.#handle(id)) return undefined;
    const now = this.#o.clock();
    this.#memo.delete(id);
    const { before } = await this.#backend.modify(id, now, (cur) => (cur === undefined ? KEEP : undefined));
    if (before === undefined) return undefined;
    const fresh = newSessionId();
    const moved: StoredSession = { ...before, v: before.v + 1 };
    const { expiresAt } = await this.#backend.modify(fresh, now, () => moved);
    this.#remember(fresh, moved.a, expiresAt, now);
    if (before.u !== undefined) {
      await this.#backend.indexAdd(before.u, fresh, moved.a);
      await this.#backend.indexRemove(before.u, id);
    }
    this.#emit('destroyed', { ...this.ref(id, before.u), reason: 'regenerated' });
    this.#emit('regenerated', { ...this.ref(fresh, before.u), from: this.hashId(id) });
    return this.#record(fresh, moved, now, expiresAt);
  }

  async sessionsOf(userId: string): Promise<SessionRecord<D>[]> {
    checkUserId(userId);
    const out: SessionRecord<D>[] = [];
    for (const id of await this.#backend.indexList(userId)) {
      const r = await this.#get(id);
      if (r !== undefined && r.userId === userId) out.push(r);
      else await this.#backend.indexRemove(userId, id); // expired or evicted since: prune
    }
    return out;
  }

  async destroySessionsOf(userId: string): Promise<number> {
    checkUserId(userId);
    let n = 0;
    for (const id of await this.#backend.indexList(userId)) {
      if (await this.#destroy(id, 'logout-everywhere')) n++;
      else await this.#backend.indexRemove(userId, id);
    }
    return n;
  }

  async countSessions(): Promise<number> {
    return this.#backend.count();
  }

  async allSessions(): Promise<SessionRecord<D>[]> {
    const now = this.#o.clock();
    return (await this.#backend.list()).filter(([, s]) => s.a === 0 || s.a > now).map(([id, s]) => this.#record(id, s, now));
  }

  async clearSessions(): Promise<void> {
    await this.#backend.clear();
  }

  /** Closes the backend, then the event sink (its timers, its buffer); a second call does nothing. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#unsubscribe();
    try {
      await this.#backend.close();
    } finally {
      this.#sink.close();
    }
  }

  async #reindex(id: string, from: string | undefined, to: string | undefined, a: number): Promise<void> {
    if (from === to) return;
    if (from !== undefined) await this.#backend.indexRemove(from, id);
    if (to !== undefined) await this.#backend.indexAdd(to, id, a);
  }

  #ttl(ttl: unknown): number {
    if (typeof ttl !== 'number' || !Number.isFinite(ttl) || ttl <= 0) {
      throw sessmapError('SESSMAP_ERR_INVALID_OPTION', `option "ttl" must be a positive, finite number of milliseconds; got ${String(ttl)}`, { option: 'ttl' });
    }
    return ttl;
  }

  /** `expiresAt`: the stored expiry when known, else what a write at `now` sets. */
  #record(id: string, s: StoredSession, now: number, expiresAt?: number): SessionRecord<D> {
    const idleEnd = now + s.i;
    return {
      id,
      data: s.d as D,
      createdAt: s.c,
      expiresAt: expiresAt ?? (s.a === 0 ? idleEnd : Math.min(idleEnd, s.a)),
      absoluteExpiresAt: s.a === 0 ? Infinity : s.a,
      version: s.v,
      userId: s.u,
    };
  }
}
