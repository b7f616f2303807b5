/**
 * What the primary sets up for each store before the workers start, and tears down after:
 * sessmap's primary on the mmap file or on Redis, nothing for connect-redis (the workers connect
 * to the benchmark's redis-server themselves) or MemoryStore.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setupPrimary as setupSessmapPrimary, type PrimaryHandle } from '../../src/index.js';
import type { RedisServer } from './redis.js';
import { ENV_REDIS_URL, REDIS_KINDS, type StoreKind } from './protocol.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The installed version of a package (or of this checkout, for 'sessmap'). */
export function version(pkg: string): string {
  try {
    const file = pkg === 'sessmap' ? join(ROOT, 'package.json') : join(ROOT, 'node_modules', pkg, 'package.json');
    return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export interface Backend {
  /** Added to the workers' environment. */
  env: Record<string, string>;
  detail: string;
  /** The redis-server the store runs on (its CPU is counted with the store's). */
  redis?: RedisServer;
  /** Called as the measured phase starts, and after it for a note on the backend's own counters. */
  beforeMeasure?: () => void;
  afterRun?: () => Promise<string>;
  stop(): Promise<void>;
}

export interface BackendContext {
  /** The run's temp directory, and what it is on. */
  dir: string;
  dirKind: string;
  /** The benchmark's redis-server, when a store on Redis is run. */
  redis: RedisServer | undefined;
}

/** The session options of both sessmap runs (the rest are defaults): only the backend differs. */
const SESSMAP_DEFAULTS = 'defaults otherwise: idleTimeout 30 min, evictionPolicy protect-authenticated, sweeper every 1 s';

export const usesRedis = (kind: StoreKind): boolean => REDIS_KINDS.includes(kind);

/** Whether this checkout has sessmap's Redis backend (merged from main). */
export const hasRedisBackend = (): boolean => existsSync(join(ROOT, 'src', 'backends', 'redis'));

/** Empties the shared redis-server before a run on it, and says so. */
async function emptyRedis(kind: StoreKind, redis: RedisServer | undefined): Promise<RedisServer> {
  if (!redis) throw new Error(`${kind} needs the benchmark's redis-server, which is not running`);
  const left = await redis.flushAll();
  if (left !== 0) throw new Error(`redis-server still holds ${left} keys after FLUSHALL`);
  return redis;
}

/** After a run on Redis: the store must have written there (a session key at least). */
async function keysNote(redis: RedisServer): Promise<string> {
  const n = await redis.dbSize();
  if (n === 0) throw new Error('redis-server holds no key after the run: the store did not write to Redis');
  return `Keys in redis-server after the run: ${n.toLocaleString('en-US')}.`;
}

export async function startBackend(kind: StoreKind, ctx: BackendContext): Promise<Backend> {
  switch (kind) {
    case 'sessmap': {
      const path = join(ctx.dir, `sessions-${Date.now()}.smap`);
      const handle: PrimaryHandle = setupSessmapPrimary({ path, maxSessions: 10_000, ifExists: 'reinit' });
      let waitsAtStart = 0;
      return {
        env: {},
        detail: `sessmap ${version('sessmap')} (this checkout, from src/) via \`SessmapStore\` (sessmap/express-session); \`setupPrimary({ path, maxSessions: 10_000 })\` in the primary (${SESSMAP_DEFAULTS}), file on ${ctx.dirKind}, workers attach by themselves.`,
        beforeMeasure: () => {
          waitsAtStart = handle.stats().lockWaits;
        },
        afterRun: async () => {
          const waits = handle.stats().lockWaits - waitsAtStart;
          return `Page-lock acquisitions that had to wait in the measured phase: ${waits.toLocaleString('en-US')}.`;
        },
        stop: () => handle.close({ unlink: true }),
      };
    }
    case 'sessmap-redis':
    case 'sessmap-near': {
      if (!hasRedisBackend()) throw new Error('this checkout has no Redis backend (src/backends/redis/ is missing): merge it from main first');
      const redis = await emptyRedis(kind, ctx.redis);
      // The same session options as the sessmap run (the defaults); only the backend differs.
      const near = kind === 'sessmap-near';
      const handle: PrimaryHandle = setupSessmapPrimary({ redis: { url: redis.url, ...(near ? { nearCache: { path: join(ctx.dir, 'near.smap') } } : {}) } });
      try {
        await handle.ready;
      } catch (err) {
        await handle.close().catch(() => {});
        throw err;
      }
      if (handle.backend !== 'redis') throw new Error(`setupPrimary({ redis }) chose the ${handle.backend} backend`);
      return {
        env: {},
        redis,
        detail: `sessmap ${version('sessmap')} (this checkout, from src/) via \`SessmapStore\` (sessmap/express-session), the same workers as the sessmap run; ${near ? "\`setupPrimary({ redis: { url, nearCache: { path } } })\` in the primary (the near-cache file beside the sessmap run's)" : "\`setupPrimary({ redis: { url } })\` in the primary"} (key prefix 'sess:', ${SESSMAP_DEFAULTS}), node-redis ${version('redis')}, on the benchmark's redis-server (FLUSHALL before the run); workers take the Redis choice from the primary through the environment.`,
        afterRun: () => keysNote(redis),
        stop: () => handle.close(),
      };
    }
    case 'connect-redis': {
      const redis = await emptyRedis(kind, ctx.redis);
      return {
        env: { [ENV_REDIS_URL]: redis.url },
        redis,
        detail: `connect-redis ${version('connect-redis')} (\`new RedisStore({ client, prefix: 'sess:' })\`, touch = EXPIRE) with node-redis ${version('redis')} (one client per worker), redis-server ${redis.version} started by the benchmark on 127.0.0.1 (\`--save '' --appendonly no\`; FLUSHALL before the run).`,
        afterRun: () => keysNote(redis),
        stop: async () => {},
      };
    }
    case 'memory':
      return {
        env: {},
        detail:
          "express-session's default `MemoryStore`, one per worker (nothing shared). The same login is made on each worker with the same session id, so the cookie is valid on both; each worker then keeps its own copy (its own counter). The ceiling for any store: no IPC, no syscalls, no shared memory.",
        stop: async () => {},
      };
  }
}
