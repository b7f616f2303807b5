/**
 * The Redis backend under the backend contract, unchanged: on a redis-server of its own (hashed
 * keys, and connect-redis's plain layout) and on a three-master Redis Cluster. Each test gets a
 * prefix of its own on the shared servers. The contract's `expire` hook is the backend's sweep;
 * on plain keys expiry comes from Redis's keyspace notifications (no hook). Evictions need a
 * server at maxmemory: one with 4 MiB and volatile-lru runs the eviction case.
 */
import { rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { openRedisBackend } from '../../src/backends/redis/driver.js';
import { normaliseRedisOptions, type RedisOptions } from '../../src/backends/redis/options.js';
import type { RedisBackend } from '../../src/backends/redis/backend.js';
import { backendContext as context } from './context.js';
import { startRedis, startRedisCluster, type RedisClusterServers, type RedisServer } from '../support/redis.js';
import { testBackend, type BackendUnderTest } from './contract.js';

let n = 0;
async function underTest(where: Pick<RedisOptions, 'url' | 'rootNodes'>, keys: 'hashed' | 'plain', overfill?: number, near = false): Promise<BackendUnderTest> {
  const label = `t${process.pid}-${++n}`;
  const nearCache = near ? { path: path.join(os.tmpdir(), `sessmap-near-${label}.smap`), size: '1m' } : undefined;
  const o = normaliseRedisOptions({ ...where, keys, prefix: `${label}:`, ...(nearCache ? { nearCache } : {}) });
  const backend: RedisBackend = await openRedisBackend(o, context('standalone'));
  const others: RedisBackend[] = [];
  return {
    backend,
    async another() {
      const b = await openRedisBackend(o, context('worker'));
      others.push(b);
      return b;
    },
    ...(keys === 'hashed' ? { expire: async () => void (await backend.sweep()) } : {}),
    ...(overfill !== undefined ? { overfill } : {}),
    async cleanup() {
      const all = [backend, ...others];
      const open = all.find((b) => b.link.up);
      try {
        await open?.clear();
      } catch {
        // closed by the test itself
      }
      for (const b of all) await b.close();
      if (nearCache !== undefined) rmSync(nearCache.path, { force: true });
    },
  };
}

let server: RedisServer;
let small: RedisServer;
let cluster: RedisClusterServers;
beforeAll(async () => {
  [server, small, cluster] = await Promise.all([
    startRedis(),
    startRedis(['--maxmemory', '4mb', '--maxmemory-policy', 'volatile-lru', '--maxmemory-samples', '10']),
    startRedisCluster(3),
  ]);
}, 60_000);
afterAll(async () => {
  await Promise.all([server?.stop(), small?.stop(), cluster?.stop()]);
});

testBackend('Redis', () => underTest({ url: server.url }, 'hashed'));
testBackend('Redis with plain keys', () => underTest({ url: server.url }, 'plain'));
testBackend('Redis at maxmemory', () => underTest({ url: small.url }, 'hashed', 6000));
testBackend('Redis Cluster', () => underTest({ rootNodes: cluster.rootNodes }, 'hashed'));
testBackend('Redis with a near-cache', () => underTest({ url: server.url }, 'hashed', undefined, true));
testBackend('Redis Cluster with a near-cache', () => underTest({ rootNodes: cluster.rootNodes }, 'hashed', undefined, true));
