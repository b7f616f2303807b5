import { describe, expect, it } from 'vitest';
import { named, sleep, tally, useClusterSuite } from './harness.js';

const IDLE = 300;
const SWEEP = 100;
const SETUP = { idleTimeout: IDLE, absoluteTimeout: 60_000, sweepInterval: SWEEP };

interface Poll {
  violations: unknown[];
  reads: number;
  returned: number;
  stillPresent: string[];
}

describe('sessions past their idle deadline', () => {
  const suite = useClusterSuite();

  it('are swept and emitted as expired once each, never before their deadline, when nobody reads them', async () => {
    const c = await suite.start(SETUP);
    await c.fork(2);
    const made = await c.script<{ ids: string[]; expiresAt: number[]; errors: unknown[] }>(0, { name: 'createMany', count: 20, padBytes: 10 });
    expect(made.errors).toEqual([]);
    const sids = await c.hashIds(made.ids);

    const evs = await c.waitForEvents('20 expired events', (e) => named(e, 'expired').length >= 20);
    await sleep(4 * SWEEP);
    const expired = named(await c.events(), 'expired');
    expect(expired, 'each session expired once, cluster-wide').toHaveLength(20);
    expect(new Set(expired.map((e) => e.sid))).toEqual(new Set(sids));
    for (const e of expired) expect(e.deadline).toBe('idle');
    // Order, not duration: no session was expired before its idle deadline.
    for (const [i, deadline] of made.expiresAt.entries()) {
      const e = expired.find((x) => x.sid === sids[i]);
      expect(e.at, `session ${i} expired before its idle deadline`).toBeGreaterThanOrEqual(deadline);
    }
    expect(named(evs, 'destroyed')).toEqual([]);
    expect(await c.callOk(1, 'countSessions')).toBe(0);
    expect(await c.whichExist(1, made.ids)).toEqual([]);
  });

  it('are never returned to workers reading them while the sweeper runs, and expire once each', async () => {
    const c = await suite.start(SETUP);
    await c.fork(2);
    const made = await c.script<{ ids: string[]; expiresAt: number[]; errors: unknown[] }>(0, { name: 'createMany', count: 20, padBytes: 10 });
    const sids = await c.hashIds(made.ids);

    // Both workers read every session until it is gone, racing each other and the sweeper. Reads
    // do not extend the idle deadline, so the one createSession reported stays the deadline.
    const polls = await Promise.all(
      [0, 1].map((w) => c.script<Poll>(w, { name: 'pollUntilGone', ids: made.ids, deadlines: made.expiresAt, maxMs: 20_000, pauseMs: 5 })),
    );
    for (const [w, p] of polls.entries()) {
      expect(p.violations, `worker ${w} got a session past its deadline`).toEqual([]);
      expect(p.stillPresent, `worker ${w} still reads sessions whose idle deadline passed`).toEqual([]);
      expect(p.returned, `worker ${w} never saw the sessions alive`).toBeGreaterThan(0);
    }

    await c.waitForEvents('20 expired events', (e) => named(e, 'expired').length >= 20);
    await sleep(4 * SWEEP);
    const expired = named(await c.events(), 'expired');
    const perSid = tally(expired.map((e) => e.sid));
    for (const sid of sids) expect(perSid.get(sid), `expired events for ${sid}`).toBe(1);
    expect(expired).toHaveLength(20);
  });
});
