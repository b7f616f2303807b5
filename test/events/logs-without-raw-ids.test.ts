/**
 * `exposeIds: true` puts raw session ids on events, never in logs: a real pino logger writing to
 * a real file, at debug level (where every session lifecycle line is written), in a process that
 * runs every kind of session operation.
 */
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { openSessionStore } from '../../src/index.js';
import type { SessionStore } from '../../src/sessions/types.js';
import { useTmpDir } from '../helpers/tmp.js';
import { sleep } from '../support/wait.js';

describe('logs with exposeIds', () => {
  const tmp = useTmpDir();

  it('carry no raw session id, while the events carry them', async () => {
    const logFile = tmp.path('sessmap.log');
    const dest = pino.destination({ dest: logFile, sync: true });
    const logger = pino({ level: 'debug' }, dest);
    const store: SessionStore = await openSessionStore({ path: tmp.path('sessions.smap'), size: '1m', pageSize: '16k', exposeIds: true, logger, sweepInterval: 50 });
    const eventIds = new Set<string>();
    for (const name of ['created', 'updated', 'destroyed', 'regenerated', 'expired', 'evicted'] as const) {
      store.events.on(name, (e: { id?: string }) => {
        if (e.id !== undefined) eventIds.add(e.id);
      });
    }
    const ids: string[] = [];
    try {
      const a = await store.createSession({ userId: 'ada', n: 1 });
      ids.push(a.id);
      await store.updateSession(a.id, (d) => ({ ...d, n: 2 }));
      const moved = await store.regenerateSession(a.id);
      ids.push(moved!.id);
      const b = await store.createSession({ userId: 'ada' });
      ids.push(b.id);
      await store.destroySessionsOf('ada');
      const short = await store.createSession({ n: 3 }, { ttl: 60 });
      ids.push(short.id);
      const custom = 'sess:6f1c2b7e-4a51-4c8e-9a0e-2b1d3c4e5f60';
      ids.push(custom);
      await store.setSession(custom, { n: 4 });
      await store.destroySession(custom);
      // A flood that evicts: the 1 MiB file holds ~2,000 of these.
      for (let i = 0; i < 4_000; i++) ids.push((await store.createSession({ pad: 'x'.repeat(200) })).id);
      await sleep(300);
    } finally {
      await store.close();
      dest.flushSync();
    }
    const log = readFileSync(logFile, 'utf8');
    const lines = log.split('\n').filter((l) => l !== '');
    const messages = new Set(lines.map((l) => (JSON.parse(l) as { msg: string }).msg));
    for (const m of ['session created', 'session destroyed', 'session regenerated', 'session expired']) {
      expect(messages.has(m), `nothing logged as "${m}": the check below would prove nothing`).toBe(true);
    }
    // The events did carry raw ids, so the logger had them at hand.
    for (const id of [ids[0], ids[1], ids[2], ids[3], ids[4]]) expect(eventIds.has(id), `no event carried ${id}`).toBe(true);
    expect(eventIds.size).toBeGreaterThan(4_000);
    const leaked = ids.filter((id) => log.includes(id));
    expect(leaked, 'raw ids in the log file').toEqual([]);
  });
});
