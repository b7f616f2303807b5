/**
 * The Redis backend as the composition sees it (a {@link BackendDriver}): its option read from
 * the flat options, node-redis loaded and the link opened (asynchronously), and what a cluster
 * worker needs to reach the same Redis through the environment: the URL or root nodes, the
 * prefix, the key layout, the timeout, and the secret when the app gave one (otherwise each
 * process reads it from Redis). A `client` is in-process only.
 *
 * Opening waits for Redis at most twice commandTimeout (connect, then the secret): when it cannot be reached, the
 * backend opens anyway, its calls fail with SESSMAP_ERR_BACKEND_UNAVAILABLE, and it keeps
 * trying in the background; the store works as soon as Redis answers.
 */
import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';
import { SharedCache, defaultCacheDir } from '../../core/index.js';
import { sessmapError } from '../../errors.js';
import type { BackendContext, BackendDriver, ClusterWideOption, WorkerConfigValue } from '../../sessions/backend.js';
import { RedisBackend } from './backend.js';
import { RedisLink, loadRedis } from './connection.js';
import { KeyScheme } from './keys.js';
import { normaliseRedisOptions, safeUrl, type NormalisedRedisOptions, type RedisOptions } from './options.js';
import { NearCache } from './near-cache.js';
import { newHostId } from './relay.js';
import { InvalidationChannel } from './tracking.js';

const RETRY_MS = 500;

/**
 * The digest secret: the option's, or the one in Redis, put there by the first host (`mine`: the
 * one this host has, put back after the server lost it; else a new random one).
 */
async function loadSecret(link: RedisLink, o: NormalisedRedisOptions, mine?: string): Promise<string> {
  if (o.secret !== undefined) return o.secret;
  const key = KeyScheme.secretKeyOf(o.prefix);
  await link.send(key, ['SET', key, mine ?? randomBytes(32).toString('hex'), 'NX']);
  const s = await link.send(key, ['GET', key]);
  if (typeof s !== 'string' || s.length < 32) {
    throw sessmapError('SESSMAP_ERR_INVALID_OPTION', `the digest secret in Redis (${key}) is not one sessmap wrote: delete the key, or give redis.secret`, { option: 'redis.secret' });
  }
  return s;
}

/** Reads the secret, again and again while Redis cannot be reached, until it is had or the link closes. */
async function keysOf(link: RedisLink, o: NormalisedRedisOptions, closed: () => boolean): Promise<KeyScheme> {
  for (;;) {
    try {
      return new KeyScheme(o.prefix, o.keys === 'plain', await loadSecret(link, o));
    } catch (err) {
      if ((err as { code?: string }).code !== 'SESSMAP_ERR_BACKEND_UNAVAILABLE' || closed()) throw err;
      await new Promise((r) => setTimeout(r, RETRY_MS).unref());
    }
  }
}

/** Where a near-cache file lives by default: one per host and Redis (a process on its own: one per process). */
function nearPath(o: NormalisedRedisOptions, role: BackendContext['role']): string {
  const where = createHash('sha256').update(`${o.url ?? o.rootNodes?.join(',') ?? 'client'}|${o.prefix}`).digest('hex').slice(0, 12);
  return path.join(defaultCacheDir(), role === 'standalone' ? `near-${where}-${process.pid}.smap` : `near-${where}.smap`);
}

/**
 * The near-cache file of the primary or a process on its own: attached to when it is there (the
 * processes of a host that name one path share it; its channel empties it before it serves),
 * made afresh when it is not, or is of another size or format (its copies are disposable).
 */
function makeNearFile(file: string, size: number | string): SharedCache<unknown> {
  try {
    return SharedCache.create<unknown>(file, { size, serializer: 'structured', ifExists: 'attach' });
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code !== 'SESSMAP_ERR_GEOMETRY_MISMATCH' && code !== 'SESSMAP_ERR_FILE_VERSION' && code !== 'SESSMAP_ERR_FILE_CORRUPT') throw err;
    return SharedCache.create<unknown>(file, { size, serializer: 'structured', ifExists: 'reinit' });
  }
}

