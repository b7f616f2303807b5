import { describe, expect, it } from 'vitest';
import { SID, named, sessionId, sleep, useClusterSuite, type ClusterPrimary, type RecordedEvent } from './harness.js';

/** Where a raw id would show up: every token of the id alphabet at least 16 long, and every window of it. */
function leaks(text: string, ids: Set<string>): string[] {
  const lengths = [...new Set([...ids].map((id) => id.length))];
  const found = new Set<string>();
  for (const m of text.matchAll(/[A-Za-z0-9_-]{16,}/g)) {
    const token = m[0];
    for (const len of lengths) {
      for (let i = 0; i + len <= token.length; i++) {
        const w = token.slice(i, i + len);
        if (ids.has(w)) found.add(w);
      }
    }
  }
  return [...found];
}

/** Runs every kind of session operation across two workers and the primary; returns the raw ids and user ids used. */
async function exercise(c: ClusterPrimary): Promise<{ ids: string[]; users: string[] }> {
  const ids: string[] = [];
  const alice = `alice-${sessionId('u')}`;
  const carol = `carol-${sessionId('u')}`;
  const a = await c.callOk(0, 'createSession', { userId: alice, n: 1 });
  ids.push(a.id);
  const custom = sessionId('custom');
  ids.push(custom);
  await c.callOk(1, 'setSession', custom, { n: 2 }, { userId: alice });
  await c.callOk(0, 'updateSession', custom, { kind: 'merge', patch: { seen: true } });
  await c.callOk(1, 'touchSession', custom);
  await c.callOk('primary', 'getSession', custom);
  const regenerated = await c.callOk(0, 'regenerateSession', custom);
  ids.push(regenerated.id);
  await c.callOk(1, 'destroySession', regenerated.id);
  for (const w of [0, 1, 'primary'] as const) ids.push((await c.callOk(w, 'createSession', { n: 3 }, { userId: carol })).id);
  expect(await c.callOk(1, 'destroySessionsOf', carol)).toBe(3);
  const short = sessionId('short');
  ids.push(short);
  await c.callOk(0, 'setSession', short, { n: 4 }, { ttl: 150 });
  await c.waitForEvents('an expired event', (e) => named(e, 'expired').length > 0);
  // A flood that evicts (the file holds ~2,500 of these).
  const flood = await c.script<{ ids: string[] }>(1, { name: 'createMany', count: 4_000, padBytes: 200 });
  ids.push(...flood.ids);
  await c.waitForEvents('evicted events', (e) => named(e, 'evicted').length > 0);
  await sleep(300);
  return { ids, users: [alice, carol] };
}

const SETUP = { size: '1m', pageSize: '16k', idleTimeout: 600_000, sweepInterval: 100, capacityInterval: 200 };

describe('privacy of session ids', () => {
  const suite = useClusterSuite();

  it('keeps every raw session id out of the captured pino output and every event payload', async () => {
    const c = await suite.start(SETUP);
    await c.fork(2, { logger: true });
    const { ids, users } = await exercise(c);
    const idSet = new Set(ids);

    const primaryEvents = await c.events();
    const workerEvents: RecordedEvent[] = [...(await c.workerEvents(0)), ...(await c.workerEvents(1))];
    const names = new Set(primaryEvents.map((e) => e.name));
    for (const n of ['created', 'updated', 'destroyed', 'regenerated', 'expired', 'evicted', 'workerAttached']) {
      expect(names.has(n), `the scenario produced no ${n} event`).toBe(true);
    }
    const logs = [...(await c.logs()), ...(await c.workerLogs(0)), ...(await c.workerLogs(1))];
    expect(logs.length, 'nothing was logged: the capture proves nothing').toBeGreaterThan(0);
    const outputs = [await c.output(0), await c.output(1)];

    expect(leaks(logs.join('\n'), idSet), 'raw ids in pino output').toEqual([]);
    expect(leaks(JSON.stringify([...primaryEvents, ...workerEvents]), idSet), 'raw ids in event payloads').toEqual([]);
    expect(leaks(outputs.map((o) => o.stdout + o.stderr).join('\n'), idSet), 'raw ids on worker stdout/stderr').toEqual([]);

    for (const e of [...primaryEvents, ...workerEvents]) {
      const p = e.payload;
      if (p && typeof p === 'object' && 'sid' in p) {
        expect(p.sid).toMatch(SID);
        expect(p.id, `${e.name} carries the raw id`).toBeUndefined();
        if (p.uid !== undefined) expect(p.uid).toMatch(SID);
      }
    }
    const payloadText = JSON.stringify([...primaryEvents, ...workerEvents]);
    for (const u of users) expect(payloadText.includes(u), `raw user id ${u} in an event payload`).toBe(false);
  }, 90_000);

  it('puts the raw id on events only when set up with exposeIds', async () => {
    const c = await suite.start({ exposeIds: true });
    await c.fork(1);
    const rec = await c.callOk(0, 'createSession', { n: 1 });
    const evs = await c.waitForEvents('the created event', (e) => named(e, 'created').length > 0);
    const [created] = named(evs, 'created');
    expect(created.id).toBe(rec.id);
    expect(created.sid).toBe(await c.callOk('primary', 'hashId', rec.id));
    // The search the privacy test relies on would have found it.
    expect(leaks(JSON.stringify(evs), new Set([rec.id]))).toEqual([rec.id]);
  });
});
