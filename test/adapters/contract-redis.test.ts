/**
 * The adapter contract (contract.ts), unchanged, with the stores on Redis: on a redis-server of
 * this file's own and on a three-master Redis Cluster, a key prefix per store label and test.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { startRedis, startRedisCluster, type RedisClusterServers, type RedisServer } from '../support/redis.js';
import { DRIVERS } from './drivers.js';
import { testAdapter, type Place } from './contract.js';

let server: RedisServer;
let cluster: RedisClusterServers;
beforeAll(async () => {
  [server, cluster] = await Promise.all([startRedis(), startRedisCluster(3)]);
}, 60_000);
afterAll(async () => {
  await Promise.all([server?.stop(), cluster?.stop()]);
});

function redisPlace(name: string, where: () => { url?: string; rootNodes?: string[] }): (tmp: { path(name?: string): string }) => Place {
  return (tmp) => {
    // The test's tmp directory is its own: one prefix per test and label.
    const prefix = (label: string): string => `c:${createHash('sha1').update(tmp.path(label)).digest('hex').slice(0, 12)}:`;
    return {
      name,
      options: (label) => ({ redis: { ...where(), prefix: prefix(label) } }),
      unreachable: () => ({ redis: { url: 'redis://127.0.0.1:1', commandTimeout: 200 } }),
      readyFails: false,
    };
  };
}

for (const driver of DRIVERS) testAdapter(driver, redisPlace('Redis', () => ({ url: server.url })));
for (const driver of DRIVERS) testAdapter(driver, redisPlace('Redis Cluster', () => ({ rootNodes: cluster.rootNodes })));
