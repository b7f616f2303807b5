/**
 * Two hosts on one Redis, as two containers behind a load balancer have them: two processes of
 * their own (no shared file), each with openSessionStore({ redis }). A session made on one is
 * read, updated, regenerated and destroyed from the other; concurrent updates from both lose
 * nothing; "log out everywhere" on one ends the user's sessions made on both; every event
 * reaches each host's stream once, expiry included (how soon after the deadline: bench:redis-expiry).
 * The same cases run on a redis-server and on a three-master Redis Cluster.
 */
import { describe, expect, it } from 'vitest';
import type { Child } from '../support/child.js';
import { describeError, type WireError } from '../support/rpc.js';
import { call, hostEvents as events, startHost } from '../support/hosts.js';
import { useChildCleanup } from '../support/suite.js';
import { eventually, sleep } from '../support/wait.js';
import { useRedis, useRedisCluster } from '../support/redis-suite.js';
import type { RecordedEvent } from '../fixtures/cluster/wire.js';
import type { SessionServiceOptions } from '../../src/cluster/options.js';
import type { SessionRecord } from '../../src/sessions/types.js';

useChildCleanup();

const sidOf = (e: RecordedEvent): string => (e.payload as { sid: string }).sid;

let prefixes = 0;
function cases(name: string, where: () => { url?: string; rootNodes?: string[] }): void {
  describe(`two hosts on ${name}`, () => {
    const start = (over: SessionServiceOptions = {}): Promise<Child[]> => {
      const redis = { ...where(), prefix: `hosts${process.pid}-${++prefixes}:` };
      return Promise.all([startHost({ redis, ...over }), startHost({ redis, ...over })]);
    };

    it('reads, updates, regenerates and destroys from one host a session made on the other; each event reaches each host once', async () => {
      const [a, b] = await start();
      const made = await call<SessionRecord>(a, 'createSession', { n: 1 }, { userId: 'ann' });
      expect((await call<SessionRecord>(b, 'getSession', made.id)).data).toEqual({ n: 1 });
      expect(await call(a, 'hashId', made.id)).toBe(await call(b, 'hashId', made.id));
      expect((await call<SessionRecord>(b, 'updateSession', made.id, { kind: 'merge', patch: { n: 2 } })).data).toEqual({ n: 2 });
      expect((await call<SessionRecord>(a, 'getSession', made.id)).data).toEqual({ n: 2 });
      const moved = await call<SessionRecord>(b, 'regenerateSession', made.id);
      expect(await call(a, 'getSession', made.id)).toBeUndefined();
      expect((await call<SessionRecord>(a, 'getSession', moved.id)).data).toEqual({ n: 2 });
      expect(await call(a, 'destroySession', moved.id)).toBe(true);
      expect(await call(b, 'getSession', moved.id)).toBeUndefined();
      expect(await call(b, 'destroySession', moved.id)).toBe(false);

      const [oldSid, newSid] = [await call<string>(a, 'hashId', made.id), await call<string>(a, 'hashId', moved.id)];
      const expected = ['created', 'updated', 'destroyed', 'regenerated', 'destroyed'];
      for (const h of [a, b]) {
        const seen = await eventually('every event on this host', async () => {
          const mine = (await events(h)).filter((e) => ['created', 'updated', 'destroyed', 'regenerated'].includes(e.name));
          return mine.length >= expected.length && mine;
        });
        await sleep(200);
        const all = (await events(h)).filter((e) => ['created', 'updated', 'destroyed', 'regenerated'].includes(e.name));
        expect(all.map((e) => e.name).sort()).toEqual([...expected].sort());
        expect(seen.filter((e) => e.name === 'created').map(sidOf)).toEqual([oldSid]);
        expect(all.filter((e) => e.name === 'regenerated').map((e) => (e.payload as { from: string }).from)).toEqual([oldSid]);
        expect(all.filter((e) => e.name === 'destroyed').map(sidOf).sort()).toEqual([oldSid, newSid].sort());
        for (const e of all) expect(JSON.stringify(e.payload)).not.toContain(made.id);
      }
    });

    it('ends 2 x 500 concurrent increments from both hosts at exactly 1000', async () => {
      const [a, b] = await start();
      const { id } = await call<SessionRecord>(a, 'createSession', { count: 0 });
      const [ra, rb] = await Promise.all([a.request({ op: 'increments', id, field: 'count', n: 500 }, 120_000), b.request({ op: 'increments', id, field: 'count', n: 500 }, 120_000)]);
      for (const r of [ra, rb]) {
        if (!r.ok) throw new Error(describeError(r.error));
        const failed = (r.value as Array<{ ok: boolean; error?: WireError }>).filter((x) => !x.ok);
        expect(failed.map((f) => describeError(f.error!))).toEqual([]);
      }
      expect((await call<SessionRecord>(b, 'getSession', id)).data).toEqual({ count: 1000 });
      expect((await call<SessionRecord>(a, 'getSession', id)).version).toBe(1001);
    });

    it('logs a user out everywhere from one host: the sessions made on both end, another user\'s stay', async () => {
      const [a, b] = await start();
      const ann = [
        await call<SessionRecord>(a, 'createSession', { i: 1 }, { userId: 'ann' }),
        await call<SessionRecord>(a, 'createSession', { i: 2 }, { userId: 'ann' }),
        await call<SessionRecord>(b, 'createSession', { i: 3 }, { userId: 'ann' }),
        await call<SessionRecord>(b, 'createSession', { i: 4 }, { userId: 'ann' }),
      ];
      const bob = await call<SessionRecord>(b, 'createSession', { i: 5 }, { userId: 'bob' });
      expect((await call<SessionRecord[]>(b, 'sessionsOf', 'ann')).length).toBe(4);
      expect(await call(a, 'destroySessionsOf', 'ann')).toBe(4);
      for (const s of ann) for (const h of [a, b]) expect(await call(h, 'getSession', s.id)).toBeUndefined();
      expect(await call(b, 'sessionsOf', 'ann')).toEqual([]);
      expect((await call<SessionRecord>(a, 'getSession', bob.id)).userId).toBe('bob');
      const reasons = await eventually('4 logout-everywhere events on host b', async () => {
        const d = (await events(b)).filter((e) => e.name === 'destroyed');
        return d.length >= 4 && d;
      });
      expect(reasons.map((e) => (e.payload as { reason: string }).reason)).toEqual(Array(4).fill('logout-everywhere'));
    });

    it('reports expired once on each host, with its user, and never for a destroyed session', async () => {
      const IDLE = 400;
      const SWEEP = 200;
      const [a, b] = await start({ idleTimeout: IDLE, sweepInterval: SWEEP });
      const ending = await call<SessionRecord>(a, 'createSession', { n: 1 }, { userId: 'ann' });
      const destroyed = await call<SessionRecord>(b, 'createSession', { n: 2 });
      await call(a, 'destroySession', destroyed.id);
      const sid = await call<string>(a, 'hashId', ending.id);
      const gone = await call<string>(a, 'hashId', destroyed.id);
      for (const h of [a, b]) {
        const e = await eventually('expired on this host', async () => (await events(h)).find((x) => x.name === 'expired' && sidOf(x) === sid), { timeoutMs: 10_000 });
        expect(e.payload).toMatchObject({ sid, deadline: 'idle', uid: expect.any(String) });
      }
      await sleep(3 * SWEEP);
      for (const h of [a, b]) {
        const all = await events(h);
        expect(all.filter((x) => x.name === 'expired' && sidOf(x) === sid)).toHaveLength(1);
        expect(all.filter((x) => x.name === 'expired' && sidOf(x) === gone)).toEqual([]);
      }
      expect(await call(b, 'sessionsOf', 'ann')).toEqual([]);
    });
  });
}

const single = useRedis();
const multi = useRedisCluster();

cases('a redis-server', () => ({ url: single.server.url }));
cases('a Redis Cluster', () => ({ rootNodes: multi.cluster.rootNodes }));
