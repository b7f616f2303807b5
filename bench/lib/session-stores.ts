/**
 * The stores of the `redis-get` scenario: session reads that return a Promise, behind one small
 * interface so the scenario runs the same loop over each (each in its own child process, as the
 * synchronous stores of stores.ts are). Plain node-redis GET of the session's JSON is the floor
 * any store on Redis pays; sessmap's session store on Redis, with and without its near-cache,
 * and on the file for reference.
 *
 * sessmap and node-redis are loaded with import() when a store is opened, so the runner starts
 * (and reports why) when src/ does not import.
 */
import type { SessionData, SessionServiceOptions, SessionStore } from '../../src/index.js';
import { warmAsync } from './measure.js';

export type ReadStoreKind = 'redis' | 'redis-untimed' | 'sessmap-redis' | 'sessmap-near' | 'sessmap-file';
export const READ_STORE_KINDS: readonly ReadStoreKind[] = ['redis', 'redis-untimed', 'sessmap-redis', 'sessmap-near', 'sessmap-file'];

/** The row labels of the report. */
export const READ_STORE_LABELS: Record<ReadStoreKind, string> = {
  redis: 'redis GET + JSON.parse',
  'redis-untimed': 'redis GET + JSON.parse, no per-command timeout',
  'sessmap-redis': 'sessmap on Redis',
  'sessmap-near': 'sessmap on Redis + near-cache (hits)',
  'sessmap-file': 'sessmap (file)',
};

/** What each store is, for the report. */
export const READ_STORE_NOTES: Record<ReadStoreKind, string> = {
  redis:
    "node-redis `createClient({ url })`; the session's JSON (the bytes sessmap keeps as its data) under its id with SET, read with `GET` and `JSON.parse`: one round trip, nothing else (connect-redis's read). node-redis 6 gives every command a 5 s timeout by default: an `AbortSignal.timeout` and its listener per command",
  'redis-untimed':
    'the same with `createClient({ url, commandOptions: { timeout: 0 } })`: no timeout, no AbortSignal per command (what a client pays that bounds its calls some other way, as sessmap\'s link does with one interval timer)',
  'sessmap-redis': '`openSessionStore({ redis: { url }, sweepInterval: 0 })`, `getSession(id)`: one HMGET of the session hash (data, deadlines, version)',
  'sessmap-near':
    '`openSessionStore({ redis: { url, nearCache: true }, sweepInterval: 0 })` (near-cache file 16m, copies kept 5 s, its own invalidation channel), `getSession(id)`; the sessions loaded by another store on the same Redis, then every one read once before each timed phase, so the gets are served from the near-cache',
  'sessmap-file': '`openSessionStore({ path, sweepInterval: 0 })` (file 64m on the run\'s store directory), `getSession(id)`: no network',
};

export interface ReadStore {
  readonly kind: ReadStoreKind;
  /** The session's data, or undefined when it is not there. */
  get(key: string): Promise<unknown>;
  /** The near-cache's hits and misses in this process so far (undefined: the store has none). */
  near(): { hits: number; misses: number } | undefined;
  close(): Promise<void>;
}

/** Where the stores live (the benchmark's redis-server, a file for the store on the file), and what they hold. */
export interface ReadStorePlace {
  url: string;
  path: string;
  keys: readonly string[];
  /** Written under `keys[i]`, `inFlight` writes at a time, before the store is handed over. */
  values: readonly object[];
  inFlight: number;
}

type Sessmap = typeof import('../../src/index.js');

async function loadSessmap(): Promise<Sessmap> {
  return (await import(new URL('../../src/index.ts', import.meta.url).href)) as Sessmap;
}

/** The slice of a node-redis client the floor uses. */
interface RedisClient {
  get(key: string): Promise<string | null>;
  set(key: string, value: string): Promise<unknown>;
  close(): Promise<void>;
}

/** The floor: GET, then JSON.parse of the reply. */
function plainRedisStore(kind: ReadStoreKind, client: RedisClient): ReadStore {
  return {
    kind,
    async get(key) {
      const s = await client.get(key);
      return s === null ? undefined : JSON.parse(s);
    },
    near: () => undefined,
    close: () => client.close(),
  };
}

function sessmapReadStore(kind: ReadStoreKind, store: SessionStore): ReadStore {
  return {
    kind,
    get: async (key) => (await store.getSession(key))?.data,
    near() {
      const c = store.backendStats?.();
      return c?.nearHits === undefined ? undefined : { hits: c.nearHits, misses: c.nearMisses ?? 0 };
    },
    close: () => store.close(),
  };
}

/** Writes the place's sessions with `write`, `inFlight` at a time. */
function load(at: ReadStorePlace, write: (key: string, value: object) => Promise<unknown>): Promise<void> {
  return warmAsync(at.keys.length, at.inFlight, (i) => write(at.keys[i], at.values[i]));
}

/** A store of `kind` holding the place's sessions. */
export async function openReadStore(kind: ReadStoreKind, at: ReadStorePlace): Promise<ReadStore> {
  if (kind === 'redis' || kind === 'redis-untimed') {
    const { createClient } = await import('redis');
    const client = createClient({ url: at.url, ...(kind === 'redis-untimed' ? { commandOptions: { timeout: 0 } } : {}) });
    client.on('error', (err: Error) => console.error(`redis client: ${err.message}`));
    await client.connect();
    await load(at, (k, v) => client.set(k, JSON.stringify(v)));
    return plainRedisStore(kind, client);
  }
  const { openSessionStore } = await loadSessmap();
  // No sweep: its commands are a cost per second, not per read.
  const options: Partial<Record<ReadStoreKind, SessionServiceOptions>> = {
    'sessmap-redis': { redis: { url: at.url }, sweepInterval: 0 },
    'sessmap-near': { redis: { url: at.url, nearCache: true }, sweepInterval: 0 },
    'sessmap-file': { path: at.path, sweepInterval: 0 },
  };
  // The near-cache's store opens after the load (by a store without one): the load's writes
  // would each be an invalidation on its channel, and a read back from Redis.
  const loader = await openSessionStore(options[kind === 'sessmap-near' ? 'sessmap-redis' : kind]);
  await load(at, (k, v) => loader.setSession(k, v as SessionData));
  if (kind !== 'sessmap-near') return sessmapReadStore(kind, loader);
  await loader.close();
  return sessmapReadStore(kind, await openSessionStore(options[kind]));
}
