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
 *
 * The key scheme stays in this file: the cache's removals of `s:` keys come out of the feed
 * (`subscribe`) as session ids. The backend owns what keeps the file honest while it runs: in the
 * primary and in a process on its own, the sweeper and the watch on the file's path.
 */
import fs from 'node:fs';
import { SharedCache, UNCHANGED, type CacheStats, type CreateOptions, type OpenOptions, type RemovalEvent } from '../../core/index.js';
import { PAGES_OFF } from '../../core/layout.js';
import { isSessmapError } from '../../errors.js';
import { KEEP, applyWrite, expiryOf, type BackendChange, type BackendContext, type SessionBackend, type StoredSession, type WriteResult, type WriteSpec } from '../../sessions/backend.js';
import type { SessionEvictionPolicy } from '../../sessions/options.js';
import { watchFilePath } from './file-watch.js';
import { requestedSize, type NormalisedMmapOptions } from './options.js';
import { startSweeper } from './sweeper.js';

type Stored = StoredSession | string[];

const SESSION_PREFIX = 's:';

function cachePolicy(p: SessionEvictionPolicy): 'lru' | 'none' {
  return p === 'none' ? 'none' : 'lru';
}

export class MmapBackend implements SessionBackend {
  readonly cache: SharedCache<Stored>;
  readonly #protect: boolean;
  /** TTL of the per-user index entries: as long as the longest session can live. */
  readonly #indexTtl: number;
  #listener: ((change: BackendChange) => void) | undefined;
  readonly #stopSweeper: () => void;
  readonly #stopWatch: () => void;

  /**
   * Opens the file: a worker attaches to it (mode 'open'); the primary and a process on its own
   * create it or attach to it, and sweep and watch it.
   */
  constructor(o: NormalisedMmapOptions, ctx: BackendContext) {
    const s = ctx.sessions;
    this.#listener = undefined;
    const hooks = {
      onRemove: (e: RemovalEvent) => this.#removed(e),
      onLockRecovered: (e: { page: number; pid: number }) => ctx.emit('lockRecovered', { at: Date.now(), pid: process.pid, page: e.page, deadPid: e.pid }),
      onRepair: (e: { page: number; dropped: number; problems: readonly string[] }) =>
        ctx.emit('repaired', { at: Date.now(), pid: process.pid, page: e.page, dropped: e.dropped, problems: e.problems }),
      lockTimeout: o.lockTimeout,
      clock: s.clock,
      removalValues: true,
    };
    const cache = ctx.role === 'worker' ? SharedCache.open<unknown>(o.path, hooks) : openSized(o, ctx, hooks, cachePolicy(s.evictionPolicy));
    this.cache = cache as SharedCache<Stored>;
    this.#protect = s.evictionPolicy === 'protect-authenticated';
    this.#indexTtl = s.absoluteTimeout > 0 ? s.absoluteTimeout : 0;
    if (ctx.role === 'primary' && o.sizeNote !== undefined) ctx.logger.info({ size: cache.geometry.fileSize }, o.sizeNote);
    const supervising = ctx.role !== 'worker';
    this.#stopSweeper = supervising ? startSweeper(cache, s.sweepInterval, (err) => ctx.emit('error', err as Error)) : () => {};
    // A tmp cleaner or an operator deleting or replacing the file breaks every process started afterwards: say so now.
    this.#stopWatch = supervising ? watchFilePath(cache, s.sweepInterval, ctx.report, ctx.logger, ctx.role === 'primary' ? 'primary' : 'process') : () => {};
  }

  /** A resize of the file this process began at open (ifSizeDiffers 'resize'), until it ends. */
  get resizing(): Promise<unknown> | undefined {
    return resizes.get(this.cache);
  }

  /** The file. */
  get path(): string {
    return this.cache.path;
  }

  stats(): CacheStats {
    return this.cache.stats();
  }

  subscribe(listener: (change: BackendChange) => void): () => void {
    this.#listener = listener;
    return () => {
      if (this.#listener === listener) this.#listener = undefined;
    };
  }

  /** The cache's removals of sessions, as the feed reports them (index entries are not sessions). */
  #removed(e: RemovalEvent): void {
    const l = this.#listener;
    if (l === undefined || !e.key.startsWith(SESSION_PREFIX)) return;
    if (e.reason === 'expired' || e.reason === 'evicted') {
      l({ id: e.key.slice(SESSION_PREFIX.length), reason: e.reason, ttlLeft: e.ttlLeft, expiresAt: e.expiresAt, session: e.value as StoredSession | undefined });
    }
  }

  processExited(pid: number): number {
    return this.cache.closed ? 0 : this.cache.recoverOwnerPid(pid);
  }

  /** Removes the file (its sessions are lost); after close. */
  unlink(): void {
    fs.rmSync(this.cache.path, { force: true });
  }

  async read(id: string): Promise<{ session: StoredSession; expiresAt: number } | undefined> {
    const e = this.cache.getEntry(`${SESSION_PREFIX}${id}`);
    return e === undefined ? undefined : { session: e.value as StoredSession, expiresAt: e.expiresAt };
  }

