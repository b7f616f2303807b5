import { describe, expect, it } from 'vitest';
import { named, sleep, useClusterSuite } from './harness.js';

const IDLE = 400;
const ABSOLUTE = 900;
const SWEEP = 100;

interface Touch {
  at: number;
  ok: boolean;
  expiresAt?: number;
  absoluteExpiresAt?: number;
}

describe('touching a session', () => {
  const suite = useClusterSuite();

  it('extends its idle deadline but never past its absolute deadline, after which it expires once', async () => {
    const c = await suite.start({ idleTimeout: IDLE, absoluteTimeout: ABSOLUTE, sweepInterval: SWEEP });
    await c.fork(2);
    const rec = await c.callOk(0, 'createSession', { a: 1 });
    const sid = await c.callOk('primary', 'hashId', rec.id);
    expect(rec.absoluteExpiresAt - rec.createdAt).toBe(ABSOLUTE);
    // The idle deadline is set when the write lands (at or a moment after createdAt).
    expect(rec.expiresAt).toBeGreaterThanOrEqual(rec.createdAt + IDLE);
    expect(rec.expiresAt).toBeLessThan(rec.absoluteExpiresAt);

    // Another worker touches it every 50 ms until well past the absolute deadline.
    const { touches, errors } = await c.script<{ touches: Touch[]; errors: unknown[] }>(1, {
      name: 'touchLoop',
      id: rec.id,
      everyMs: 50,
      untilMs: rec.absoluteExpiresAt + 1_000,
    });
    expect(errors).toEqual([]);
    const ok = touches.filter((t) => t.ok);
    const last = touches[touches.length - 1];

    // Touch kept it alive past its first idle deadline...
    expect(ok.some((t) => t.at > rec.expiresAt), 'no successful touch after the first idle deadline').toBe(true);
    let previous = rec.expiresAt;
    for (const t of ok) {
      // ...by sliding the idle deadline (never backwards)...
      expect(t.expiresAt!).toBeGreaterThanOrEqual(Math.min(t.at + IDLE, rec.absoluteExpiresAt));
      expect(t.expiresAt!).toBeGreaterThanOrEqual(previous);
      previous = t.expiresAt!;
      // ...but never past the absolute deadline, which touch does not move.
      expect(t.expiresAt!).toBeLessThanOrEqual(rec.absoluteExpiresAt);
      expect(t.absoluteExpiresAt).toBe(rec.absoluteExpiresAt);
      expect(t.at, 'a touch succeeded after the absolute deadline').toBeLessThan(rec.absoluteExpiresAt);
    }
    expect(ok.some((t) => t.expiresAt === rec.absoluteExpiresAt), 'the idle deadline was never capped').toBe(true);
    expect(last.ok, 'touch still succeeds after the absolute deadline').toBe(false);
    expect(last.at).toBeGreaterThanOrEqual(rec.absoluteExpiresAt);

    expect(await c.callOk(0, 'getSession', rec.id)).toBeUndefined();
    await c.waitForEvents('the expired event', (e) => named(e, 'expired').length > 0);
    await sleep(4 * SWEEP);
    const expired = named(await c.events(), 'expired');
    expect(expired).toHaveLength(1);
    expect(expired[0]).toMatchObject({ sid, deadline: 'absolute' });
    expect(expired[0].at).toBeGreaterThanOrEqual(rec.absoluteExpiresAt);
  });
});
