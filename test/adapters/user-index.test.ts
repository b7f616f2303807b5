/**
 * The per-user index behind sessionsOf / destroySessionsOf is itself a cache entry. These tests
 * take it away the way a full cache would (LRU eviction) and check that "log out everywhere"
 * still reaches every live session of the user, and that the index does not grow with logins.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SharedCache, openSessionStore, type SessionStore } from '../../src/index.js';
import { internals } from '../../src/core/cache/internals.js';
import { manualClock } from '../helpers/clock.js';
import { useTmpDir } from '../helpers/tmp.js';

describe('the per-user session index', () => {
  const tmp = useTmpDir();
  const open: Array<{ close(): unknown }> = [];
  afterEach(async () => {
    for (const c of open.splice(0).reverse()) await c.close();
  });

  async function store(path: string, extra: Record<string, unknown> = {}): Promise<SessionStore> {
    const s = await openSessionStore({ path, size: '1m', pageSize: 65536, ...extra });
    open.push(s);
    return s;
  }

  it('survives LRU pressure (high priority) and, once evicted anyway, destroySessionsOf still finds every session', async () => {
    const path = tmp.path('index.smap');
    const sessions = await store(path);
    const raw = SharedCache.open(path);
    open.push(raw);
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push((await sessions.createSession({ n: i }, { userId: 'victim' })).id);
    expect((await sessions.sessionsOf('victim')).map((r) => r.id).sort()).toEqual([...ids].sort());
    expect(raw.inspect('u:victim')?.priority).toBe('high');

    // Normal-priority pressure on the index's page: sessions and other entries go, the index stays.
    const page = internals(raw).pageOf('u:victim');
    const inPage = (prefix: string, n: number): string[] => {
      const out: string[] = [];
      for (let i = 0; out.length < n; i++) {
        expect(i, 'no key hashed to the page').toBeLessThan(1_000_000);
        if (internals(raw).pageOf(`${prefix}${i}`) === page) out.push(`${prefix}${i}`);
      }
      return out;
    };
    for (const k of inPage('normal-', 100)) raw.set(k, 'v'.repeat(2_000));
    expect(raw.stats().removals.evicted).toBeGreaterThan(50);
    expect(raw.has('u:victim')).toBe(true);
    expect(raw.stats().evictedHigh).toBe(0);

    // Only a page full of other high-priority entries evicts it.
    for (const k of inPage('high-', 100)) {
      raw.set(k, 'v'.repeat(2_000), { priority: 'high' });
      if (!raw.has('u:victim')) break; // has() is not a use: reading it would keep it recent
    }
    expect(raw.has('u:victim'), 'the index was never evicted').toBe(false);
    expect(raw.stats().evictedHigh).toBeGreaterThan(0);

    // Sessions that hashed to that page went first; the others live on without an index entry.
    const alive: string[] = [];
    for (const id of ids) if ((await sessions.getSession(id)) !== undefined) alive.push(id);
    expect(alive.length, 'every session shared the index page').toBeGreaterThan(0);
    expect((await sessions.sessionsOf('victim')).map((r) => r.id).sort()).toEqual([...alive].sort());
    expect(await sessions.destroySessionsOf('victim')).toBe(alive.length);
    for (const id of alive) expect(await sessions.getSession(id)).toBeUndefined();
    expect(await sessions.sessionsOf('victim')).toEqual([]);
  });

  it('drops the ids of expired sessions when the user logs in again, so it does not grow with logins', async () => {
    const path = tmp.path('prune.smap');
    const clock = manualClock();
    const sessions = await store(path, { clock: clock.fn, idleTimeout: 60_000 });
    const raw = SharedCache.open(path, { clock: clock.fn });
    open.push(raw);
    for (let day = 0; day < 20; day++) {
      await sessions.createSession({ day }, { userId: 'regular' });
      clock.advance(120_000); // the session idles out; the user never logs out
    }
    const last = await sessions.createSession({ day: 20 }, { userId: 'regular' });
    expect(raw.get('u:regular')).toEqual([last.id]);
    expect((await sessions.sessionsOf('regular')).map((r) => r.id)).toEqual([last.id]);
  });
});

describe('touchSession', () => {
  const tmp = useTmpDir();

  it('leaves the deadline where it is when it would move it by under min(1 s, 1% of the idle timeout), and moves it otherwise', async () => {
    const clock = manualClock();
    const store = await openSessionStore({ path: tmp.path('touch.smap'), clock: clock.fn, idleTimeout: 60_000 });
    try {
      const r = await store.createSession({ n: 1 });
      const t0 = clock.now();
      expect(r.expiresAt).toBe(t0 + 60_000);
      clock.advance(400); // under the slack (600 ms): no write
      expect(await store.touchSession(r.id)).toBe(true);
      expect((await store.getSession(r.id))!.expiresAt).toBe(t0 + 60_000);
      clock.advance(400); // now 800 ms past the last write: moved
      expect(await store.touchSession(r.id)).toBe(true);
      expect((await store.getSession(r.id))!.expiresAt).toBe(t0 + 800 + 60_000);
      // A shorter TTL always takes effect (the deadline is never left later than asked).
      expect(await store.touchSession(r.id, { ttl: 10_000 })).toBe(true);
      expect((await store.getSession(r.id))!.expiresAt).toBe(t0 + 800 + 10_000);
      // Gone is gone: false, with or without the slack.
      await store.destroySession(r.id);
      expect(await store.touchSession(r.id)).toBe(false);
    } finally {
      await store.close();
    }
  });
});
