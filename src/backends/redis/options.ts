/**
 * Options of the Redis backend: one option, `redis`, naming the server (a URL), a Redis Cluster
 * (its root nodes) or a client the app made, and how sessmap uses it (the key prefix, the bound
 * on every call, the key layout, the digest secret). Validated once, here.
 *
 * What crosses to cluster workers (through the environment) is the serializable part: url or
 * root nodes, prefix, commandTimeout, keys, and the secret only when the app gave one. A `client`
 * is in-process only: a primary given one hands workers nothing to connect with, and says so.
 */
import { sessmapError } from '../../errors.js';
import { validateEnum, validateTimeout } from '../../util/validate.js';

/**
 * A node-redis client (`createClient()`) or cluster (`createCluster()`) the app made and
 * connects itself (typed loosely here so that apps without `redis` installed type-check).
 * sessmap never closes it; it duplicates it for its subscriptions.
 */
export type RedisClientLike = object;

export interface RedisOptions {
  /** A Redis server: `redis://[[user]:password@]host:port[/db]`, or `rediss://` for TLS. */
  url?: string;
  /** Redis Cluster: the URLs of some of its nodes, such as 'redis://127.0.0.1:7000'. */
  rootNodes?: string[];
  /** A node-redis client or cluster, in this process only (workers need `url` or `rootNodes`). */
  client?: RedisClientLike;
  /** Every key sessmap writes, and its event channel, live under this prefix. @default 'sess:' */
  prefix?: string;
  /** Every call settles within this many ms (plus a small bound); then SESSMAP_ERR_BACKEND_UNAVAILABLE. @default 1000 */
  commandTimeout?: number;
  /**
   * 'hashed': keys and index members hold a keyed one-way hash of the session id, never the id.
   * 'plain': connect-redis's layout, `prefix + id`, for migrating from it (docs/redis.md).
   * @default 'hashed'
   */
  keys?: 'hashed' | 'plain';
  /**
   * The secret of the keyed hash (at least 32 characters). Without it, sessmap creates one in
   * Redis under the prefix, once, and every host reads it there. @default created in Redis
   */
  secret?: string;
  /**
   * A near-cache on this host in front of Redis (docs/redis.md): reads of sessions this host
   * holds pay no round trip, kept coherent by Redis's invalidations (on Redis Cluster, from
   * every master). `true` for the defaults. @default off
   */
  nearCache?: boolean | NearCacheOptions;
}

export interface NearCacheOptions {
  /** The near-cache file's size. @default '16m' */
  size?: number | string;
  /** Its path. @default <defaultCacheDir()>/near-<hash of the Redis address and prefix>.smap */
  path?: string;
  /** A copy is served for at most this many ms after it was made (a safety net). @default 5000 */
  maxAge?: number;
}

export interface RedisBackendOptions {
  /** Sessions in Redis (or Redis Cluster) instead of the mmap file. */
  redis?: RedisOptions;
}

export const DEFAULT_REDIS_OPTIONS = Object.freeze({
  prefix: 'sess:',
  commandTimeout: 1000,
  keys: 'hashed' as 'hashed' | 'plain',
});

export interface NormalisedRedisOptions {
  url: string | undefined;
  rootNodes: string[] | undefined;
  client: RedisClientLike | undefined;
  prefix: string;
  commandTimeout: number;
  keys: 'hashed' | 'plain';
  secret: string | undefined;
  nearCache: { size: number | string; path: string | undefined; maxAge: number } | undefined;
}

function invalid(option: string, message: string): never {
  throw sessmapError('SESSMAP_ERR_INVALID_OPTION', `option "redis.${option}" ${message}`, { option: `redis.${option}` });
}

function checkUrl(option: string, u: unknown): string {
  if (typeof u !== 'string') invalid(option, `must be a redis:// or rediss:// URL; got ${typeof u}`);
  let parsed: URL;
  try {
    parsed = new URL(u);
  } catch {
    invalid(option, 'must be a redis:// or rediss:// URL; got a string that is not a URL');
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') invalid(option, `must be a redis:// or rediss:// URL; got protocol ${parsed.protocol}`);
  return u;
}

export function normaliseRedisOptions(r: unknown): NormalisedRedisOptions {
  if (r === null || typeof r !== 'object' || Array.isArray(r)) {
    throw sessmapError('SESSMAP_ERR_INVALID_OPTION', 'option "redis" must be an object such as { url: "redis://127.0.0.1:6379" }', { option: 'redis' });
  }
  const o = r as RedisOptions;
  const named = (['url', 'rootNodes', 'client'] as const).filter((k) => o[k] !== undefined);
  if (named.length !== 1) {
    throw sessmapError('SESSMAP_ERR_INVALID_OPTION', `option "redis" needs exactly one of url, rootNodes, client; got ${named.length === 0 ? 'none' : named.join(' and ')}`, { option: 'redis' });
  }
  let rootNodes: string[] | undefined;
  if (o.rootNodes !== undefined) {
    if (!Array.isArray(o.rootNodes) || o.rootNodes.length === 0) invalid('rootNodes', 'must be a non-empty array of redis:// URLs');
    rootNodes = o.rootNodes.map((u, i) => checkUrl(`rootNodes[${i}]`, u));
  }
  if (o.client !== undefined && (o.client === null || typeof o.client !== 'object' || typeof (o.client as { duplicate?: unknown }).duplicate !== 'function')) {
    invalid('client', 'must be a node-redis client or cluster (from createClient() or createCluster())');
  }
  const prefix = o.prefix ?? DEFAULT_REDIS_OPTIONS.prefix;
  if (typeof prefix !== 'string' || prefix.length === 0 || prefix.length > 128 || /[\s{}]/.test(prefix)) {
    invalid('prefix', 'must be a string of 1 to 128 characters without spaces or braces (braces would make a hash tag)');
  }
  const secret = o.secret;
  if (secret !== undefined && (typeof secret !== 'string' || secret.length < 32)) invalid('secret', 'must be a string of at least 32 characters');
  return {
    url: o.url === undefined ? undefined : checkUrl('url', o.url),
    rootNodes,
    client: o.client,
    prefix,
    commandTimeout: o.commandTimeout === undefined ? DEFAULT_REDIS_OPTIONS.commandTimeout : validateTimeout('redis.commandTimeout', o.commandTimeout),
    keys: o.keys === undefined ? DEFAULT_REDIS_OPTIONS.keys : validateEnum('redis.keys', o.keys, ['hashed', 'plain']),
    secret,
    nearCache: nearCacheOf(o.nearCache),
  };
}

function nearCacheOf(n: unknown): NormalisedRedisOptions['nearCache'] {
  if (n === undefined || n === false) return undefined;
  if (n !== true && (n === null || typeof n !== 'object' || Array.isArray(n))) invalid('nearCache', 'must be true, false or an object { size?, path?, maxAge? }');
  const o = (n === true ? {} : n) as NearCacheOptions;
  if (o.path !== undefined && (typeof o.path !== 'string' || o.path.length === 0)) invalid('nearCache.path', 'must be a non-empty file path');
  return {
    size: o.size === undefined ? '16m' : o.size,
    path: o.path,
    maxAge: o.maxAge === undefined ? 5000 : validateTimeout('redis.nearCache.maxAge', o.maxAge),
  };
}

/** A URL as a log line may show it: without its password. */
export function safeUrl(u: string): string {
  try {
    const p = new URL(u);
    if (p.password !== '') p.password = '***';
    return p.toString();
  } catch {
    return '(unparsable URL)';
  }
}
