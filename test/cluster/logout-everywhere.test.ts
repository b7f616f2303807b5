import { describe, expect, it } from 'vitest';
import { SID, named, sessionId, sleep, tally, useClusterSuite } from './harness.js';

describe('destroySessionsOf in a cluster', () => {
  const suite = useClusterSuite();

  it('destroys every session of a user in every worker at once and leaves other users alone', async () => {
    const c = await suite.start({});
    await c.fork(3);
    const carol = `carol-${sessionId('u')}`;
    const dave = `dave-${sessionId('u')}`;
    const custom = sessionId('custom');
    const ids = [
      (await c.callOk(0, 'createSession', { n: 1 }, { userId: carol })).id,
      (await c.callOk(0, 'createSession', { n: 2 }, { userId: carol })).id,
      (await c.callOk(1, 'createSession', { n: 3 }, { userId: carol })).id,
      // The default userIdOf: data.userId, else data.passport.user.
      (await c.callOk(2, 'createSession', { userId: carol })).id,
      (await c.callOk(2, 'createSession', { passport: { user: carol } })).id,
      (await c.callOk('primary', 'setSession', custom, { n: 6 }, { userId: carol })).id,
    ];
    const other = await c.callOk(1, 'createSession', { n: 7 }, { userId: dave });
    const listed = (await c.callOk(1, 'sessionsOf', carol)).map((r: { id: string }) => r.id);
    expect(listed.sort()).toEqual([...ids].sort());

    expect(await c.callOk(2, 'destroySessionsOf', carol)).toBe(ids.length);

    for (const target of [0, 1, 2, 'primary'] as const) {
      expect(await c.whichExist(target, ids), `sessions of carol still read in ${target}`).toEqual([]);
      expect(await c.callOk(target, 'sessionsOf', carol), `sessionsOf in ${target}`).toEqual([]);
      expect((await c.callOk(target, 'getSession', other.id))?.data, `dave's session in ${target}`).toEqual({ n: 7 });
      expect((await c.callOk(target, 'sessionsOf', dave)).map((r: { id: string }) => r.id)).toEqual([other.id]);
    }
    expect(await c.callOk(0, 'countSessions')).toBe(1);
    expect(await c.callOk(0, 'destroySessionsOf', carol), 'a second logout finds nothing').toBe(0);

    const sids = await c.hashIds(ids);
    await c.waitForEvents('the destroyed events', (e) => named(e, 'destroyed').length >= ids.length);
    await sleep(200);
    const destroyed = named(await c.events(), 'destroyed');
    expect(destroyed).toHaveLength(ids.length);
    expect(new Set(destroyed.map((e) => e.sid))).toEqual(new Set(sids));
    expect([...tally(destroyed.map((e) => e.sid)).values()].every((n) => n === 1)).toBe(true);
    for (const e of destroyed) expect(e.reason).toBe('logout-everywhere');
    // All carry the same hashed user id, never the raw one.
    expect(new Set(destroyed.map((e) => e.uid)).size).toBe(1);
    expect(destroyed[0].uid).toMatch(SID);
    expect(destroyed[0].uid).not.toBe(carol);
  });
});