/**
 * Opens the near-cache file (the primary and a process on its own make it or attach to it, see
 * makeNearFile; a worker attaches to its primary's) and, where the host's invalidation channel
 * is kept, the channel; the backend serves from the file once the channel is up.
 */
async function openNearCache(link: RedisLink, backend: RedisBackend, o: NormalisedRedisOptions, ctx: BackendContext, made: SharedCache<unknown> | undefined): Promise<void> {
  const n = o.nearCache!;
  const file = n.path ?? nearPath(o, ctx.role);
  let cache = made;
  // A worker attaches to its primary's file, which the primary made before it forked anyone.
  for (let attempt = 0; cache === undefined; attempt++) {
    try {
      cache = SharedCache.open<unknown>(file);
    } catch (err) {
      if ((err as { code?: string }).code !== 'SESSMAP_ERR_FILE_NOT_FOUND' || attempt >= 50) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const near = new NearCache(cache, n.maxAge, o.commandTimeout * 2 + 1000);
  const current = (token: string) => backend.readFresh(backend.keys.handleOf(token));
  const channel = ctx.role === 'worker' ? undefined : new InvalidationChannel({ nodes: () => link.trackingNodes(), names: () => link.masterNames() }, backend.keys, near, o.commandTimeout, ctx.logger, current);
  await backend.useNearCache(near, channel, ctx.role === 'standalone' && n.path === undefined ? file : undefined);
}

export async function openRedisBackend(o: NormalisedRedisOptions, ctx: BackendContext): Promise<RedisBackend> {
  // The near-cache file first, in this call's synchronous part: setupPrimary has made it before
  // it returns, so the workers the app forks next find it.
  const nearFile = o.nearCache !== undefined && ctx.role !== 'worker' ? makeNearFile(o.nearCache.path ?? nearPath(o, ctx.role), o.nearCache.size) : undefined;
  let mod: Awaited<ReturnType<typeof loadRedis>>;
  try {
    mod = await loadRedis();
  } catch (err) {
    nearFile?.close();
    throw err;
  }
  const link = new RedisLink(mod, o);
  const where = o.url !== undefined ? { url: safeUrl(o.url) } : o.rootNodes !== undefined ? { rootNodes: o.rootNodes.map(safeUrl) } : { client: 'the app\'s' };
  // Said once per outage, and once at its end, by the process that supervises (workers: their store's events).
  let downAt = 0;
  link.onStatus((up, cause) => {
    if (!up) {
      downAt = Date.now();
      ctx.emitHere('backendUnavailable', { at: downAt, pid: process.pid, backend: 'redis', reason: cause?.message ?? 'unknown' });
    } else {
      ctx.emitHere('backendAvailable', { at: Date.now(), pid: process.pid, backend: 'redis', downMs: downAt === 0 ? 0 : Date.now() - downAt });
    }
  });
  let closed = false;
  const connected = link.start(o.commandTimeout);
  const keys = connected.then(() => keysOf(link, o, () => closed));
  const backend = new RedisBackend(link, keys, o, ctx, newHostId());
  // A server that restarted without its data lost the secret (and the keyspace settings): the
  // first host back puts its own back, so every host goes on hashing ids the same way.
  link.onStatus((up) => {
    if (up && !closed) void backend.reconnected(loadSecret).catch(() => {});
  });
  const close = backend.close.bind(backend);
  backend.close = async () => {
    closed = true;
    await close();
  };
  const started = backend.start().then(() => (o.nearCache === undefined ? undefined : openNearCache(link, backend, o, ctx, nearFile)));
  started.catch((err: unknown) => {
    if (!closed) ctx.report(err as Error, { backend: 'redis', ...where });
  });
  // Ready when the secret is known and this host hears the others (its subscriptions are made),
  // or, when Redis does not answer, after twice commandTimeout: the backend goes on trying, and
  // its calls fail with SESSMAP_ERR_BACKEND_UNAVAILABLE meanwhile. A host that opened before it
  // heard the others would miss their first events and Redis's first keyspace notifications.
  const within = async (p: Promise<unknown>, ms: number): Promise<boolean> => {
    let timer: NodeJS.Timeout | undefined;
    const done = await Promise.race([p.then(() => true, () => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)))]);
    clearTimeout(timer);
    return done;
  };
  // Redis answered: the subscriptions follow at once (on a busy machine, give them the time).
  if (await within(keys, o.commandTimeout * 2)) await within(started, Math.max(5000, o.commandTimeout * 5));
  return backend;
}

