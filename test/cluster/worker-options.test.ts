/**
 * The options that hold for the whole cluster are the primary's: a worker may leave them out or
 * repeat them, but one that contradicts the primary (another idle timeout, absolute timeout,
 * eviction policy, size...) is refused with a coded error naming both values, instead of its own
 * value winning silently in that worker alone.
 */
import { describe, expect, it } from 'vitest';
import { useClusterSuite } from './harness.js';

const SETUP = { size: '2m', pageSize: '16k', idleTimeout: 600_000, absoluteTimeout: 3_600_000, evictionPolicy: 'lru', sweepInterval: 200 };

describe('worker options against the primary', () => {
  const suite = useClusterSuite();

  it('accept the primary\'s own options repeated in a worker (one options object shared by both)', async () => {
    const c = await suite.start(SETUP);
    const [w] = await c.fork(1, { attach: { ...SETUP, path: undefined, lockTimeout: 500 } });
    expect(w.pid).toBeGreaterThan(0);
    const s = await c.callOk(0, 'createSession', { n: 1 });
    expect((await c.callOk('primary', 'getSession', s.id)).data).toEqual({ n: 1 });
  });

  it('accept the primary\'s path in a worker, and refuse another one', async () => {
    const c = await suite.start(SETUP);
    const path = (await c.ok<{ path: string }>({ cmd: 'info' })).path;
    await c.fork(1, { attach: { path } });
    const r = await c.cmd({ cmd: 'fork', count: 1, boot: { attach: { path: `${path}.other` } } }, 90_000);
    expect(r.ok).toBe(false);
    expect(r.ok ? '' : String(r.error.message)).toMatch(/SESSMAP_ERR_OPTION_CONFLICT.*"path"/);
  });

  it.each([
    ['idleTimeout', 60_000, '60000', '600000'],
    ['absoluteTimeout', 0, '0', '3600000'],
    ['evictionPolicy', 'protect-authenticated', "'protect-authenticated'", "'lru'"],
    ['size', '64m', '67108864', '2097152'],
    ['maxSessions', 100_000, '\\d+', '2097152'],
    ['pageSize', '64k', '65536', '16384'],
    ['exposeIds', true, 'true', 'false'],
    ['sweepInterval', 1000, '1000', '200'],
  ] as const)('refuse a worker whose %s contradicts the primary, naming both values', async (option, value, mine, theirs) => {
    const c = await suite.start(SETUP);
    const r = await c.cmd({ cmd: 'fork', count: 1, boot: { attach: { [option]: value } } }, 90_000);
    expect(r.ok).toBe(false);
    const message = r.ok ? '' : `${String(r.error.message)}`;
    const named = option === 'maxSessions' ? 'maxSessions' : option;
    expect(message).toMatch(new RegExp(`SESSMAP_ERR_OPTION_CONFLICT.*"${named}" is ${mine} in this worker but ${theirs} in the cluster primary`));
    // Nothing was attached, and the primary serves on.
    expect(await c.callOk('primary', 'countSessions')).toBe(0);
  });
});