  async modify(id: string, now: number, fn: (current: StoredSession | undefined) => StoredSession | undefined | typeof KEEP): Promise<{ before: StoredSession | undefined; expiresAt: number }> {
    let seen: StoredSession | undefined;
    const { expiresAt } = this.cache.updateEntry(
      `${SESSION_PREFIX}${id}`,
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

  async write(id: string, now: number, spec: WriteSpec): Promise<WriteResult> {
    let session: StoredSession | undefined;
    const { before, expiresAt } = await this.modify(id, now, (cur) => (session = applyWrite(cur, spec, now)));
    return { before: before === undefined ? undefined : { u: before.u, v: before.v }, session: session!, expiresAt };
  }

  async remove(id: string, now: number): Promise<{ u?: string } | undefined> {
    const { before } = await this.modify(id, now, (cur) => (cur === undefined ? KEEP : undefined));
    return before === undefined ? undefined : { u: before.u };
  }

  sid(id: string): string {
    return this.cache.digest(`sid:${id}`);
  }

  async extend(id: string, expiresAt: number, slack = 0): Promise<boolean> {
    const key = `${SESSION_PREFIX}${id}`;
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
    const dead = new Set(Array.isArray(listed) ? listed.filter((x) => x !== id && !this.cache.has(`${SESSION_PREFIX}${x}`)) : []);
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
      if (k.startsWith(SESSION_PREFIX) && (v as StoredSession).u === userId) ids.add(k.slice(SESSION_PREFIX.length));
    }
    return [...ids];
  }

  async count(): Promise<number> {
    let n = 0;
    for (const k of this.cache.keys()) if (k.startsWith(SESSION_PREFIX)) n++;
    return n;
  }

  async list(): Promise<Array<[string, StoredSession]>> {
    const out: Array<[string, StoredSession]> = [];
    for (const [k, v] of this.cache.entries()) if (k.startsWith(SESSION_PREFIX)) out.push([k.slice(SESSION_PREFIX.length), v as StoredSession]);
    return out;
  }

  async clear(): Promise<void> {
    this.cache.clear();
  }

  digest(text: string): string {
    return this.cache.digest(text);
  }

  async close(): Promise<void> {
    this.#stopSweeper();
    this.#stopWatch();
    this.#listener = undefined;
    if (!this.cache.closed) this.cache.close();
  }
}

/** Resizes begun by openSized, by cache (MmapBackend.resizing). */
const resizes = new WeakMap<SharedCache<unknown>, Promise<unknown>>();

/**
 * The primary's (or a process on its own) file: created with the size asked for, or attached.
 * An existing file whose page count is not the one the size asks for (its other geometry the
 * same) is resized online with `ifSizeDiffers: 'resize'`: attached as it is, and its pages moved
 * in the background while the app starts and serves (workers attach meanwhile, and follow). A
 * resize that cannot be made (a shrink the sessions do not fit, no room on the filesystem) leaves
 * the file as it was, logged. With 'error', the mismatch is SESSMAP_ERR_GEOMETRY_MISMATCH.
 */
function openSized(o: NormalisedMmapOptions, ctx: BackendContext, hooks: OpenOptions, policy: CreateOptions['evictionPolicy']): SharedCache<unknown> {
  const create = (withSize: boolean): SharedCache<unknown> => SharedCache.create<unknown>(o.path, {
    ...hooks,
    ...(withSize && o.size !== undefined ? { size: o.size } : {}),
    ...(withSize && o.pageSize !== undefined ? { pageSize: o.pageSize } : {}),
    evictionPolicy: policy,
    // Sessions share a few shapes: their key lists are kept once, in the file (docs/file-format.md).
    serializer: 'structured',
    ifExists: o.ifExists,
  } satisfies CreateOptions);
  try {
    return create(true);
  } catch (err) {
    if (!isSessmapError(err, 'SESSMAP_ERR_GEOMETRY_MISMATCH') || o.ifSizeDiffers !== 'resize' || o.ifExists !== 'attach') throw err;
    const diffs = (err.details as { differences?: string[] }).differences ?? [];
    const resizable = diffs.every((d) => d.startsWith('pageCount ') || (d.startsWith('pageSize ') && !o.pageSizeGiven));
    if (!resizable) throw err;
  }
  const cache = create(false);
  const size = requestedSize(o);
  const pageSize = cache.geometry.pageSize;
  const want = Math.floor((size - PAGES_OFF) / pageSize);
  // A resize a killed primary left under way is finished (then, if need be, the file resized again).
  const under = cache.stats().resize;
  const pages = under === undefined ? cache.geometry.pageCount : under.toPages;
  if (want === pages && under === undefined) return cache;
  ctx.logger.warn({ path: o.path, fromPages: pages, toPages: want, pageSize }, `the session file has ${pages} pages and the options ask for ${want}: resizing it online (ifSizeDiffers: 'resize'), its sessions kept`);
  const started = Date.now();
  const done = cache.resize({ size }).then(
    (r) => ctx.logger.info({ path: o.path, fromPages: r.from.pageCount, toPages: r.to.pageCount, entries: r.entriesMoved, ms: Date.now() - started }, 'session file resized'),
    (e: unknown) => {
      if (cache.closed) return;
      ctx.logger.warn({ path: o.path, code: (e as { code?: string }).code, err: (e as Error).message }, 'the session file could not be resized: it keeps its size');
    },
  );
  resizes.set(cache, done);
  return cache;
}
