/**
 * How a store on Redis sets itself up: the digest secret (created once in Redis and shared, or
 * given as an option and then never written there), keyspace notifications turned on where
 * CONFIG is allowed and one warning where it is refused (managed Redis), bad options refused
 * with a coded error, and the express store's `disconnect` / `connect` following Redis.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { Writable } from 'node:stream';
import { openSessionStore } from '../../src/index.js';
import { SessmapStore } from '../../src/adapters/express-session.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { useRedis } from '../support/redis-suite.js';
import { eventually } from '../support/wait.js';

function collecting(lines: string[]): pino.Logger {
  return pino({ level: 'debug' }, new Writable({ write(c, _e, cb) { lines.push(String(c)); cb(); } }));
}

describe('a store on Redis', () => {
  let server: RedisServer;
  let locked: RedisServer;
  beforeAll(async () => {
    [server, locked] = await Promise.all([startRedis(), startRedis(['--rename-command', 'CONFIG', ''])]);
  }, 30_000);
  afterAll(async () => {
    await Promise.all([server?.stop(), locked?.stop()]);
  });

  it('creates the digest secret once under the prefix; every store on it hashes ids alike', async () => {
    const a = await openSessionStore({ redis: { url: server.url, prefix: 'one:' } });
    const b = await openSessionStore({ redis: { url: server.url, prefix: 'one:' } });
    const other = await openSessionStore({ redis: { url: server.url, prefix: 'two:' } });
    try {
      expect(a.hashId('abc')).toBe(b.hashId('abc'));
      expect(other.hashId('abc')).not.toBe(a.hashId('abc'));
      expect(server.cli('STRLEN', 'one:sessmap:secret')).toBe('64');
    } finally {
      await Promise.all([a.close(), b.close(), other.close()]);
    }
  });

  it('uses a secret given as an option, and writes none into Redis', async () => {
    const secret = 'a secret of at least thirty-two characters, given';
    const a = await openSessionStore({ redis: { url: server.url, prefix: 'given:', secret } });
    const b = await openSessionStore({ redis: { url: server.url, prefix: 'given:', secret } });
    try {
      expect(a.hashId('abc')).toBe(b.hashId('abc'));
      const s = await a.createSession({ n: 1 });
      expect((await b.getSession(s.id))?.data).toEqual({ n: 1 });
      expect(server.cli('EXISTS', 'given:sessmap:secret')).toBe('0');
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('turns keyspace notifications on, keeping the flags already set', async () => {
    server.cli('CONFIG', 'SET', 'notify-keyspace-events', 'Kg');
    const s = await openSessionStore({ redis: { url: server.url, prefix: 'ks:' } });
    try {
      const flags = server.cli('CONFIG', 'GET', 'notify-keyspace-events').split('\n')[1]!;
      for (const f of ['K', 'g', 'E', 'x', 'e']) expect(flags, flags).toContain(f);
    } finally {
      await s.close();
    }
  });

  it('says so once per store, as a warning, when CONFIG is refused (managed Redis), and works', async () => {
    const lines: string[] = [];
    const logger = collecting(lines);
    const stores = [await openSessionStore({ redis: { url: locked.url }, logger }), await openSessionStore({ redis: { url: locked.url }, logger })];
    try {
      const warns = lines.filter((l) => l.includes('keyspace notifications'));
      expect(warns.length).toBe(2);
      expect(JSON.parse(warns[0]!).level).toBe(40);
      const made = await stores[0]!.createSession({ n: 1 });
      expect((await stores[1]!.getSession(made.id))?.data).toEqual({ n: 1 });
    } finally {
      await Promise.all(stores.map((x) => x.close()));
    }
  });

  it.each([
    [{ redis: {} }, /exactly one of url, rootNodes, client; got none/],
    [{ redis: { url: 'http://localhost' } }, /redis:\/\/ or rediss:\/\//],
    [{ redis: { url: 'redis://x', rootNodes: ['redis://y'] } }, /got url and rootNodes/],
    [{ redis: { url: 'redis://x', prefix: 'a{b}' } }, /prefix/],
    [{ redis: { url: 'redis://x', commandTimeout: -1 } }, /commandTimeout/],
    [{ redis: { url: 'redis://x', keys: 'clear' } }, /keys/],
    [{ redis: { url: 'redis://x', secret: 'short' } }, /secret/],
    [{ redis: 'redis://x' }, /must be an object/],
  ])('refuses %j with SESSMAP_ERR_INVALID_OPTION', async (options, message) => {
    await expect(openSessionStore(options as never)).rejects.toMatchObject({ code: 'SESSMAP_ERR_INVALID_OPTION', message: expect.stringMatching(message) });
  });

  it('makes the express store emit disconnect while Redis is gone, and connect once it is back', async () => {
    const own = await startRedis();
    const store = new SessmapStore({ redis: { url: own.url, commandTimeout: 300 } });
    const seen: string[] = [];
    store.on('disconnect', () => seen.push('disconnect'));
    store.on('connect', () => seen.push('connect'));
    try {
      const s = await store.ready;
      await eventually('connect', () => seen.includes('connect'));
      await own.kill();
      await eventually('disconnect', () => seen.includes('disconnect'), { timeoutMs: 5000 });
      await own.restart();
      await eventually('connect again', () => seen.filter((x) => x === 'connect').length === 2, { timeoutMs: 10_000 });
      expect(seen).toEqual(['connect', 'disconnect', 'connect']);
      expect((await s.createSession({ n: 1 })).data).toEqual({ n: 1 });
      await s.close();
    } finally {
      await own.stop();
    }
  });
});

describe("a user's index on Redis", () => {
  const redis = useRedis();

  it('loses the sessions the sweep expired, and those Redis evicted once the user logs in again', async () => {
    const prefix = 'idx:';
    const store = await openSessionStore({ redis: { url: redis.server.url, prefix }, idleTimeout: 200, sweepInterval: 100 });
    try {
      const members = (): string[] => {
        const keys = redis.server.cli('--scan', '--pattern', `${prefix}sessmap:u:*`).split('\n').filter(Boolean);
        return keys.flatMap((k) => redis.server.cli('ZRANGE', k, '0', '-1').split('\n').filter(Boolean));
      };
      const a = await store.createSession({ n: 1 }, { userId: 'ann' });
      expect(members()).toEqual([store.handleOf(a.id).slice(1)]);
      await eventually('the session swept and its index entry gone', () => members().length === 0, { timeoutMs: 5000 });

      // An eviction by Redis (the key gone, nothing told): dropped at the user's next login.
      const b = await store.createSession({ n: 2 }, { userId: 'ann', ttl: 60_000 });
      const bKey = redis.server.cli('--scan', '--pattern', `${prefix}s:*`).split('\n').filter(Boolean);
      expect(bKey).toHaveLength(1);
      redis.server.cli('DEL', bKey[0]!);
      const c = await store.createSession({ n: 3 }, { userId: 'ann', ttl: 60_000 });
      expect(members()).toEqual([store.handleOf(c.id).slice(1)]);
      expect(store.handleOf(b.id)).not.toBe(store.handleOf(c.id));
    } finally {
      await store.close();
    }
  });
});
