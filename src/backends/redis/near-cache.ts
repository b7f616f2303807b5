/**
 * The near-cache: a host's mmap file (the core's shared cache) in front of Redis, shared by every
 * process of the host, holding sessions read from or written to Redis, so that a read of a
 * session this host has seen pays no round trip. Redis stays the truth: every change goes there
 * first, and the near-cache holds a copy only while it is known current.
 *
 * Known current means: the host's invalidation channel (tracking.ts: CLIENT TRACKING in broadcast
 * mode on the session prefix, one connection per host) is up, and has been since the copy was
 * made. An invalidation replaces the copy with a tombstone carrying its time; a copy made from a
 * read (or a write) that started before a tombstone of its key does not land, so a read that
 * raced an invalidation never puts the old value back. When the channel is lost, the file's state
 * says so at once (every process stops serving from it) and everything in it is dropped; it
 * serves again once the channel is back, empty: each time it starts serving is a new epoch, and a
 * copy of an earlier epoch (one that landed while it was being emptied) is never served. Every
 * copy also ends after `maxAge` ms (a safety
 * net), and a session's own deadlines still hold (a copy past its deadline is not served).
 */
import { SharedCache, UNCHANGED } from '../../core/index.js';
import type { StoredSession } from '../../sessions/backend.js';

/** What the file holds under a session's token: a copy (of epoch `g`), or a tombstone. */
type Slot = { s: StoredSession; e: number; g: number } | { t: number };

/** The state: `{ g }`, the epoch it serves in (0: not serving). Session tokens are hex: no clash. */
const STATE = '~near:state';

export interface NearCacheStats {
  hits: number;
  misses: number;
  /** Copies dropped because Redis said the session changed. */
  invalidations: number;
  /** Times the whole near-cache was emptied (the channel lost, or Redis flushed). */
  flushes: number;
}

export class NearCache {
  readonly file: SharedCache<unknown>;
  readonly #maxAge: number;
  readonly #tombstoneTtl: number;
  readonly stats: NearCacheStats = { hits: 0, misses: 0, invalidations: 0, flushes: 0 };

  /** `tombstoneTtl`: longer than any call to Redis can take (a read started before it must see it). */
  constructor(file: SharedCache<unknown>, maxAge: number, tombstoneTtl: number) {
    this.file = file;
    this.#maxAge = maxAge;
    this.#tombstoneTtl = tombstoneTtl;
  }

  /** The epoch it serves in, or 0 while the invalidation channel is down (read by every process of the host). */
  epoch(): number {
    const s = this.file.get(STATE) as { g?: number } | undefined;
    return typeof s?.g === 'number' ? s.g : 0;
  }

  /** The copy of a session, when it may be served; undefined: ask Redis. */
  read(token: string, now: number): { session: StoredSession; expiresAt: number } | undefined {
    const g = this.epoch();
    if (g === 0) {
      // Not serving (the invalidation channel is down): the read goes to Redis, a miss.
      this.stats.misses++;
      return undefined;
    }
    const v = this.file.get(token) as Slot | undefined;
    if (v === undefined || !('s' in v) || v.g !== g || v.e <= now) {
      this.stats.misses++;
      return undefined;
    }
    this.stats.hits++;
    return { session: v.s, expiresAt: v.e };
  }

  /**
   * Keeps a copy of what Redis answered (or was told) by a call that started at `since` in epoch
   * `g`, unless the epoch has changed or an invalidation of the session came after `since`.
   */
  keep(token: string, session: StoredSession, expiresAt: number, since: number, g: number): void {
    if (g === 0 || this.epoch() !== g) return;
    this.file.update(
      token,
      (cur) => {
        const c = cur as Slot | undefined;
        if (c !== undefined && 't' in c && c.t >= since) return UNCHANGED;
        // Versions only grow: a read that raced a write never replaces the newer copy.
        if (c !== undefined && 's' in c && c.g === g && c.s.v > session.v) return UNCHANGED;
        return { s: session, e: expiresAt, g } satisfies Slot;
      },
      { ttl: this.#maxAge },
    );
  }

  /** Redis said these sessions changed (null: everything, as after FLUSHALL). */
  invalidate(tokens: readonly string[] | null, now: number): void {
    if (tokens === null) {
      this.flush(true);
      return;
    }
    for (const t of tokens) {
      this.file.set(t, { t: now } satisfies Slot, { ttl: this.#tombstoneTtl });
      this.stats.invalidations++;
    }
  }

  /**
   * Redis said the session changed, and holds `now` (undefined: no session any more), as read
   * after the invalidation arrived at `at`: the copy becomes what Redis holds (unless the copy is
   * of a later version already, from a write of this host, or a tombstone made since `at`, from a
   * destroy of this host's), or a tombstone when it is gone. So a
   * touch, or a write of this host's, which Redis reports too, leaves a copy on every host.
   */
  revise(token: string, now: { session: StoredSession; expiresAt: number } | undefined, at: number): void {
    const g = this.epoch();
    if (g === 0) return;
    this.file.update(
      token,
      (cur) => {
        const c = cur as Slot | undefined;
        if (now === undefined) {
          this.stats.invalidations++;
          return { t: at } satisfies Slot;
        }
        // A destroy on this host since the read was sent (its tombstone is newer): the answer
        // may be from before the destroy, and must not bring the session back.
        if (c !== undefined && 't' in c && c.t >= at) return UNCHANGED;
        if (c !== undefined && 's' in c && c.g === g && c.s.v > now.session.v) return UNCHANGED;
        if (c !== undefined && 's' in c && c.g === g && c.s.v === now.session.v && c.e === now.expiresAt) return UNCHANGED;
        this.stats.invalidations++;
        return { s: now.session, e: now.expiresAt, g } satisfies Slot;
      },
      { ttl: (v) => ('t' in (v as Slot) ? this.#tombstoneTtl : this.#maxAge) },
    );
  }

  /** Whether the file holds a copy of the session (not a tombstone, not nothing). */
  holds(token: string): boolean {
    const v = this.file.get(token) as Slot | undefined;
    return v !== undefined && 's' in v;
  }

  /** This host moved a session's deadline: its copy (if any) takes it. */
  retime(token: string, e: number): void {
    this.file.update(
      token,
      (cur) => {
        const c = cur as Slot | undefined;
        return c !== undefined && 's' in c ? { ...c, e } : UNCHANGED;
      },
      { ttl: this.#maxAge },
    );
  }

  /** Drops every copy; `serving`: it serves again afterwards, in a new epoch. */
  flush(serving: boolean): void {
    const last = this.epoch();
    this.file.set(STATE, { g: 0 });
    this.file.clear();
    this.stats.flushes++;
    if (serving) this.file.set(STATE, { g: Math.max(last, Date.now()) + 1 });
    else this.file.set(STATE, { g: 0 });
  }

  close(): void {
    if (!this.file.closed) this.file.close();
  }
}
