/**
 * The session backend on the shared mmap cache. Sessions live under `s:<id>`, each user's index
 * (the ids of their sessions) under `u:<userId>`. Expiry is the cache's own TTL, set to the
 * earlier of the idle and absolute deadlines; with the protective policy, sessions without a
 * user are written with low priority, so the cache evicts them before any logged-in one.
 *
 * The index is a cache entry too, so it could be evicted while its sessions live on; then
 * "log out everywhere" would miss them. Index entries are written with 'high' priority, which
 * a page evicts only when it holds nothing else; and once the file has ever evicted a live
 * 'high' entry (stats().evictedHigh), indexList also scans every session for the user's, so
 * the answer stays complete, only slower.
 */
import { SharedCache, UNCHANGED } from '../core/index.js';
import { KEEP, expiryOf, type SessionBackend, type StoredSession } from './backend.js';

type Stored = StoredSession | string[];

export class MmapBackend implements SessionBackend {
  readonly cache: SharedCache<Stored>;
  readonly #protect: boolean;
  /** TTL of the per-user index entries: as long as the longest session can live. */
  readonly #indexTtl: number;

  constructor(cache: SharedCache<unknown>, options: { protectAuthenticated: boolean; clock?: () => number; indexTtl: number }) {
    this.cache = cache as SharedCache<Stored>;
    this.#protect = options.protectAuthenticated;
    this.#indexTtl = options.indexTtl;
  }

  async read(id: string): Promise<{ session: StoredSession; expiresAt: number } | undefined> {
    const e = this.cache.getEntry(`s:${id}`);
    return e === undefined ? undefined : { session: e.value as StoredSession, expiresAt: e.expiresAt };
  }

  async modify(id: string, now: number, fn: (current: StoredSession | undefined) => StoredSession | undefined | typeof KEEP): Promise<{ before: StoredSession | undefined; expiresAt: number }> {
    let seen: StoredSession | undefined;
    const { expiresAt } = this.cache.updateEntry(
      `s:${id}`,
      (cur) => {
        seen = cur as StoredSession | undefined;
        const next = fn(seen);
        return next === KEEP ? UNCHANGED : next;
      },
      {
        expiresAt: (s) => expiryOf(s as StoredSession, now),
        priority: (s) => (this.#protect && (s as StoredSession).u === undefined ? 'low' : 'normal'),
      },
    );
    return { before: seen, expiresAt };
  }

  async extend(id: string, expiresAt: number, slack = 0): Promise<boolean> {
    const key = `s:${id}`;
    if (slack > 0) {
      // A lock-free look first: a session touched by request after request needs no write (and
      // no page lock, which every worker would otherwise take for the same hot session).
      const info = this.cache.inspect(key);
      if (info === undefined) return false;
      if (Math.abs(info.expiresAt - expiresAt) <= slack) return true;
    }
    return this.cache.expireAt(key, expiresAt);
  }

  async indexAdd(userId: string, id: string): Promise<void> {
    const key = `u:${userId}`;
    // Ids of sessions that expired or were evicted since: dropped as the list is written, so an
    // index does not grow with every login of a user who never logs out.
    const listed = this.cache.get(key);
    const dead = new Set(Array.isArray(listed) ? listed.filter((x) => x !== id && !this.cache.has(`s:${x}`)) : []);
    this.cache.update(key, (ids) => {
      const list = (ids as string[] | undefined) ?? [];
      const kept = dead.size === 0 ? list : list.filter((x) => !dead.has(x));
      if (kept.includes(id)) return kept.length === list.length ? UNCHANGED : kept;
      return [...kept, id];
    }, { ttl: this.#indexTtl, priority: 'high' });
  }

  async indexRemove(userId: string, id: string): Promise<void> {
    this.cache.update(`u:${userId}`, (ids) => {
      const list = ids as string[] | undefined;
      if (list === undefined || !list.includes(id)) return UNCHANGED;
      const rest = list.filter((x) => x !== id);
      return rest.length === 0 ? undefined : rest;
    });
  }

  async indexList(userId: string): Promise<string[]> {
    const listed = (this.cache.get(`u:${userId}`) as string[] | undefined) ?? [];
    if (this.cache.stats().evictedHigh === 0) return listed;
    // Some index entry was evicted at some point: this one may be incomplete. Scan.
    const ids = new Set(listed);
    for (const [k, v] of this.cache.entries()) {
      if (k.startsWith('s:') && (v as StoredSession).u === userId) ids.add(k.slice(2));
    }
    return [...ids];
  }

  async count(): Promise<number> {
    let n = 0;
    for (const k of this.cache.keys()) if (k.startsWith('s:')) n++;
    return n;
  }

  async list(): Promise<Array<[string, StoredSession]>> {
    const out: Array<[string, StoredSession]> = [];
    for (const [k, v] of this.cache.entries()) if (k.startsWith('s:')) out.push([k.slice(2), v as StoredSession]);
    return out;
  }

  async clear(): Promise<void> {
    this.cache.clear();
  }

  digest(text: string): string {
    return this.cache.digest(text);
  }

  async close(): Promise<void> {
    this.cache.close();
  }
}
