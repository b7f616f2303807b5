/**
 * The backend contract: what every SessionBackend does, exercised on the interface alone (no
 * service, no key scheme, no file). `testBackend(name, factory)` registers the suite; the mmap
 * backend runs it in mmap.test.ts, and a Redis backend runs it unchanged. A factory gives a fresh,
 * empty backend per test, and says what it can be made to do: `overfill` sessions of about 1 KiB
 * make it evict (no `overfill`: the eviction cases are skipped), `expire()` makes it notice
 * expired sessions now (a sweep; without it the suite reads them), `another()` opens a second
 * handle on the same store, as another process of the deployment has it.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KEEP, applyWrite, expiryOf, type BackendChange, type SessionBackend, type StoredSession, type WriteSpec } from '../../src/sessions/backend.js';
import { eventually, sleep } from '../support/wait.js';

export interface BackendUnderTest {
  backend: SessionBackend;
  /** A second handle on the same store (closed by `cleanup`). */
  another?(): Promise<SessionBackend>;
  /** Makes the backend find and report the sessions whose deadline has passed, now. */
  expire?(): Promise<void>;
  /** How many sessions of about 1 KiB, written in a row, make this backend evict live ones. */
  overfill?: number;
  /** Closes what is still open and removes what the factory made. */
  cleanup(): Promise<void>;
}

export type BackendFactory = () => Promise<BackendUnderTest>;

let seq = 0;
/** A fresh session id (the backend is handed ids the service has checked: any short string). */
const newId = (): string => `contract-${process.pid}-${Date.now().toString(36)}-${++seq}`;

/** A session as the service would write it at `now`. */
function session(now: number, over: Partial<StoredSession> = {}): StoredSession {
  return { d: { n: 1, cookie: { path: '/' } }, c: now, a: now + 3_600_000, i: 600_000, v: 1, ...over };
}

/** Writes `s` under `id` unconditionally. */
async function put(b: SessionBackend, id: string, s: StoredSession, now = Date.now()): Promise<number> {
  return (await b.modify(id, now, () => s)).expiresAt;
}

/** Polls `check` until it holds (for feeds that report asynchronously). */
function soon(what: string, check: () => boolean): Promise<true> {
  return eventually(what, check, { timeoutMs: 3000, intervalMs: 20 });
}

