import { describe, expect, it } from 'vitest';
import { named, sessionId, sleep, useClusterSuite } from './harness.js';

describe('regenerateSession in a cluster', () => {
  const suite = useClusterSuite();

  it('moves a session to a new id in every worker at once, with the same data and user', async () => {
    const c = await suite.start({});
    await c.fork(3);
    const user = `bob-${sessionId('u')}`;
    const data = { cart: [1, 2], flash: 'hi' };
    const old = await c.callOk(0, 'createSession', data, { userId: user });

    const nu = await c.callOk(1, 'regenerateSession', old.id);
    expect(nu.id).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(nu.id).not.toBe(old.id);
    expect(nu.data).toEqual(data);
    expect(nu.userId).toBe(user);

    // The very next operation anywhere sees the move: the old id is gone, the new one is there.
    for (const target of [0, 2, 'primary', 1] as const) {
      expect(await c.callOk(target, 'getSession', old.id), `old id in ${target}`).toBeUndefined();
      expect((await c.callOk(target, 'getSession', nu.id))?.data, `new id in ${target}`).toEqual(data);
      expect((await c.callOk(target, 'sessionsOf', user)).map((r: { id: string }) => r.id), `sessionsOf in ${target}`).toEqual([nu.id]);
    }
    expect(await c.callOk(2, 'touchSession', old.id)).toBe(false);
    expect(await c.callOk(2, 'updateSession', old.id, { kind: 'merge', patch: { x: 1 } })).toBeUndefined();
    expect(await c.callOk(0, 'getSession', old.id), 'updateSession brought the old id back').toBeUndefined();
    expect(await c.callOk(2, 'regenerateSession', old.id), 'regenerating an absent id').toBeUndefined();
    expect(await c.callOk('primary', 'countSessions')).toBe(1);

    const [oldSid, newSid] = await c.hashIds([old.id, nu.id]);
    await c.waitForEvents('the regenerated event', (e) => named(e, 'regenerated').length > 0);
    await sleep(200);
    const evs = await c.events();
    const regenerated = named(evs, 'regenerated');
    expect(regenerated).toHaveLength(1);
    expect(regenerated[0]).toMatchObject({ sid: newSid, from: oldSid });
    // If the old id's end is reported as destroyed, it says why.
    const oldDestroyed = named(evs, 'destroyed').filter((e) => e.sid === oldSid);
    expect(oldDestroyed.length).toBeLessThanOrEqual(1);
    for (const e of oldDestroyed) expect(e.reason).toBe('regenerated');
  });
});
