/**
 * The contract every framework adapter meets, run once per adapter through its driver
 * (drivers.ts): what a session store owes its framework (get, set with a TTL, destroy), the
 * guarantees sessmap adds (ids checked before use, TTL and absolute deadlines, one file shared
 * by every handle), and the store underneath that `ready` gives.
 */
import { writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { openSessionStore } from '../../src/index.js';
import { isSessmapError } from '../../src/errors.js';
import type { AdapterOptions } from '../../src/adapters/find-store.js';
import type { SessionStore } from '../../src/sessions/types.js';
import { useTmpDir } from '../helpers/tmp.js';
import { instrument } from '../fixtures/adapters/app-common.js';
import type { AdapterDriver, Data, DriverStore } from './drivers.js';
import { eventually, sleep } from '../support/wait.js';

let counter = 0;
/** A fresh, well-formed session id (the shape express-session and @fastify/session generate). */
export function newId(label = 'sid'): string {
  counter++;
  return `${label}_${process.pid}_${counter}_${Math.random().toString(36).slice(2)}`.replace(/[^A-Za-z0-9_-]/g, '_').padEnd(32, 'x');
}

/** What cannot be a session id: empty, too long, control characters (raw or decoded from %00), a lone surrogate. */
const MALFORMED_IDS = ['', 'x'.repeat(513), 'é'.repeat(257), 'line\nbreak', 'nul\u0000byte', 'tab\there', 'del\u007f', 'lone\ud800surrogate'];
/** Ids a framework can make (custom genid / idGenerator, koa-session's prefix): each is a session id. */
const UNUSUAL_IDS = ['u1', 'sess:6f1c2b7e-4a51-4c8e-9a0e-2b1d3c4e5f60', 'sessão-ünïcödé-🎉', 'with spaces, commas; and "quotes"', '../../../etc/passwd', 's:signed.looking.value', 'x'.repeat(512), 'é'.repeat(256)];

/**
 * Where the adapters' stores live: a file per label (the default), or a Redis prefix per label.
 * `unreachable` is a store that cannot open (a path under a regular file) or reach its server.
 */
export interface Place {
  readonly name: string;
  options(label: string): AdapterOptions;
  unreachable(): AdapterOptions;
  /** The adapter's `ready` rejects for `unreachable` (a file), rather than its calls failing (a server). */
  readonly readyFails: boolean;
}

export function filePlace(tmp: { path(name?: string): string }): Place {
  return {
    name: 'file',
    options: (label) => ({ path: tmp.path(`${label}.smap`) }),
    unreachable: () => {
      const notADir = tmp.path('a-regular-file');
      writeFileSync(notADir, 'x');
      return { path: `${notADir}/sessions.smap` };
    },
    readyFails: true,
  };
}

export function testAdapter(driver: AdapterDriver, placeOf: (tmp: { path(name?: string): string }) => Place = filePlace): void {
  describe(`the ${driver.name} adapter${placeOf === filePlace ? '' : ' (another backend)'}`, () => {
    const tmp = useTmpDir();
    const place = placeOf(tmp);
    const opened: Array<Promise<SessionStore>> = [];

    afterEach(async () => {
      await Promise.all(opened.splice(0).map((p) => p.then((s) => s.close()).catch(() => undefined)));
    });

    /** An adapter on this test's file (or the options' path), closed after the test. */
    const create = (options: AdapterOptions = {}): DriverStore => {
      const d = driver.create({ ...place.options('sessions'), ...options });
      opened.push(d.ready);
      return d;
    };
    const record = async (d: DriverStore, id: string) => (await d.ready).getSession(id);

    it('gives nothing for an id it never stored', async () => {
      const d = create();
      expect(await d.get(newId())).toBeUndefined();
    });

    it('gives back what was stored, as a fresh copy on every read', async () => {
      const d = create();
      const id = newId();
      const data: Data = { user: 'ada', cart: [{ sku: 'A-1', qty: 2 }], flash: null, text: 'émoji 🎉 and "quotes"', n: 0, deep: { a: { b: { c: [1, 2, 3] } } } };
      await d.set(id, data, 60_000);
      const first = await d.get(id);
      expect(driver.strip(first!)).toEqual(data);
      (first!.cart as unknown[]).push('mutated');
      first!.user = 'mutated';
      const second = await d.get(id);
      expect(second).not.toBe(first);
      expect(driver.strip(second!)).toEqual(data);
    });

    it('replaces the data on the next save, keeping the creation time and the absolute deadline', async () => {
      const d = create();
      const id = newId();
      await d.set(id, { step: 1, keep: 'me' }, 60_000);
      const before = await record(d, id);
      await sleep(5);
      await d.set(id, { step: 2 }, 60_000);
      const after = await record(d, id);
      expect(driver.strip((await d.get(id))!)).toEqual({ step: 2 });
      expect(after!.version).toBeGreaterThan(before!.version);
      expect(after!.createdAt).toBe(before!.createdAt);
      expect(after!.absoluteExpiresAt).toBe(before!.absoluteExpiresAt);
    });

    it('forgets a destroyed session, and destroying an absent one succeeds', async () => {
      const d = create();
      const id = newId();
      await d.set(id, { a: 1 }, 60_000);
      await d.destroy(id);
      expect(await d.get(id)).toBeUndefined();
      expect(await record(d, id)).toBeUndefined();
      await d.destroy(id);
      await d.destroy(newId());
    });

    it("sets the session's deadline from the TTL the framework asks for", async () => {
      const d = create({ idleTimeout: 5 * 60_000 });
      const id = newId();
      const t0 = Date.now();
      await d.set(id, { a: 1 }, 90_000);
      const t1 = Date.now();
      const r = await record(d, id);
      expect(r!.expiresAt).toBeGreaterThanOrEqual(t0 + 90_000 - 20);
      expect(r!.expiresAt).toBeLessThanOrEqual(t1 + 90_000 + 20);
    });

    it('uses defaultTtl, else the idle timeout, for a session whose cookie has no expiry', async () => {
      const withDefault = create({ defaultTtl: 120_000, idleTimeout: 60_000 });
      const a = newId();
      let t0 = Date.now();
      await withDefault.set(a, { a: 1 });
      let t1 = Date.now();
      let r = await record(withDefault, a);
      expect(r!.expiresAt).toBeGreaterThanOrEqual(t0 + 120_000 - 20);
      expect(r!.expiresAt).toBeLessThanOrEqual(t1 + 120_000 + 20);

      const withIdle = create({ ...place.options('other'), idleTimeout: 45_000 });
      const b = newId();
      t0 = Date.now();
      await withIdle.set(b, { b: 1 });
      t1 = Date.now();
      r = await record(withIdle, b);
      expect(r!.expiresAt).toBeGreaterThanOrEqual(t0 + 45_000 - 20);
      expect(r!.expiresAt).toBeLessThanOrEqual(t1 + 45_000 + 20);
    });

    it('lets a session end once its TTL has passed', async () => {
      const d = create();
      const short = newId();
      const long = newId();
      await d.set(short, { a: 1 }, 300);
      await d.set(long, { b: 1 }, 60_000);
      await eventually('the short session to end', async () => (await d.get(short)) === undefined);
      expect(await record(d, short)).toBeUndefined();
      expect(driver.strip((await d.get(long))!)).toEqual({ b: 1 });
    });

    it('never lets a session outlive the absolute timeout, whatever TTL the framework asks for', async () => {
      const d = create({ absoluteTimeout: 400 });
      const id = newId();
      await d.set(id, { a: 1 }, 60_000);
      const r = await record(d, id);
      expect(r!.absoluteExpiresAt).toBe(r!.createdAt + 400);
      expect(r!.expiresAt).toBeLessThanOrEqual(r!.absoluteExpiresAt);
      await eventually('the session to reach its absolute deadline', async () => (await d.get(id)) === undefined);
      // Saving it again with a long TTL does not stretch it: the id is simply new to the store.
      await d.set(id, { a: 2 }, 60_000);
      const again = await record(d, id);
      expect(again!.absoluteExpiresAt).toBe(again!.createdAt + 400);
    });

    it('answers a malformed id with no session, and destroys nothing, without calling the store', async () => {
      const store = await openSessionStore(place.options('spied'));
      opened.push(Promise.resolve(store));
      const calls = instrument(store);
      const d = driver.create({ store });
      for (const bad of MALFORMED_IDS) {
        expect(await d.get(bad), JSON.stringify(bad)).toBeUndefined();
        await d.destroy(bad);
      }
      expect(Object.values(calls).reduce((a, b) => a + b, 0), JSON.stringify(calls)).toBe(0);
    });

    it('refuses to save under a malformed id, storing nothing', async () => {
      const d = create();
      for (const bad of MALFORMED_IDS) {
        const err = await d.set(bad, { a: 1 }, 60_000).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(isSessmapError(err, 'SESSMAP_ERR_INVALID_SESSION_ID'), `${JSON.stringify(bad)}: ${String(err)}`).toBe(true);
      }
      expect(await (await d.ready).countSessions()).toBe(0);
    });

    it('stores, reads, touches and destroys sessions under ids of any shape a framework can make', async () => {
      const d = create();
      for (const id of UNUSUAL_IDS) {
        await d.set(id, { id }, 60_000);
        expect(driver.strip((await d.get(id))!), JSON.stringify(id)).toEqual({ id });
      }
      const store = await d.ready;
      expect((await store.allSessions()).map((r) => r.id).sort()).toEqual(UNUSUAL_IDS.map((id) => store.handleOf(id)).sort());
      for (const id of UNUSUAL_IDS) {
        await d.destroy(id);
        expect(await d.get(id), JSON.stringify(id)).toBeUndefined();
      }
      expect(await store.countSessions()).toBe(0);
    });

    it('keeps fields it does not know, and files the session under its user (userId or passport.user)', async () => {
      const d = create();
      const viaPassport = newId();
      const viaUserId = newId();
      const passport = { user: 4242, extra: { roles: ['admin'] } };
      await d.set(viaPassport, { passport, returnTo: '/cart' }, 60_000);
      await d.set(viaUserId, { userId: 'grace', theme: 'dark' }, 60_000);
      expect(driver.strip((await d.get(viaPassport))!)).toEqual({ passport, returnTo: '/cart' });
      const store = await d.ready;
      expect((await store.sessionsOf('4242')).map((r) => r.id)).toEqual([store.handleOf(viaPassport)]);
      expect((await store.sessionsOf('grace')).map((r) => r.id)).toEqual([store.handleOf(viaUserId)]);
    });

    it('exposes the store underneath: an updateSession is what the next read sees', async () => {
      const d = create();
      const id = newId();
      await d.set(id, { n: 1, other: 'x' }, 60_000);
      const before = await d.get(id);
      const store = await d.ready;
      const r = await store.updateSession(id, (data) => ({ ...data, n: (data.n as number) + 1 }));
      expect(r?.data.n).toBe(2);
      const after = await d.get(id);
      expect(driver.strip(after!)).toEqual({ n: 2, other: 'x' });
      // What the framework keeps in the session (its cookie) survives the update.
      expect(Object.keys(after!).sort()).toEqual(Object.keys(before!).sort());
    });

    it('exposes the store underneath: regenerateSession moves the session to a new id', async () => {
      const d = create();
      const id = newId();
      await d.set(id, { userId: 'linus', cart: [1] }, 60_000);
      const moved = await (await d.ready).regenerateSession(id);
      expect(moved?.id).toBeTruthy();
      expect(moved!.id).not.toBe(id);
      expect(await d.get(id)).toBeUndefined();
      expect(driver.strip((await d.get(moved!.id))!)).toEqual({ userId: 'linus', cart: [1] });
    });

    it('exposes the store underneath: destroySessionsOf ends every session of a user', async () => {
      const d = create();
      const mine = [newId(), newId()];
      const theirs = newId();
      for (const id of mine) await d.set(id, { userId: 'margaret' }, 60_000);
      await d.set(theirs, { userId: 'katherine' }, 60_000);
      expect(await (await d.ready).destroySessionsOf('margaret')).toBe(2);
      for (const id of mine) expect(await d.get(id)).toBeUndefined();
      expect(driver.strip((await d.get(theirs))!)).toEqual({ userId: 'katherine' });
    });

    it("shares one store between adapters: each sees the other's writes at once", async () => {
      const a = create();
      const b = create();
      const id = newId();
      await a.set(id, { from: 'a' }, 60_000);
      expect(driver.strip((await b.get(id))!)).toEqual({ from: 'a' });
      await b.set(id, { from: 'b' }, 60_000);
      expect(driver.strip((await a.get(id))!)).toEqual({ from: 'b' });
      await a.destroy(id);
      expect(await b.get(id)).toBeUndefined();
    });

    it('uses the store it is given instead of opening a file', async () => {
      const store = await openSessionStore(place.options('given'));
      opened.push(Promise.resolve(store));
      const d = driver.create({ store, ...place.options('never-opened') });
      expect(await d.ready).toBe(store);
      const id = newId();
      await d.set(id, { a: 1 }, 60_000);
      expect((await store.getSession(id))?.data).toMatchObject({ a: 1 });
    });

    it('reports a store it cannot open or reach through each call, as an error and not a throw', async () => {
      const d = driver.create(place.unreachable());
      if (!place.readyFails) opened.push(d.ready);
      const id = newId();
      const outcomes = await Promise.all([d.get(id), d.set(id, { a: 1 }, 60_000), d.destroy(id)].map((p) => p.then(() => 'ok', (e: unknown) => e)));
      for (const o of outcomes) expect(o).toBeInstanceOf(Error);
      if (place.readyFails) await expect(d.ready).rejects.toBeInstanceOf(Error);
      else for (const o of outcomes) expect(o).toMatchObject({ code: 'SESSMAP_ERR_BACKEND_UNAVAILABLE' });
    });
  });
}
