/**
 * Moving from connect-redis without logging anyone out (docs/redis.md): sessions connect-redis
 * wrote under `sess:<id>` are read by sessmap with `redis: { keys: 'plain' }` as they were, are
 * touched without being rewritten, turn into sessmap's own on their first save, can be destroyed,
 * and the listings and counts include them.
 */
import { describe, expect, it } from 'vitest';
import { createClient } from 'redis';
import { RedisStore } from 'connect-redis';
import type session from 'express-session';
import { SessmapStore } from '../../src/adapters/express-session.js';
import { useRedis } from '../support/redis-suite.js';

type Cb<T = unknown> = (err?: unknown, value?: T) => void;
const call = <T>(fn: (cb: Cb<T>) => void): Promise<T> => new Promise((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v as T))));

describe('sessions connect-redis wrote, read by sessmap with plain keys', () => {
  const redis = useRedis();

  it('are read as they were, touched, saved as sessmap sessions, listed and destroyed', async () => {
    const client = await createClient({ url: redis.server.url }).connect();
    const old = new RedisStore({ client, prefix: 'sess:' });
    const expires = new Date(Date.now() + 3_600_000);
    const data = (user: string) => ({ cookie: { originalMaxAge: 3_600_000, expires, httpOnly: true, path: '/' }, passport: { user }, cart: [1, 2] }) as unknown as session.SessionData;
    await call((cb) => old.set('legacy-one', data('ada'), cb));
    await call((cb) => old.set('legacy-two', data('bob'), cb));
    expect(redis.server.cli('TYPE', 'sess:legacy-one')).toBe('string');

    const store = new SessmapStore({ redis: { url: redis.server.url, prefix: 'sess:', keys: 'plain' } });
    try {
      const s = await store.ready;
      const read = await call<session.SessionData | null>((cb) => store.get('legacy-one', cb));
      expect(read).toMatchObject({ passport: { user: 'ada' }, cart: [1, 2] });
      expect(await s.countSessions()).toBe(2);
      expect((await s.allSessions()).map((r) => r.id).sort()).toEqual(['legacy-one', 'legacy-two']);

      // A touch moves the deadline and leaves connect-redis's value as it was.
      await call((cb) => store.touch('legacy-one', read!, cb));
      expect(redis.server.cli('TYPE', 'sess:legacy-one')).toBe('string');

      // The first save turns it into sessmap's own; its data and its user go along.
      await call((cb) => store.set('legacy-one', { ...read!, cart: [3] } as session.SessionData, cb));
      expect(redis.server.cli('TYPE', 'sess:legacy-one')).toBe('hash');
      expect(await call<session.SessionData | null>((cb) => store.get('legacy-one', cb))).toMatchObject({ passport: { user: 'ada' }, cart: [3] });
      expect((await s.sessionsOf('ada')).map((r) => r.id)).toEqual(['legacy-one']);

      await call((cb) => store.destroy('legacy-two', cb));
      expect(redis.server.cli('EXISTS', 'sess:legacy-two')).toBe('0');
      expect(await s.countSessions()).toBe(1);
      await s.close();
    } finally {
      await client.quit();
    }
  });
});
