/**
 * The near-cache in front of Redis, on two hosts (two processes of their own, each with its own
 * near-cache file and invalidation channel, one redis-server): reads of sessions a host has seen
 * pay no round trip; a change, a destroy or a regenerate on one host is seen on the other (how
 * soon is bench:near-staleness's to measure: here the test only waits for it); and when the
 * invalidation channel is lost (CLIENT KILL, a restarted server, a server stopped with SIGSTOP)
 * a change made meanwhile is seen afterwards, never the old value. The same on a three-master
 * Redis Cluster, where each master reports the changes of its own keys.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Child } from '../support/child.js';
import { useChildCleanup } from '../support/suite.js';
import { eventually, sleep } from '../support/wait.js';
import { useRedis, useRedisCluster } from '../support/redis-suite.js';
import { startRedisCluster, type RedisClusterServers, type RedisServer } from '../support/redis.js';
import { call, startHost } from '../support/hosts.js';
import type { SessionRecord } from '../../src/sessions/types.js';

useChildCleanup();

async function counts(h: Child): Promise<Record<string, number>> {
  const r = await h.request<Record<string, number>>({ op: 'counts' });
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

/**
 * How long the test waits for a change to show on the other host (a wait, not a figure). The
 * copies' maxAge is longer still, so only an invalidation can make a change show in time.
 */
const WAIT_MS = 10_000;

/** Where the hosts' sessions live: the servers a test can signal, and the option that names them. */
interface Setup {
  servers(): RedisServer[];
  redis(): { url: string } | { rootNodes: string[] };
}

/** Kills every near-cache invalidation channel on these servers (the subscribers and the tracking connections). */
function killChannels(servers: RedisServer[]): void {
  for (const server of servers) {
    server.cli('CLIENT', 'KILL', 'TYPE', 'pubsub');
    for (const line of server.cli('CLIENT', 'LIST').split('\n')) {
      const m = /id=(\d+) .*name=sessmap-tracking/.exec(line);
      if (m) server.cli('CLIENT', 'KILL', 'ID', m[1]!);
    }
  }
}

