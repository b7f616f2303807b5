/**
 * The near-cache in front of Redis, on two hosts (two processes of their own, each with its own
 * near-cache file and invalidation channel, one redis-server): reads of sessions a host has seen
 * pay no round trip; a change, a destroy or a regenerate on one host is seen on the other (how
 * soon is bench:near-staleness's to measure: here the test only waits for it); and when the
 * invalidation channel is lost (CLIENT KILL, a restarted server) a change made meanwhile is seen
 * afterwards, never the old value.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { Child } from '../support/child.js';
import { useChildCleanup } from '../support/suite.js';
import { eventually, sleep } from '../support/wait.js';
import { useRedis } from '../support/redis-suite.js';
import { call, startHost } from '../support/hosts.js';
import type { SessionRecord } from '../../src/sessions/types.js';

useChildCleanup();

async function counts(h: Child): Promise<Record<string, number>> {
  const r = await h.request<Record<string, number>>({ op: 'counts' });
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

/** How long the test waits for a change to show on the other host (a wait, not a figure). */
const WAIT_MS = 10_000;

describe('two hosts with near-caches in front of one Redis', () => {
  const redis = useRedis([], { each: true });
  let a: Child;
  let b: Child;
  beforeEach(async () => {
    const options = { redis: { url: redis.server.url, nearCache: true } };
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

  it('never serves the old value after its invalidation channel was killed (CLIENT KILL) while the session changed', async () => {
    const s = await call<SessionRecord>(a, 'createSession', { n: 1 });
    await call(b, 'getSession', s.id);
    await call(b, 'getSession', s.id);
    expect((await counts(b)).nearHits).toBeGreaterThan(0);
    // Kill every invalidation channel (both hosts'), then change the session at once.
    redis.server.cli('CLIENT', 'KILL', 'TYPE', 'pubsub');
    for (const line of redis.server.cli('CLIENT', 'LIST').split('\n')) {
      const m = /id=(\d+) .*name=sessmap-tracking/.exec(line);
      if (m) redis.server.cli('CLIENT', 'KILL', 'ID', m[1]!);
    }
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

  it('never serves the old value after Redis restarted, and serves again once the channel is back', async () => {
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
