import { describe, expect, it } from 'vitest';
import { SID, sessionId, useClusterSuite } from './harness.js';

/** A record without its idle deadline (compared on its own, with its own message). */
function withoutIdle(r: Record<string, unknown>): Record<string, unknown> {
  const { expiresAt: _, ...rest } = r;
  return rest;
}

describe('sessions shared by cluster workers', () => {
  const suite = useClusterSuite();

  it('reads in every worker and in the primary a session that another worker set', async () => {
    const c = await suite.start({});
    await c.fork(2);
    const id = sessionId('shared');
    const data = { cart: [1, 2, 3], name: 'Ada', nested: { deep: true } };

    const written = await c.callOk(0, 'setSession', id, data);
    expect(written).toMatchObject({ id, data, userId: undefined });
    for (const target of [1, 'primary'] as const) {
      const read = await c.callOk(target, 'getSession', id);
      expect(withoutIdle(read), `getSession in ${target}`).toEqual(withoutIdle(written));
      expect(read.expiresAt, `getSession in ${target} reports another idle deadline than the write did (a read is not a touch)`).toBe(written.expiresAt);
    }

    // A write in the second worker is what the first one reads next.
    const rewritten = await c.callOk(1, 'setSession', id, { cart: [] });
    expect(rewritten.version).not.toBe(written.version);
    expect(rewritten.createdAt, 'setSession keeps createdAt').toBe(written.createdAt);
    expect(rewritten.absoluteExpiresAt, 'setSession keeps the absolute deadline').toBe(written.absoluteExpiresAt);
    for (const target of [0, 'primary'] as const) {
      const read = await c.callOk(target, 'getSession', id);
      expect(withoutIdle(read), `getSession in ${target}`).toEqual(withoutIdle(rewritten));
    }
  });

  it('creates a session with a fresh 32-character id that every worker can read', async () => {
    const c = await suite.start({});
    await c.fork(2);
    const created = await c.callOk(1, 'createSession', { views: 1 });
    expect(created.id).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const read = await c.callOk(0, 'getSession', created.id);
    expect(withoutIdle(read)).toEqual(withoutIdle(created));
    expect(read.expiresAt, 'getSession reports another idle deadline than createSession did (a read is not a touch)').toBe(created.expiresAt);
    const again = await c.callOk(0, 'createSession', { views: 1 });
    expect(again.id).not.toBe(created.id);
    expect(await c.callOk('primary', 'countSessions')).toBe(2);
    expect((await c.callOk(1, 'allSessions')).map((r: { id: string }) => r.id).sort()).toEqual([created.id, again.id].sort());
  });

  it('hashes a session id to the same sid in every process', async () => {
    const c = await suite.start({});
    await c.fork(2);
    const id = sessionId('hash');
    const sids = await Promise.all([c.callOk(0, 'hashId', id), c.callOk(1, 'hashId', id), c.callOk('primary', 'hashId', id)]);
    expect(sids[0]).toMatch(SID);
    expect(new Set(sids).size).toBe(1);
    expect(await c.callOk(0, 'hashId', sessionId('other'))).not.toBe(sids[0]);
  });
});
