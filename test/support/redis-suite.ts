/**
 * The Redis servers of a test file: `useRedis()` a redis-server (with `extra` command-line
 * options), `useRedisCluster()` a three-master Redis Cluster; started before the file's tests and
 * stopped after them, or, with `{ each: true }`, a fresh one for every test (tests that kill or
 * stop their server). Read `.server` / `.cluster` inside tests and hooks.
 */
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { startRedis, startRedisCluster, type RedisClusterServers, type RedisServer } from './redis.js';

/** Registers the hooks that start and stop one thing; its getter fails outside a test. */
function useStarted<T extends { stop(): Promise<void> }>(what: string, start: () => Promise<T>, each: boolean, timeout: number): () => T {
  let current: T | undefined;
  (each ? beforeEach : beforeAll)(async () => {
    current = await start();
  }, timeout);
  (each ? afterEach : afterAll)(async () => {
    await current?.stop();
    current = undefined;
  });
  return () => {
    if (current === undefined) throw new Error(`${what} is not started (read it inside a test or hook)`);
    return current;
  };
}

export function useRedis(extra: readonly string[] = [], options: { each?: boolean } = {}): { readonly server: RedisServer } {
  const get = useStarted('the redis-server', () => startRedis(extra), options.each === true, 30_000);
  return {
    get server(): RedisServer {
      return get();
    },
  };
}

export function useRedisCluster(masters = 3): { readonly cluster: RedisClusterServers } {
  const get = useStarted('the Redis Cluster', () => startRedisCluster(masters), false, 60_000);
  return {
    get cluster(): RedisClusterServers {
      return get();
    },
  };
}
