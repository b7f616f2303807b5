/**
 * `sessmap/redis`: the session backend on Redis or Redis Cluster, for apps on several hosts.
 * Chosen by the `redis` option of openSessionStore, setupPrimary and the adapters; the cluster
 * layer loads it, and node-redis (an optional peer), with import() only then.
 */
export { RedisBackend, GRACE_MS } from './backend.js';
export { DEFAULT_REDIS_OPTIONS, type RedisBackendOptions, type RedisClientLike, type RedisOptions } from './options.js';
export { handleOf, isHandle } from './keys.js';
