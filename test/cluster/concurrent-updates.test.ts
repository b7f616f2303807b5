import { describe, expect, it } from 'vitest';
import { sessionId, useClusterSuite } from './harness.js';

const WORKERS = 4;
const PER_WORKER = 2_500;

interface LoopResult {
  values: number[];
  errors: unknown[];
}

describe('updateSession from several workers at once', () => {
  const suite = useClusterSuite();

  it('ends at exactly 10,000 when four workers each increment one session 2,500 times', async () => {
    const c = await suite.start({});
    await c.fork(WORKERS);
    const id = sessionId('counter');
    await c.callOk('primary', 'setSession', id, { n: 0, keep: 'me' });

    const results = await Promise.all(
      Array.from({ length: WORKERS }, (_, w) => c.script<LoopResult>(w, { name: 'incrementLoop', id, times: PER_WORKER, field: 'n' }, 120_000)),
    );
    for (const [w, r] of results.entries()) expect(r.errors, `worker ${w} errors`).toEqual([]);

    const final = await c.callOk('primary', 'getSession', id);
    expect(final.data).toEqual({ n: WORKERS * PER_WORKER, keep: 'me' });
    for (let w = 0; w < WORKERS; w++) expect((await c.callOk(w, 'getSession', id)).data.n).toBe(WORKERS * PER_WORKER);

    // Every update saw a distinct old value: the returned counts are exactly 1..10,000.
    const all = results.flatMap((r) => r.values).sort((a, b) => a - b);
    expect(all.length).toBe(WORKERS * PER_WORKER);
    const wrong = all.findIndex((v, i) => v !== i + 1);
    expect(wrong, `value ${all[wrong]} at rank ${wrong + 1}`).toBe(-1);
    // ...and each worker saw its own results strictly increase.
    for (const r of results) expect(r.values.every((v, i) => i === 0 || v > r.values[i - 1])).toBe(true);
  });
});
