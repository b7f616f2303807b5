/**
 * The adapter contract (contract.ts), unchanged, with the stores on Redis: on a redis-server of
 * this file's own, on a three-master Redis Cluster, and on each with a near-cache (one file
 * per store label: the stores of one label share it, as the processes of a host do); a key
 * prefix per store label and test.
 */
import { createHash } from 'node:crypto';
import { useRedis, useRedisCluster } from '../support/redis-suite.js';
import { DRIVERS } from './drivers.js';
import { testAdapter, type Place } from './contract.js';

const single = useRedis();
const multi = useRedisCluster();

function redisPlace(name: string, where: () => { url?: string; rootNodes?: string[] }, near = false): (tmp: { path(name?: string): string }) => Place {
  return (tmp) => {
    // The test's tmp directory is its own: one prefix per test and label.
    const prefix = (label: string): string => `c:${createHash('sha1').update(tmp.path(label)).digest('hex').slice(0, 12)}:`;
    return {
      name,
      options: (label) => ({ redis: { ...where(), prefix: prefix(label), ...(near ? { nearCache: { path: tmp.path(`${label}-near.smap`), size: '1m' } } : {}) } }),
      unreachable: () => ({ redis: { url: 'redis://127.0.0.1:1', commandTimeout: 200 } }),
      readyFails: false,
    };
  };
}

for (const driver of DRIVERS) testAdapter(driver, redisPlace('Redis', () => ({ url: single.server.url })));
for (const driver of DRIVERS) testAdapter(driver, redisPlace('Redis Cluster', () => ({ rootNodes: multi.cluster.rootNodes })));
for (const driver of DRIVERS) testAdapter(driver, redisPlace('Redis with a near-cache', () => ({ url: single.server.url }), true));
for (const driver of DRIVERS) testAdapter(driver, redisPlace('Redis Cluster with a near-cache', () => ({ rootNodes: multi.cluster.rootNodes }), true));