function twoHosts(name: string, setup: Setup, extra: (hosts: () => [Child, Child]) => void): void {
  describe(`two hosts with near-caches in front of ${name}`, () => {
    let a: Child;
    let b: Child;
    beforeEach(async () => {
      const options = { redis: { ...setup.redis(), prefix: `nc${process.pid}-${++prefixes}:`, nearCache: { maxAge: 60_000 } } };
      [a, b] = await Promise.all([startHost(options), startHost(options)]);
    });

    it('serves repeated reads from the near-cache: at least 90% of a read-mostly mix', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 20; i++) ids.push((await call<SessionRecord>(a, 'createSession', { i })).id);
      const before = await counts(b);
      for (let round = 0; round < 20; round++) for (const id of ids) expect((await call<SessionRecord>(b, 'getSession', id)).data).toMatchObject({});
      const after = await counts(b);
      const hits = after.nearHits! - before.nearHits!;
      const misses = after.nearMisses! - before.nearMisses!;
      expect(hits + misses).toBeGreaterThanOrEqual(380);
      expect(hits / (hits + misses), `${hits} hits, ${misses} misses`).toBeGreaterThanOrEqual(0.9);
    });

    it('shows a change, a destroy and a regenerate made on the other host', async () => {
      const s = await call<SessionRecord>(a, 'createSession', { n: 1 });
      expect((await call<SessionRecord>(b, 'getSession', s.id)).data).toEqual({ n: 1 });
      expect((await call<SessionRecord>(b, 'getSession', s.id)).data).toEqual({ n: 1 });
      const hitsBefore = (await counts(b)).nearHits!;
      expect(hitsBefore).toBeGreaterThan(0);

      await call(a, 'setSession', s.id, { n: 2 });
      await eventually('the change seen on b', async () => (await call<SessionRecord>(b, 'getSession', s.id)).data.n === 2, { timeoutMs: WAIT_MS, intervalMs: 5 });

      const moved = await call<SessionRecord>(a, 'regenerateSession', s.id);
      await eventually('the old id gone on b', async () => (await call(b, 'getSession', s.id)) === undefined, { timeoutMs: WAIT_MS, intervalMs: 5 });
      expect((await call<SessionRecord>(b, 'getSession', moved.id)).data).toEqual({ n: 2 });

      await call(a, 'destroySession', moved.id);
      await eventually('the destroyed session gone on b', async () => (await call(b, 'getSession', moved.id)) === undefined, { timeoutMs: WAIT_MS, intervalMs: 5 });
      // And on the host that destroyed it, at once.
      expect(await call(a, 'getSession', moved.id)).toBeUndefined();
    });

    it('never serves a session after the call that destroyed it returned on the same host, though refreshes of its writes are in flight', async () => {
    const r = await a.request<Array<{ created: boolean; gone: boolean }>>({ op: 'destroyLoop', n: 300 });
    if (!r.ok) throw new Error(r.error.message);
    expect(r.value.filter((x) => !x.gone), 'sessions read back after their destroy returned').toEqual([]);
  });

  it('never serves the old value after its invalidation channel was killed (CLIENT KILL) while the session changed', async () => {
      const s = await call<SessionRecord>(a, 'createSession', { n: 1 });
      await call(b, 'getSession', s.id);
      await call(b, 'getSession', s.id);
      expect((await counts(b)).nearHits).toBeGreaterThan(0);
      // Kill every invalidation channel (both hosts'), then change the session at once.
      killChannels(setup.servers());
      await sleep(50);
      await call(a, 'setSession', s.id, { n: 2 });
      for (let i = 0; i < 20; i++) expect((await call<SessionRecord>(b, 'getSession', s.id)).data).toEqual({ n: 2 });
      // The channel comes back, and the near-cache serves again.
      await eventually('b serving from its near-cache again', async () => {
        const h0 = (await counts(b)).nearHits!;
        await call(b, 'getSession', s.id);
        return (await counts(b)).nearHits! > h0;
      }, { timeoutMs: 10_000, intervalMs: 100 });
      expect((await counts(b)).nearFlushes).toBeGreaterThanOrEqual(2);
    });

    it('never serves the old value after Redis was stopped (SIGSTOP) while a change was on its way, and serves again after', async () => {
      const s = await call<SessionRecord>(a, 'createSession', { n: 1 });
      await call(b, 'getSession', s.id);
      await call(b, 'getSession', s.id);
      const flushes = (await counts(b)).nearFlushes!;
      const servers = setup.servers();
      for (const server of servers) server.signal('SIGSTOP');
      try {
        // Sent now, carried out when the server goes on: a (a timeout for a, which cannot know).
        const during = a.request({ op: 'timed', method: 'setSession', args: [s.id, { n: 2 }] });
        // b's probe finds the channel silent, and its near-cache stops serving.
        await eventually('b emptying its near-cache', async () => (await counts(b)).nearFlushes! > flushes, { timeoutMs: 10_000, intervalMs: 50 });
        await during;
      } finally {
        for (const server of servers) server.signal('SIGCONT');
      }
      // The change made during the outage is what Redis holds now; b never serves the old value.
      await eventually('a reading the change made during the outage', async () => {
        const r = await a.request<{ ok: boolean; value?: SessionRecord }>({ op: 'timed', method: 'getSession', args: [s.id] });
        return r.ok && r.value.ok && r.value.value?.data.n === 2;
      }, { timeoutMs: 10_000, intervalMs: 50 });
      for (let i = 0; i < 200; i++) {
        const r = await b.request<{ ok: boolean; value?: SessionRecord }>({ op: 'timed', method: 'getSession', args: [s.id] });
        if (r.ok && r.value.ok) expect(r.value.value?.data).toEqual({ n: 2 });
      }
      await eventually('b serving from its near-cache again', async () => {
        const h0 = (await counts(b)).nearHits!;
        const r = await b.request<{ ok: boolean; value?: SessionRecord }>({ op: 'timed', method: 'getSession', args: [s.id] });
        if (r.ok && r.value.ok) expect(r.value.value?.data).toEqual({ n: 2 });
        return (await counts(b)).nearHits! > h0;
      }, { timeoutMs: 10_000, intervalMs: 100 });
      await call(a, 'setSession', s.id, { n: 3 });
      await eventually('the change after the outage seen on b', async () => (await call<SessionRecord>(b, 'getSession', s.id)).data.n === 3, { timeoutMs: WAIT_MS, intervalMs: 5 });
    });

    extra(() => [a, b]);
  });
}

let prefixes = 0;

