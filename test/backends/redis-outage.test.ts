/**
 * Redis killed (kill -9) and restarted, and hung (SIGSTOP, then SIGCONT), under a host's traffic:
 * while it is down every call settles (none hangs: the host's loop of calls returns) and those
 * that fail fail with SESSMAP_ERR_BACKEND_UNAVAILABLE, the store says once that Redis is gone and
 * once that it is back, and calls work again after its return, without restarting anything. A
 * server that lost its data on the way gets the digest secret back from the hosts still running.
 * How long calls take and how soon they work again: bench:redis-outage.
 */
import { describe, expect, it } from 'vitest';
import type { Child } from '../support/child.js';
import { useChildCleanup } from '../support/suite.js';
import { eventually, sleep } from '../support/wait.js';
import { useRedis } from '../support/redis-suite.js';
import type { SessionRecord } from '../../src/sessions/types.js';
import { call, hostEvents, startHost } from '../support/hosts.js';

useChildCleanup();

const TIMEOUT = 300;

interface Call {
  ok: boolean;
  code?: string;
  ms: number;
  at: number;
}

const events = hostEvents;

describe('a host while Redis goes away and comes back', () => {
  const redis = useRedis([], { each: true });

  /** Runs `ms` of reads on `host` while `fault` runs; the reads' outcomes. */
  async function underLoad(host: Child, ids: string[], ms: number, fault: () => Promise<void>): Promise<Call[]> {
    const load = host.request<Call[]>({ op: 'load', ids, ms }, ms + 30_000);
    await fault();
    const r = await load;
    if (!r.ok) throw new Error(r.error.message);
    return r.value;
  }

  /** The loop of calls returned (none hung); those that failed did so with the code, and calls worked again after. */
  function check(calls: Call[], outage: { from: number; to: number }): void {
    const failed = calls.filter((c) => !c.ok);
    expect(failed.length, 'no call failed while Redis was down').toBeGreaterThan(0);
    expect([...new Set(failed.map((c) => c.code))]).toEqual(['SESSMAP_ERR_BACKEND_UNAVAILABLE']);
    expect(calls.filter((c) => c.ok && c.at < outage.from).length, 'no call worked before the outage').toBeGreaterThan(0);
    const lastFailure = Math.max(...failed.map((c) => c.at));
    expect(calls.filter((c) => c.ok && c.at > lastFailure).length, 'no call worked after Redis came back').toBeGreaterThan(0);
  }

  it('fails with the code while redis-server is killed with -9, and works again once it is restarted', async () => {
    const host = await startHost({ redis: { url: redis.server.url, commandTimeout: TIMEOUT } });
    const before = await call<SessionRecord>(host, 'createSession', { n: 1 });
    const sid = await call<string>(host, 'hashId', before.id);
    const outage = { from: 0, to: 0 };
    const calls = await underLoad(host, [before.id], 6000, async () => {
      await sleep(1000);
      outage.from = Date.now();
      await redis.server.kill();
      await sleep(1500);
      await redis.server.restart();
      outage.to = Date.now();
    });
    check(calls, outage);
    await eventually('backendAvailable', async () => (await events(host, 'backendAvailable')).length > 0);
    expect(await events(host, 'backendUnavailable')).toHaveLength(1);
    expect(await events(host, 'backendAvailable')).toHaveLength(1);
    // The server lost everything; the host put its secret back: a host started now hashes as it does.
    const after = await call<SessionRecord>(host, 'createSession', { n: 2 });
    expect((await call<SessionRecord>(host, 'getSession', after.id)).data).toEqual({ n: 2 });
    const late = await startHost({ redis: { url: redis.server.url, commandTimeout: TIMEOUT } });
    expect(await call(late, 'hashId', before.id)).toBe(sid);
    expect((await call<SessionRecord>(late, 'getSession', after.id)).data).toEqual({ n: 2 });
  });

  it('fails with the code while redis-server is stopped (SIGSTOP), and works again after SIGCONT', async () => {
    const host = await startHost({ redis: { url: redis.server.url, commandTimeout: TIMEOUT } });
    const s = await call<SessionRecord>(host, 'createSession', { n: 1 });
    const outage = { from: 0, to: 0 };
    const calls = await underLoad(host, [s.id], 6000, async () => {
      await sleep(1000);
      outage.from = Date.now();
      redis.server.signal('SIGSTOP');
      await sleep(1500);
      redis.server.signal('SIGCONT');
      outage.to = Date.now();
    });
    check(calls, outage);
    // Nothing was lost: the server was only stopped.
    expect((await call<SessionRecord>(host, 'getSession', s.id)).data).toEqual({ n: 1 });
    const r = await host.request<{ ok: boolean; ms: number }>({ op: 'timed', method: 'setSession', args: [s.id, { n: 2 }] });
    expect(r.ok && r.value.ok, 'a write after SIGCONT').toBe(true);
    expect(await events(host, 'backendUnavailable')).toHaveLength(1);
    expect(await events(host, 'backendAvailable')).toHaveLength(1);
  });

  it('opens while Redis cannot be reached: calls fail with the code, and work once Redis is there', async () => {
    await redis.server.kill();
    const host = await startHost({ redis: { url: redis.server.url, commandTimeout: TIMEOUT } });
    const r = await host.request<{ ok: boolean; error?: { code?: string }; ms: number }>({ op: 'timed', method: 'createSession', args: [{ n: 1 }] });
    expect(r.ok && r.value.ok).toBe(false);
    expect(r.ok && r.value.error?.code).toBe('SESSMAP_ERR_BACKEND_UNAVAILABLE');
    await redis.server.restart();
    const made = await eventually('a session made once Redis is back', async () => {
      const x = await host.request<{ ok: boolean; value?: SessionRecord }>({ op: 'timed', method: 'createSession', args: [{ n: 1 }] });
      return x.ok && x.value.ok && x.value.value;
    });
    expect((await call<SessionRecord>(host, 'getSession', made.id)).data).toEqual({ n: 1 });
  });
});
