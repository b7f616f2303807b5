import { afterEach, describe, expect, it } from 'vitest';
import session from 'express-session';
import { SessmapStore } from '../../src/adapters/express-session.js';
import type { AdapterOptions } from '../../src/adapters/find-store.js';
import { useTmpDir } from '../helpers/tmp.js';
import { expressCookie } from './drivers.js';
import { newId } from './contract.js';
import { eventually, sleep } from '../support/wait.js';

/** A node-style callback; its value is typed by `call`'s caller. */
type Cb = (err?: unknown, value?: any) => void;
type Sess = Record<string, unknown> & { cookie: session.Cookie };

/** The callback API as a promise (the callback must be called exactly once; a second call fails the run). */
function call<T>(fn: (cb: Cb) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    let n = 0;
    fn((err, value) => {
      if (++n > 1) process.nextTick(() => { throw new Error('callback called twice'); });
      else if (err) reject(err as Error);
      else resolve(value as T);
    });
  });
}

/** A session as express-session hands it to the store. */
function sess(data: Record<string, unknown>, cookie: session.Cookie = expressCookie(60_000)): session.SessionData {
  return { ...data, cookie } as unknown as session.SessionData;
}

describe('the express-session store (SessmapStore)', () => {
  const tmp = useTmpDir();
  const stores: SessmapStore[] = [];
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.ready.then((r) => r.close()).catch(() => undefined)));
  });
  const open = (o: AdapterOptions = {}): SessmapStore => {
    const s = new SessmapStore({ path: tmp.path(), ...o });
    stores.push(s);
    return s;
  };

  it('is an express-session Store that the middleware can mount', async () => {
    const store = open();
    expect(store).toBeInstanceOf(session.Store);
    // The middleware assigns generate and listens for connect / disconnect: the store must allow it.
    expect(() => session({ store, secret: 'x', resave: false, saveUninitialized: false })).not.toThrow();
    expect(typeof (store as unknown as { generate?: unknown }).generate).toBe('function');
    expect(store.listenerCount('connect')).toBeGreaterThan(0);
  });

  it('emits connect once, when it has attached to its file', async () => {
    const store = open();
    let connects = 0;
    store.on('connect', () => connects++);
    await store.ready;
    await sleep(20);
    expect(connects).toBe(1);
    await call<void>((cb) => store.set(newId(), sess({ a: 1 }), cb));
    await sleep(20);
    expect(connects).toBe(1);
  });

  it('get gives a fresh object with the cookie and every field it does not know (passport)', async () => {
    const store = open();
    const id = newId();
    const cookie = expressCookie(60_000);
    await call<void>((cb) => store.set(id, sess({ passport: { user: 'u-1' }, flash: { info: ['hi'] } }, cookie), cb));
    const a = (await call<Sess | null>((cb) => store.get(id, cb)))!;
    const b = (await call<Sess | null>((cb) => store.get(id, cb)))!;
    expect(a).not.toBe(b);
    expect(a.passport).toEqual({ user: 'u-1' });
    expect(a.flash).toEqual({ info: ['hi'] });
    // (express-session's Cookie computes originalMaxAge from the clock: a ms may pass while it does.)
    expect(a.cookie).toMatchObject({ originalMaxAge: cookie.originalMaxAge, httpOnly: true, path: '/' });
    expect(new Date(a.cookie.expires as unknown as string).getTime()).toBe(cookie.expires!.getTime());
    (a.passport as { user: string }).user = 'changed';
    expect(((await call<Sess | null>((cb) => store.get(id, cb)))!.passport as { user: string }).user).toBe('u-1');
    // express-session turns it back into a Session with a Cookie through the store's own load.
    const loaded = await call<session.Session & Sess>((cb) => store.load(id, cb as never));
    expect(loaded.cookie).toBeInstanceOf(session.Cookie);
    expect(loaded.passport).toEqual({ user: 'u-1' });
  });

  it('get answers null for a session it does not have', async () => {
    const store = open();
    expect(await call<Sess | null>((cb) => store.get(newId(), cb))).toBeNull();
  });

  it('takes the TTL from cookie.expires, and uses the default when maxAge is null', async () => {
    const store = open({ defaultTtl: 200_000 });
    const s = await store.ready;
    const withMaxAge = newId();
    const withExpires = newId();
    const browserSession = newId();
    const expires = new Date(Date.now() + 75_000);
    const explicit = expressCookie(undefined);
    explicit.expires = expires;
    const t0 = Date.now();
    await call<void>((cb) => store.set(withMaxAge, sess({ a: 1 }, expressCookie(30_000)), cb));
    await call<void>((cb) => store.set(withExpires, sess({ a: 2 }, explicit), cb));
    await call<void>((cb) => store.set(browserSession, sess({ a: 3 }, expressCookie(undefined)), cb));
    const t1 = Date.now();
    const near = (v: number | undefined, lo: number, hi: number): void => {
      expect(v).toBeGreaterThanOrEqual(lo - 20);
      expect(v).toBeLessThanOrEqual(hi + 20);
    };
    near((await s.getSession(withMaxAge))?.expiresAt, t0 + 30_000, t1 + 30_000);
    // The deadline is the cookie's expires (plus however long the write itself took).
    near((await s.getSession(withExpires))?.expiresAt, expires.getTime(), expires.getTime() + (t1 - t0));
    near((await s.getSession(browserSession))?.expiresAt, t0 + 200_000, t1 + 200_000);
  });

  it('touch moves the deadline in place and never rewrites the data', async () => {
    const store = open();
    const s = await store.ready;
    const id = newId();
    await call<void>((cb) => store.set(id, sess({ views: 1 }, expressCookie(30_000)), cb));
    const before = (await s.getSession(id))!;
    await sleep(10);
    // What express-session passes to touch may differ from what is stored (touch must not write it).
    const t0 = Date.now();
    await call<void>((cb) => store.touch(id, sess({ views: 999 }, expressCookie(90_000)), cb));
    const after = (await s.getSession(id))!;
    expect(after.version).toBe(before.version);
    expect(after.data).toEqual(before.data);
    expect(after.expiresAt).toBeGreaterThan(before.expiresAt);
    expect(after.expiresAt).toBeGreaterThanOrEqual(t0 + 90_000 - 20);
  });

  it('touch does not bring back a session that is gone', async () => {
    const store = open();
    const id = newId();
    await call<void>((cb) => store.touch(id, sess({ views: 1 }), cb));
    expect(await call<Sess | null>((cb) => store.get(id, cb))).toBeNull();
    expect(await call<number>((cb) => store.length(cb))).toBe(0);
  });

  it('all gives every live session keyed by id, length counts them, clear removes them', async () => {
    const store = open();
    const ids = [newId(), newId(), newId()];
    for (const [i, id] of ids.entries()) await call<void>((cb) => store.set(id, sess({ i, userId: `user-${i}` }), cb));
    await call<void>((cb) => store.set(newId(), sess({ gone: true }, expressCookie(50)), cb));
    await sleep(120);

    const all = (await call<Record<string, Sess>>((cb) => store.all(cb)))!;
    expect(Object.keys(all).sort()).toEqual([...ids].sort());
    for (const [i, id] of ids.entries()) expect(all[id]).toMatchObject({ i, userId: `user-${i}`, cookie: { originalMaxAge: expect.any(Number), httpOnly: true } });
    // Per-user index entries are not sessions.
    expect(await call<number>((cb) => store.length(cb))).toBe(3);

    await call<void>((cb) => store.clear(cb));
    expect(await call<number>((cb) => store.length(cb))).toBe(0);
    expect(await call<Record<string, Sess>>((cb) => store.all(cb))).toEqual({});
  });

  it('set and destroy work without a callback, and call one once when given', async () => {
    const store = open();
    const id = newId();
    store.set(id, sess({ a: 1 }));
    await eventually('the set without a callback to land', async () => (await call<Sess | null>((cb) => store.get(id, cb))) !== null);
    store.destroy(id);
    await eventually('the destroy without a callback to land', async () => (await call<Sess | null>((cb) => store.get(id, cb))) === null);
    store.destroy('malformed');

    let calls = 0;
    store.set(newId(), sess({ b: 1 }), () => calls++);
    store.destroy(newId(), () => calls++);
    store.destroy('malformed', () => calls++);
    store.touch(newId(), sess({}), () => calls++);
    await eventually('all four callbacks', async () => calls >= 4);
    // And no callback a second time.
    await sleep(100);
    expect(calls).toBe(4);
  });

  it('returns a promise from every method called without a callback (await store.get(id), as with connect-redis)', async () => {
    const store = open();
    const id = newId();
    await expect(store.set(id, sess({ a: 1 }))).resolves.toBeUndefined();
    expect(await store.get(id)).toMatchObject({ a: 1, cookie: { originalMaxAge: 60_000 } });
    expect(await store.get(newId())).toBeNull();
    expect(await store.get('malformed\n')).toBeNull();
    await expect(store.touch(id, sess({ a: 1 }, expressCookie(120_000)))).resolves.toBeUndefined();
    const r = await (await store.ready).getSession(id);
    expect(r!.expiresAt).toBeGreaterThan(Date.now() + 100_000);
    expect(await store.length()).toBe(1);
    expect(Object.keys(await store.all())).toEqual([id]);
    await expect(store.destroy(id)).resolves.toBeUndefined();
    await expect(store.destroy('malformed\n')).resolves.toBeUndefined();
    expect(await store.get(id)).toBeNull();
    await store.set(newId(), sess({ b: 1 }));
    await expect(store.clear()).resolves.toBeUndefined();
    expect(await store.length()).toBe(0);
  });

  it('calls a given callback once and returns no promise', async () => {
    const store = open();
    const id = newId();
    let calls = 0;
    const returned = [
      store.set(id, sess({ a: 1 }), () => calls++),
      store.get(id, () => calls++),
      store.touch(id, sess({ a: 1 }), () => calls++),
      store.length(() => calls++),
      store.all(() => calls++),
      store.destroy(id, () => calls++),
      store.clear(() => calls++),
    ];
    expect(returned).toEqual(Array(7).fill(undefined));
    await eventually('all seven callbacks', async () => calls >= 7);
    // And no callback a second time.
    await sleep(100);
    expect(calls).toBe(7);
  });

  it('rejects the promise of a failed call made without a callback', async () => {
    const store = open();
    await expect(store.set('no\ngood', sess({ a: 1 }))).rejects.toMatchObject({ code: 'SESSMAP_ERR_INVALID_SESSION_ID' });
  });

  it('destroys the session on a set whose cookie has already expired: not stored, not counted', async () => {
    const store = open();
    const id = newId();
    await store.set(id, sess({ a: 1 }));
    const expired = expressCookie(60_000);
    expired.expires = new Date(Date.now() - 1_000);
    await store.set(id, sess({ a: 2 }, expired));
    expect(await store.get(id)).toBeNull();
    expect(await store.length()).toBe(0);
    expect(await store.all()).toEqual({});
    // Nor is a new one stored.
    await store.set(newId(), sess({ a: 3 }, expired));
    expect(await store.length()).toBe(0);
  });

  it('reports a failed set through its callback, and through an error event without one', async () => {
    const store = open();
    await store.ready;
    const err = await call<void>((cb) => store.set('no\ngood', sess({ a: 1 }), cb)).then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ code: 'SESSMAP_ERR_INVALID_SESSION_ID' });
    const emitted = new Promise<unknown>((resolve) => store.once('error', resolve));
    // Not awaited: the error event reports it, and the process lives on (no unhandled rejection).
    void store.set('no\ngood either', sess({ a: 1 }));
    expect(await emitted).toMatchObject({ code: 'SESSMAP_ERR_INVALID_SESSION_ID' });
  });
});