describe('on a redis-server', () => {
  const redis = useRedis([], { each: true });
  twoHosts('one redis-server', { servers: () => [redis.server], redis: () => ({ url: redis.server.url }) }, (hosts) => {
    it('never serves the old value after Redis restarted, and serves again once the channel is back', async () => {
      const [a, b] = hosts();
      const s = await call<SessionRecord>(a, 'createSession', { n: 1 });
      await call(b, 'getSession', s.id);
      await redis.server.kill();
      await redis.server.restart();
      // The server lost everything: b must not answer from its copy.
      await eventually('b no longer serving the lost session', async () => {
        const r = await b.request<{ ok: boolean; value?: unknown }>({ op: 'timed', method: 'getSession', args: [s.id] });
        return r.ok && r.value.ok && r.value.value === undefined;
      }, { timeoutMs: 10_000, intervalMs: 50 });
      const t = await eventually('a writing again', async () => {
        const r = await a.request<{ ok: boolean; value?: SessionRecord }>({ op: 'timed', method: 'createSession', args: [{ n: 3 }] });
        return r.ok && r.value.ok && r.value.value;
      }, { timeoutMs: 10_000, intervalMs: 100 });
      expect((await call<SessionRecord>(b, 'getSession', t.id)).data).toEqual({ n: 3 });
      await call(a, 'setSession', t.id, { n: 4 });
      await eventually('the change seen on b', async () => (await call<SessionRecord>(b, 'getSession', t.id)).data.n === 4, { timeoutMs: WAIT_MS, intervalMs: 5 });
    });
  });
});

describe('on a Redis Cluster', () => {
  const multi = useRedisCluster();
  twoHosts('a three-master Redis Cluster', { servers: () => multi.cluster.nodes, redis: () => ({ rootNodes: multi.cluster.rootNodes }) }, () => {});
});

describe('on a Redis Cluster whose master fails over to its replica', () => {
  let replicated: RedisClusterServers;
  beforeAll(async () => {
    replicated = await startRedisCluster(3, 1);
  }, 60_000);
  afterAll(async () => {
    await replicated?.stop();
  });

  it('keeps no copy across the failover, and sees the changes of the promoted replica\'s keys after it', async () => {
    const options = { redis: { rootNodes: replicated.rootNodes, prefix: `ncf${process.pid}:`, nearCache: { maxAge: 60_000 } } };
    const [a, b] = await Promise.all([startHost(options), startHost(options)]);
    // Sessions on every master (their buckets spread over the slots), each read twice on b.
    const ids: string[] = [];
    for (let i = 0; i < 24; i++) ids.push((await call<SessionRecord>(a, 'createSession', { n: 1 })).id);
    for (const id of ids) for (let r = 0; r < 2; r++) await call(b, 'getSession', id);
    const flushes = (await counts(b)).nearFlushes!;

    const victim = replicated.nodes.find((n) => n.cli('ROLE').startsWith('master'))!;
    await victim.kill();
    await eventually('b emptying its near-cache', async () => (await counts(b)).nearFlushes! > flushes, { timeoutMs: 10_000, intervalMs: 50 });
    // Every session changed once the replica took over (a's calls fail meanwhile, with the code).
    for (const id of ids) {
      await eventually(`a changing ${id.slice(0, 4)}... after the failover`, async () => {
        const r = await a.request<{ ok: boolean }>({ op: 'timed', method: 'setSession', args: [id, { n: 2 }] });
        return r.ok && r.value.ok;
      }, { timeoutMs: 30_000, intervalMs: 100 });
    }
    const readAll = async (n: number): Promise<boolean> => {
      for (const id of ids) {
        const r = await b.request<{ ok: boolean; value?: SessionRecord }>({ op: 'timed', method: 'getSession', args: [id] });
        if (!r.ok || !r.value.ok) return false;
        // Never the value from before the change (the copies would serve it for a minute).
        expect(r.value.value?.data.n, 'a value from before the change').toBeGreaterThanOrEqual(n);
        if (r.value.value?.data.n !== n) return false;
      }
      return true;
    };
    await eventually('b reading every change', () => readAll(2), { timeoutMs: WAIT_MS, intervalMs: 50 });
    // b serves from its near-cache again, and hears the masters of the moment, the promoted one too.
    await eventually('b serving from its near-cache again', async () => {
      const h0 = (await counts(b)).nearHits!;
      await readAll(2);
      return (await counts(b)).nearHits! > h0;
    }, { timeoutMs: 10_000, intervalMs: 100 });
    for (const id of ids) await call(a, 'setSession', id, { n: 3 });
    await eventually('b reading every change made after the failover', () => readAll(3), { timeoutMs: WAIT_MS, intervalMs: 50 });
  }, 90_000);
});