/** The options of this backend that hold for the whole cluster. */
const CLUSTER_WIDE = ['url', 'rootNodes', 'prefix', 'keys'] as const;

export const redisDriver: BackendDriver<RedisBackend, NormalisedRedisOptions> = Object.freeze({
  name: 'redis',

  normalise(o: Readonly<Record<string, unknown>>): NormalisedRedisOptions {
    return normaliseRedisOptions(o.redis);
  },

  open(options: NormalisedRedisOptions, ctx: BackendContext): Promise<RedisBackend> {
    return openRedisBackend(options, ctx);
  },

  workerConfig(o: NormalisedRedisOptions): Record<string, WorkerConfigValue> {
    return {
      url: o.url ?? null,
      rootNodes: o.rootNodes === undefined ? null : JSON.stringify(o.rootNodes),
      prefix: o.prefix,
      keys: o.keys,
      commandTimeout: o.commandTimeout,
      secret: o.secret ?? null,
      nearPath: o.nearCache === undefined ? null : (o.nearCache.path ?? nearPath(o, 'primary')),
      nearMaxAge: o.nearCache?.maxAge ?? null,
    };
  },

  clusterWide(given: Readonly<Record<string, unknown>>): ClusterWideOption[] {
    const r = given.redis as RedisOptions | undefined;
    if (r === undefined || r === null || typeof r !== 'object') return [];
    const out: ClusterWideOption[] = [];
    for (const k of CLUSTER_WIDE) {
      if (r[k] === undefined) continue;
      out.push({ option: `redis.${k}`, key: k, value: k === 'rootNodes' ? JSON.stringify(r.rootNodes) : r[k] });
    }
    return out;
  },

  workerOptions(config: Readonly<Record<string, WorkerConfigValue>>, given: Readonly<Record<string, unknown>>): NormalisedRedisOptions {
    const own = (given.redis ?? {}) as RedisOptions;
    const fromPrimary: RedisOptions = {
      prefix: config.prefix as string | undefined,
      keys: config.keys as 'hashed' | 'plain' | undefined,
      commandTimeout: config.commandTimeout as number | undefined,
      ...(typeof config.secret === 'string' ? { secret: config.secret } : {}),
      ...(typeof config.nearPath === 'string' ? { nearCache: { path: config.nearPath, maxAge: config.nearMaxAge as number } } : {}),
    };
    if (own.client !== undefined) return normaliseRedisOptions({ ...fromPrimary, ...own });
    if (typeof config.url === 'string') return normaliseRedisOptions({ ...fromPrimary, ...own, url: config.url });
    if (typeof config.rootNodes === 'string') return normaliseRedisOptions({ ...fromPrimary, ...own, rootNodes: JSON.parse(config.rootNodes) as string[] });
    if (own.url !== undefined || own.rootNodes !== undefined) return normaliseRedisOptions({ ...fromPrimary, ...own });
    throw sessmapError(
      'SESSMAP_ERR_NO_PRIMARY',
      'the cluster primary uses a Redis client of its own (redis.client), which cannot cross to a worker: give the primary redis.url or redis.rootNodes, or give each worker redis.client',
      { option: 'redis.client' },
    );
  },

  describe(o: NormalisedRedisOptions): Record<string, unknown> {
    return {
      backend: 'redis',
      ...(o.url !== undefined ? { url: safeUrl(o.url) } : {}),
      ...(o.rootNodes !== undefined ? { rootNodes: o.rootNodes.map(safeUrl) } : {}),
      ...(o.client !== undefined ? { client: 'given' } : {}),
      prefix: o.prefix,
      keys: o.keys,
      commandTimeout: o.commandTimeout,
      ...(o.nearCache !== undefined ? { nearCache: { path: o.nearCache.path ?? 'default', size: o.nearCache.size, maxAge: o.nearCache.maxAge } } : {}),
    };
  },
});
