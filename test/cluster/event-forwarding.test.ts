import { describe, expect, it } from 'vitest';
import { named, sleep, tally, useClusterSuite, type RecordedEvent } from './harness.js';

const CHURN = 300;

function sidsOf(events: RecordedEvent[], name: string): string[] {
  return named(events, name).map((e) => e.sid);
}

describe('events of workers', () => {
  const suite = useClusterSuite();

  it('reach the primary exactly once each, in batches, and are emitted locally too', async () => {
    const c = await suite.start({});
    const workers = await c.fork(2);
    const churned = await Promise.all([0, 1].map((w) => c.script<{ ids: string[]; errors: unknown[] }>(w, { name: 'churn', count: CHURN })));
    for (const r of churned) expect(r.errors).toEqual([]);
    // One session of the primary's own store: its events are not echoed back.
    const own = await c.callOk('primary', 'createSession', { own: true });

    const total = 2 * CHURN;
    await c.waitForEvents('every created, updated and destroyed event', (e) =>
      named(e, 'created').length >= total + 1 && named(e, 'updated').length >= total && named(e, 'destroyed').length >= total,
    );
    await sleep(300);
    const evs = await c.events();
    for (const [w, r] of churned.entries()) {
      const sids = await c.hashIds(r.ids);
      const expected = new Set(sids);
      for (const name of ['created', 'updated', 'destroyed']) {
        const fromWorker = named(evs, name).filter((e) => e.pid === workers[w].pid);
        expect(fromWorker, `${name} events of worker ${w}`).toHaveLength(CHURN);
        expect(new Set(fromWorker.map((e) => e.sid))).toEqual(expected);
      }
      for (const e of named(evs, 'destroyed').filter((x) => x.pid === workers[w].pid)) expect(e.reason).toBe('destroyed');
      // The worker's own emitter saw the same events.
      const local = await c.workerEvents(w);
      for (const name of ['created', 'updated', 'destroyed']) expect(new Set(sidsOf(local, name))).toEqual(expected);
    }
    for (const name of ['created', 'updated', 'destroyed']) {
      expect([...tally(sidsOf(evs, name)).values()].every((n) => n === 1), `a ${name} event arrived twice`).toBe(true);
    }
    expect(sidsOf(evs, 'created')).toHaveLength(total + 1);
    const ownSid = await c.callOk('primary', 'hashId', own.id);
    expect(named(evs, 'created').filter((e) => e.sid === ownSid)).toHaveLength(1);

    // Batched: far fewer sessmap messages on each worker's channel than events it forwarded.
    for (const w of [0, 1]) {
      const messages = await c.ok<number>({ cmd: 'ipcCount', target: w });
      expect(messages, `worker ${w} sent nothing on its channel`).toBeGreaterThan(0);
      expect(messages, `worker ${w}: ${messages} messages for ${3 * CHURN} events`).toBeLessThan(CHURN);
    }
  });

  it('are flushed to the primary when a worker closes its store', async () => {
    const c = await suite.start({});
    const [w] = await c.fork(1);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await c.callOk(0, 'createSession', { i })).id);
    expect(await c.ok({ cmd: 'closeWorker', target: 0 })).toEqual({ code: 0, signal: null });

    const sids = await c.hashIds(ids);
    const evs = await c.waitForEvents('the closed worker\'s created events', (e) => named(e, 'created').length >= 5);
    expect(new Set(sidsOf(evs, 'created'))).toEqual(new Set(sids));
    for (const e of named(evs, 'created')) expect(e.pid).toBe(w.pid);
  });
});