export function testBackend(name: string, factory: BackendFactory): void {
  describe(`the ${name} backend (SessionBackend contract)`, () => {
    let t: BackendUnderTest;
    let b: SessionBackend;
    let changes: BackendChange[];
    /** What the backend's listings and feed call a session: its handle (hashed Redis keys), else its id. */
    const ref = (id: string): string => b.handle?.(id) ?? id;
    beforeEach(async () => {
      t = await factory();
      b = t.backend;
      changes = [];
      b.subscribe((c) => changes.push(c));
    });
    afterEach(async () => {
      await t.cleanup();
    });

    describe('read and modify', () => {
      it('reads nothing for an id never written', async () => {
        expect(await b.read(newId())).toBeUndefined();
      });

      it('stores what modify returns, with the expiry expiryOf gives, and reads it back', async () => {
        const id = newId();
        const now = Date.now();
        const s = session(now);
        const r = await b.modify(id, now, (cur) => {
          expect(cur).toBeUndefined();
          return s;
        });
        expect(r).toEqual({ before: undefined, expiresAt: expiryOf(s, now) });
        expect(await b.read(id)).toEqual({ session: s, expiresAt: expiryOf(s, now) });
      });

      it('caps the expiry at the absolute deadline', async () => {
        const id = newId();
        const now = Date.now();
        const expiresAt = await put(b, id, session(now, { a: now + 5_000, i: 600_000 }), now);
        expect(expiresAt).toBe(now + 5_000);
        expect((await b.read(id))?.expiresAt).toBe(now + 5_000);
      });

      it('hands modify the stored session and replaces it with a new one', async () => {
        const id = newId();
        const now = Date.now();
        const first = session(now);
        await put(b, id, first, now);
        const second = { ...first, d: { n: 2 }, v: 2 };
        const r = await b.modify(id, now + 10, (cur) => {
          expect(cur).toEqual(first);
          return second;
        });
        expect(r.before).toEqual(first);
        expect((await b.read(id))?.session).toEqual(second);
      });

      it('keeps the stored session, and its expiry, when modify returns KEEP', async () => {
        const id = newId();
        const now = Date.now();
        const s = session(now);
        const expiresAt = await put(b, id, s, now);
        const r = await b.modify(id, now + 60_000, () => KEEP);
        expect(r).toEqual({ before: s, expiresAt });
        expect(await b.read(id)).toEqual({ session: s, expiresAt });
      });

      it('writes nothing for KEEP on an absent id', async () => {
        const id = newId();
        const r = await b.modify(id, Date.now(), () => KEEP);
        expect(r.before).toBeUndefined();
        expect(await b.read(id)).toBeUndefined();
        expect(await b.count()).toBe(0);
      });

      it('deletes the session when modify returns undefined, and reports no removal for it', async () => {
        const id = newId();
        const s = session(Date.now());
        await put(b, id, s);
        const r = await b.modify(id, Date.now(), () => undefined);
        expect(r.before).toEqual(s);
        expect(await b.read(id)).toBeUndefined();
        await sleep(50);
        expect(changes).toEqual([]);
      });

      it('changes nothing when the modify callback throws, and rejects with its error', async () => {
        const id = newId();
        const s = session(Date.now());
        await put(b, id, s);
        const boom = new Error('refused');
        await expect(b.modify(id, Date.now(), () => { throw boom; })).rejects.toBe(boom);
        expect((await b.read(id))?.session).toEqual(s);
      });

      it('loses no update when many modifies of one session run at once', async () => {
        const id = newId();
        await put(b, id, session(Date.now(), { d: { n: 0 }, v: 0 }));
        await Promise.all(
          Array.from({ length: 50 }, () => b.modify(id, Date.now(), (cur) => ({ ...cur!, d: { n: (cur!.d as { n: number }).n + 1 }, v: cur!.v + 1 }))),
        );
        expect((await b.read(id))?.session).toMatchObject({ d: { n: 50 }, v: 50 });
      });
    });

    describe('extend', () => {
      it('is false for an absent session and writes nothing', async () => {
        const id = newId();
        expect(await b.extend(id, Date.now() + 60_000)).toBe(false);
        expect(await b.read(id)).toBeUndefined();
      });

      it('moves the expiry without rewriting the session', async () => {
        const id = newId();
        const s = session(Date.now());
        await put(b, id, s);
        const until = Date.now() + 120_000;
        expect(await b.extend(id, until)).toBe(true);
        expect(await b.read(id)).toEqual({ session: s, expiresAt: until });
      });

      it('writes nothing when the stored expiry is within the slack, and writes beyond it', async () => {
        const id = newId();
        const now = Date.now();
        const expiresAt = await put(b, id, session(now), now);
        expect(await b.extend(id, expiresAt + 500, 1_000)).toBe(true);
        expect((await b.read(id))?.expiresAt).toBe(expiresAt);
        expect(await b.extend(id, expiresAt + 5_000, 1_000)).toBe(true);
        expect((await b.read(id))?.expiresAt).toBe(expiresAt + 5_000);
      });

      it('does not bring back a deleted session', async () => {
        const id = newId();
        await put(b, id, session(Date.now()));
        await b.modify(id, Date.now(), () => undefined);
        expect(await b.extend(id, Date.now() + 60_000, 1_000)).toBe(false);
        expect(await b.read(id)).toBeUndefined();
      });
    });

    describe('the per-user index', () => {
      it('lists the ids added for a user once each, and none of another user\'s', async () => {
        const [a, c] = [newId(), newId()];
        await put(b, a, session(Date.now(), { u: 'ann' }));
        await put(b, c, session(Date.now(), { u: 'ann' }));
        await b.indexAdd('ann', a);
        await b.indexAdd('ann', c);
        await b.indexAdd('ann', a);
        await b.indexAdd('bob', c);
        expect((await b.indexList('ann')).sort()).toEqual([a, c].map(ref).sort());
        expect(await b.indexList('bob')).toEqual([ref(c)]);
        expect(await b.indexList('nobody')).toEqual([]);
      });

      it('forgets an id removed from a user, and a removal of an unknown id changes nothing', async () => {
        const [a, c] = [newId(), newId()];
        await put(b, a, session(Date.now(), { u: 'ann' }));
        await put(b, c, session(Date.now(), { u: 'ann' }));
        await b.indexAdd('ann', a);
        await b.indexAdd('ann', c);
        await b.indexRemove('ann', a);
        await b.indexRemove('ann', 'never-added');
        await b.indexRemove('nobody', a);
        expect(await b.indexList('ann')).toEqual([ref(c)]);
        await b.indexRemove('ann', c);
        expect(await b.indexList('ann')).toEqual([]);
      });
    });

    describe('count, list and clear', () => {
      it('count and list the sessions, and nothing of the index', async () => {
        const ids = [newId(), newId(), newId()];
        const now = Date.now();
        for (const id of ids) await put(b, id, session(now, { u: 'ann' }), now);
        for (const id of ids) await b.indexAdd('ann', id);
        expect(await b.count()).toBe(3);
        const listed = await b.list();
        expect(listed.map(([id]) => id).sort()).toEqual(ids.map(ref).sort());
        for (const [, s] of listed) expect(s).toEqual(session(now, { u: 'ann' }));
      });

      it('clear removes every session and every index entry', async () => {
        const id = newId();
        await put(b, id, session(Date.now(), { u: 'ann' }));
        await b.indexAdd('ann', id);
        await b.clear();
        expect(await b.count()).toBe(0);
        expect(await b.list()).toEqual([]);
        expect(await b.read(id)).toBeUndefined();
        expect(await b.indexList('ann')).toEqual([]);
      });
    });

    describe('digest', () => {
      it('is a stable keyed hash: the same for the same text, another for other text', async () => {
        const d = b.digest('sid:abc');
        expect(d).toMatch(/^[0-9a-f]{16}$/);
        expect(b.digest('sid:abc')).toBe(d);
        expect(b.digest('sid:abd')).not.toBe(d);
        if (t.another !== undefined) expect((await t.another()).digest('sid:abc')).toBe(d);
      });
    });

    describe('a second handle on the same store', () => {
      it('sees a write the moment it returns, and its own writes are seen', async (ctx) => {
        if (t.another === undefined) return ctx.skip();
        const other = await t.another();
        const id = newId();
        const s = session(Date.now());
        await put(b, id, s);
        expect((await other.read(id))?.session).toEqual(s);
        await other.modify(id, Date.now(), () => undefined);
        expect(await b.read(id)).toBeUndefined();
      });
    });

    describe('the removal feed', () => {
      it('reports a session that expired, by id, once, with reason expired', async () => {
        const [gone, kept] = [newId(), newId()];
        const now = Date.now();
        await put(b, gone, session(now, { i: 60 }), now);
        await put(b, kept, session(now), now);
        await sleep(150);
        if (t.expire !== undefined) await t.expire();
        else await b.read(gone);
        await soon(`an expiry of ${gone} on the feed`, () => changes.some((c) => c.id === ref(gone)));
        expect(await b.read(gone)).toBeUndefined();
        await sleep(50);
        const mine = changes.filter((c) => c.id === ref(gone));
        expect(mine).toHaveLength(1);
        expect(mine[0]).toMatchObject({ id: ref(gone), reason: 'expired' });
        expect(changes.filter((c) => c.id !== ref(gone))).toEqual([]);
        expect((await b.read(kept))?.session).toEqual(session(now));
      });

      it('reports live sessions it evicted, by id, with the time they still had', async (ctx) => {
        if (t.overfill === undefined) return ctx.skip();
        const ids: string[] = [];
        const now = Date.now();
        for (let i = 0; i < t.overfill; i++) {
          const id = newId();
          ids.push(id);
          await put(b, id, session(now, { d: { pad: 'x'.repeat(1000), i } }), now);
        }
        await soon('an eviction on the feed', () => changes.some((c) => c.reason === 'evicted'));
        // The feed may report asynchronously (Redis's notifications): every eviction it reports is
        // of a session written here, which is gone, and once it has reported them all, the count
        // is what was written less what it reported.
        const evictedNow = (): BackendChange[] => changes.filter((c) => c.reason === 'evicted');
        const left = async (): Promise<number> => (await b.count()) - (ids.length - evictedNow().length);
        await eventually('the count to match the evictions reported', async () => (await left()) === 0 || undefined, { timeoutMs: 5000, intervalMs: 50 });
        const evicted = evictedNow();
        for (const c of evicted) {
          expect(ids.map(ref)).toContain(c.id);
          expect(c.ttlLeft).toBeGreaterThan(0);
          expect(await b.read(c.id)).toBeUndefined();
        }
        expect(await b.count()).toBe(ids.length - evicted.length);
      });

      it('stops reporting once its listener unsubscribes', async () => {
        const seen: BackendChange[] = [];
        const stop = b.subscribe((c) => seen.push(c));
        stop();
        const id = newId();
        await put(b, id, session(Date.now(), { i: 40 }));
        await sleep(120);
        if (t.expire !== undefined) await t.expire();
        else await b.read(id);
        await sleep(50);
        expect(seen).toEqual([]);
      });
    });

    describe('write and remove', () => {
      const spec = (over: Partial<WriteSpec> = {}): WriteSpec => ({
        data: { n: 1 },
        ttl: undefined,
        user: { mode: 'auto', derived: undefined },
        mustBeNew: false,
        ifExists: false,
        ifVersion: undefined,
        idleTimeout: 600_000,
        absoluteTimeout: 3_600_000,
        ...over,
      });

      it('writes a new session as applyWrite says, and over a stored one keeps its creation, deadline and user', async () => {
        const id = newId();
        const now = Date.now();
        const first = await b.write(id, now, spec({ user: { mode: 'auto', derived: 'ann' } }));
        expect(first.before).toBeUndefined();
        expect(first.session).toEqual(applyWrite(undefined, spec({ user: { mode: 'auto', derived: 'ann' } }), now));
        expect(first.expiresAt).toBe(expiryOf(first.session, now));
        expect((await b.read(id))?.session).toEqual(first.session);
        const later = now + 1000;
        const second = await b.write(id, later, spec({ data: { n: 2 }, ttl: 5000, user: { mode: 'auto', derived: 'bob' } }));
        expect(second.before).toEqual({ u: 'ann', v: 1 });
        expect(second.session).toEqual({ d: { n: 2 }, c: now, a: now + 3_600_000, i: 5000, v: 2, u: 'ann' });
        expect(second.expiresAt).toBe(later + 5000);
        const cleared = await b.write(id, later, spec({ user: { mode: 'clear' } }));
        expect(cleared.session.u).toBeUndefined();
        expect((await b.read(id))?.session.u).toBeUndefined();
        expect((await b.write(id, later, spec({ user: { mode: 'set', id: 'cy' } }))).session.u).toBe('cy');
      });

      it('refuses, writing nothing, a write whose condition fails, with the coded error', async () => {
        const id = newId();
        const now = Date.now();
        await expect(b.write(id, now, spec({ ifExists: true }))).rejects.toMatchObject({ code: 'SESSMAP_ERR_SESSION_GONE' });
        await expect(b.write(id, now, spec({ ifVersion: 1 }))).rejects.toMatchObject({ code: 'SESSMAP_ERR_VERSION_CONFLICT' });
        expect(await b.read(id)).toBeUndefined();
        await b.write(id, now, spec());
        await expect(b.write(id, now, spec({ mustBeNew: true, data: { n: 9 } }))).rejects.toMatchObject({ code: 'SESSMAP_ERR_VERSION_CONFLICT' });
        await expect(b.write(id, now, spec({ ifVersion: 7, data: { n: 9 } }))).rejects.toMatchObject({ code: 'SESSMAP_ERR_VERSION_CONFLICT' });
        expect((await b.read(id))?.session).toMatchObject({ d: { n: 1 }, v: 1 });
        expect((await b.write(id, now, spec({ ifVersion: 1, ifExists: true, data: { n: 3 } }))).session).toMatchObject({ d: { n: 3 }, v: 2 });
      });

      it('removes a stored session, says whose it was, and finds nothing the second time', async () => {
        const id = newId();
        const now = Date.now();
        await b.write(id, now, spec({ user: { mode: 'set', id: 'ann' } }));
        expect(await b.remove(id, now)).toEqual({ u: 'ann' });
        expect(await b.read(id)).toBeUndefined();
        expect(await b.remove(id, now)).toBeUndefined();
        expect(await b.remove(newId(), now)).toBeUndefined();
        expect(changes).toEqual([]);
      });

      it('names a session for events by sid: digest of its id, the same through its handle', async () => {
        const id = newId();
        await put(b, id, session(Date.now()));
        expect(b.sid(id)).toBe(b.digest(`sid:${id}`));
        expect(b.sid(ref(id))).toBe(b.sid(id));
      });
    });

    describe('close', () => {
      it('resolves, and calls after it fail', async () => {
        const id = newId();
        await put(b, id, session(Date.now()));
        await b.close();
        await expect(b.read(id)).rejects.toBeInstanceOf(Error);
        await expect(b.modify(id, Date.now(), () => KEEP)).rejects.toBeInstanceOf(Error);
      });
    });
  });
}
