/**
 * The Redis servers of a test file: started once before its tests, stopped after them.
 * `useRedis()` gives a redis-server of the file's own (with `extra` command-line options),
 * `useRedisCluster()` a three-master Redis Cluster; read `.server` / `.cluster` inside tests.
 */
import { afterAll, beforeAll } from 'vitest';
import { startRedis, startRedisCluster, type RedisClusterServers, type RedisServer } from './redis.js';

export function useRedis(extra: readonly string[] = []): { readonly server: RedisServer } {
  let server: RedisServer | undefined;
  beforeAll(async () => {
    server = await startRedis(extra);
  }, 30_000);
  afterAll(async () => {
    await server?.stop();
  });
  return {
    get server(): RedisServer {
      if (server === undefined) throw new Error('useRedis: the server is not started yet (read it inside a test or hook)');
      return server;
    },
  };
}

export function useRedisCluster(masters = 3): { readonly cluster: RedisClusterServers } {
  let cluster: RedisClusterServers | undefined;
  beforeAll(async () => {
    cluster = await startRedisCluster(masters);
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });
  return {
    get cluster(): RedisClusterServers {
      if (cluster === undefined) throw new Error('useRedisCluster: the cluster is not started yet (read it inside a test or hook)');
      return cluster;
    },
  };
}
