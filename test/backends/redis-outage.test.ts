/**
 * Redis killed (kill -9) and restarted, and hung (SIGSTOP, then SIGCONT), under a host's traffic:
 * while it is down every call fails fast with SESSMAP_ERR_BACKEND_UNAVAILABLE, none takes longer
 * than commandTimeout plus a small bound, the store says once that Redis is gone and once that it
 * is back, and calls work again within seconds of its return, without restarting anything. A
 * server that lost its data on the way gets the digest secret back from the hosts still running.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Child } from '../support/child.js';
import { useChildCleanup } from '../support/suite.js';
import { eventually, sleep } from '../support/wait.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import type { SessionRecord } from '../../src/sessions/types.js';
import { call, hostEvents, startHost } from '../support/hosts.js';

useChildCleanup();

const TIMEOUT = 300;
/** The bound a call is held to here: commandTimeout + 50 ms is the design; the rest is a generous margin for a loaded machine's scheduling (the test proves there is a bound, not its size). */
const BOUND = TIMEOUT + 500;

interface Call {
  ok: boolean;
  code?: string;
  ms: number;
  at: number;
}

const events = hostEvents;

describe('a host while Redis goes away and comes back', () => {
  let server: RedisServer;
  beforeEach(async () => {
    server = await startRedis();
  });
  afterEach(async () => {
    await server.stop();
  });

  /** Runs `ms` of reads on `host` while `fault` runs; the reads' outcomes. */
  async function underLoad(host: Child, ids: string[], ms: number, fault: () => Promise<void>): Promise<Call[]> {
    const load = host.request<Call[]>({ op: 'load', ids, ms }, ms + 30_000);
    await fault();
    const r = await load;
    if (!r.ok) throw new Error(r.error.message);
    return r.value;
  }

  function check(calls: Call[], outage: { from: number; to: number }): void {
    const slow = calls.filter((c) => c.ms > BOUND);
    expect(slow, `calls slower than ${BOUND} ms`).toEqual([]);
    const failed = calls.filter((c) => !c.ok);
    expect(failed.length, 'no call failed while Redis was down').toBeGreaterThan(0);
    expect([...new Set(failed.map((c) => c.code))]).toEqual(['SESSMAP_ERR_BACKEND_UNAVAILABLE']);
    expect(failed.every((c) => c.at >= outage.from - BOUND), 'a call failed before the outage').toBe(true);
    // Working again, on its own, within seconds of Redis being back.
    const lastFailure = Math.max(...failed.map((c) => c.at));
    expect(lastFailure - outage.to, 'calls still failing 3 s after Redis came back').toBeLessThan(3000);
    expect(calls.filter((c) => c.at > lastFailure).length).toBeGreaterThan(0);
  }

  it('fails fast while redis-server is killed with -9, and works again once it is restarted', async () => {
    const host = await startHost({ redis: { url: server.url, commandTimeout: TIMEOUT } });
    const before = await call<SessionRecord>(host, 'createSession', { n: 1 });
    const sid = await call<string>(host, 'hashId', before.id);
    const outage = { from: 0, to: 0 };
    const calls = await underLoad(host, [before.id], 6000, async () => {
      await sleep(1000);
      outage.from = Date.now();
      await server.kill();
      await sleep(1500);
      await server.restart();
      outage.to = Date.now();
    });
    check(calls, outage);
    await eventually('backendAvailable', async () => (await events(host, 'backendAvailable')).length > 0);
    expect(await events(host, 'backendUnavailable')).toHaveLength(1);
    expect(await events(host, 'backendAvailable')).toHaveLength(1);
    // The server lost everything; the host put its secret back: a host started now hashes as it does.
    const after = await call<SessionRecord>(host, 'createSession', { n: 2 });
    expect((await call<SessionRecord>(host, 'getSession', after.id)).data).toEqual({ n: 2 });
    const late = await startHost({ redis: { url: server.url, commandTimeout: TIMEOUT } });
    expect(await call(late, 'hashId', before.id)).toBe(sid);
    expect((await call<SessionRecord>(late, 'getSession', after.id)).data).toEqual({ n: 2 });
  });

  it('fails within the bound while redis-server is stopped (SIGSTOP), and works again after SIGCONT', async () => {
    const host = await startHost({ redis: { url: server.url, commandTimeout: TIMEOUT } });
    const s = await call<SessionRecord>(host, 'createSession', { n: 1 });
    const outage = { from: 0, to: 0 };
    const calls = await underLoad(host, [s.id], 6000, async () => {
      await sleep(1000);
      outage.from = Date.now();
      server.signal('SIGSTOP');
      await sleep(1500);
      server.signal('SIGCONT');
      outage.to = Date.now();
    });
    check(calls, outage);
    // Nothing was lost: the server was only stopped.
    expect((await call<SessionRecord>(host, 'getSession', s.id)).data).toEqual({ n: 1 });
    const t = Date.now();
    const r = await host.request<{ ok: boolean; ms: number }>({ op: 'timed', method: 'setSession', args: [s.id, { n: 2 }] });
    expect(r.ok && r.value.ok, 'a write after SIGCONT').toBe(true);
    expect(Date.now() - t).toBeLessThan(5000);
    expect(await events(host, 'backendUnavailable')).toHaveLength(1);
    expect(await events(host, 'backendAvailable')).toHaveLength(1);
  });

  it('opens while Redis cannot be reached: calls fail with the code, and work once Redis is there', async () => {
    await server.kill();
    const host = await startHost({ redis: { url: server.url, commandTimeout: TIMEOUT } });
    const r = await host.request<{ ok: boolean; error?: { code?: string }; ms: number }>({ op: 'timed', method: 'createSession', args: [{ n: 1 }] });
    expect(r.ok && r.value.ok).toBe(false);
    expect(r.ok && r.value.error?.code).toBe('SESSMAP_ERR_BACKEND_UNAVAILABLE');
    expect(r.ok && r.value.ms).toBeLessThanOrEqual(BOUND * 2);
    await server.restart();
    const made = await eventually('a session made once Redis is back', async () => {
      const x = await host.request<{ ok: boolean; value?: SessionRecord }>({ op: 'timed', method: 'createSession', args: [{ n: 1 }] });
      return x.ok && x.value.ok && x.value.value;
    });
    expect((await call<SessionRecord>(host, 'getSession', made.id)).data).toEqual({ n: 1 });
  });
});
