import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/errors.js';
import { named, sessionId, useClusterSuite, type WireError } from './harness.js';

const BAD_IDS = ['', 'a'.repeat(513), 'é'.repeat(257), 'line\nbreak', 'nul\u0000byte', 'lone\ud800surrogate'];

describe('errors in a cluster', () => {
  const suite = useClusterSuite();

  it.each(['json', 'advanced'] as const)(
    'cross the %s cluster channel as { code, message, name } and are rebuilt by code in the primary',
    async (serialization) => {
      const c = await suite.start({}, { serialization });
      await c.fork(1);
      const r = await c.ok<{ received: Record<string, unknown>; rebuilt: WireError }>({
        cmd: 'errorJson',
        target: 0,
        method: 'getSession',
        args: ['not\na valid id'],
      });
      expect(r.received).toMatchObject({ code: 'SESSMAP_ERR_INVALID_SESSION_ID', name: 'SessmapError' });
      expect(typeof r.received.message).toBe('string');
      expect(r.rebuilt).toMatchObject({
        isSessmapError: true,
        code: 'SESSMAP_ERR_INVALID_SESSION_ID',
        name: 'SessmapError',
        message: r.received.message,
      });
    },
  );

  it('reject a malformed session id in every method with SESSMAP_ERR_INVALID_SESSION_ID, touching nothing', async () => {
    const c = await suite.start({});
    await c.fork(1);
    const calls: Array<[string, unknown[]]> = [
      ['getSession', []],
      ['setSession', [{ a: 1 }]],
      ['touchSession', []],
      ['destroySession', []],
      ['updateSession', [{ kind: 'merge', patch: { a: 1 } }]],
      ['regenerateSession', []],
    ];
    for (const bad of BAD_IDS) {
      for (const [method, rest] of calls) {
        const r = await c.call(0, method, bad, ...rest);
        expect(r.ok, `${method}(${JSON.stringify(bad)}) succeeded`).toBe(false);
        if (!r.ok) {
          expect(r.error, `${method}(${JSON.stringify(bad)})`).toMatchObject({ isSessmapError: true, code: 'SESSMAP_ERR_INVALID_SESSION_ID' });
          expect(r.error.message.length).toBeGreaterThan(0);
        }
      }
    }
    // One byte and the longest id are fine.
    for (const good of ['A', 'z:-9'.repeat(128)]) expect((await c.call(0, 'getSession', good)).ok).toBe(true);
    expect(await c.callOk(0, 'countSessions')).toBe(0);
    expect(named(await c.events(), 'created')).toEqual([]);
  });

  it('reject a write whose ifVersion another worker made stale with SESSMAP_ERR_VERSION_CONFLICT, keeping that write', async () => {
    const c = await suite.start({});
    await c.fork(2);
    const id = sessionId('cas');
    const v1 = await c.callOk(0, 'setSession', id, { step: 1 });
    const v2 = await c.callOk(1, 'setSession', id, { step: 2 }, { ifVersion: v1.version });
    expect(v2.version).not.toBe(v1.version);

    const stale = await c.call(0, 'setSession', id, { step: 'lost' }, { ifVersion: v1.version });
    expect(stale.ok).toBe(false);
    if (!stale.ok) {
      expect(stale.error).toMatchObject({ isSessmapError: true, code: 'SESSMAP_ERR_VERSION_CONFLICT', name: 'SessmapError' });
      expect(stale.error.json).toMatchObject({ code: 'SESSMAP_ERR_VERSION_CONFLICT', message: stale.error.message, name: 'SessmapError' });
    }
    expect((await c.callOk('primary', 'getSession', id)).data).toEqual({ step: 2 });
    expect(Object.hasOwn(ERROR_CODES, 'SESSMAP_ERR_VERSION_CONFLICT')).toBe(true);
  });
});
