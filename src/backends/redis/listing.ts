/**
 * The steps over every session: count, list, clear. On Redis Cluster they run on every master
 * (each master holds its own slots), and every command names keys of one slot: the buckets'
 * deadline indexes one at a time, SCAN on each master, one key per UNLINK. No CROSSSLOT error
 * can come from here. With hashed keys the buckets' deadline indexes are the listing (a session
 * is live when its deadline is after now); with plain keys, SCAN under the prefix is.
 */
import type { StoredSession } from '../../sessions/backend.js';
import type { RedisLink } from './connection.js';
import { BUCKETS, type KeyScheme } from './keys.js';
import { LIST_BUCKET } from './scripts.js';

/** Bucket calls in flight at once. */
const CONCURRENCY = 32;

async function eachBucket<T>(fn: (bucket: string) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array<T>(BUCKETS);
  let next = 0;
  const lane = async (): Promise<void> => {
    for (let b = next++; b < BUCKETS; b = next++) out[b] = await fn(b.toString(16).padStart(2, '0'));
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, lane));
  return out;
}

/** Every key under the prefix, master by master (SCAN: no blocking, no KEYS). */
async function scanAll(link: RedisLink, keys: KeyScheme, each: (key: string, send: (args: ReadonlyArray<string>) => Promise<unknown>) => Promise<void>): Promise<void> {
  for (const m of await link.masters()) {
    let cursor = '0';
    do {
      const r = (await m.send(['SCAN', cursor, 'MATCH', keys.scanPattern(), 'COUNT', '1000'])) as [string | number, string[]];
      cursor = String(r[0]);
      await Promise.all(r[1].map((k) => each(String(k), m.send)));
    } while (cursor !== '0');
  }
}

/** A session key of the plain layout (not one of sessmap's own keys under the prefix). */
function plainSession(keys: KeyScheme, key: string): string | undefined {
  return keys.tokenOfKey(key);
}

export async function countSessions(link: RedisLink, keys: KeyScheme, now: number): Promise<number> {
  if (keys.plain) {
    let n = 0;
    await scanAll(link, keys, async (k) => {
      if (plainSession(keys, k) !== undefined) n++;
    });
    return n;
  }
  const counts = await eachBucket(async (b) => {
    const dz = keys.deadlineKey(b);
    return Number(await link.send(dz, ['ZCOUNT', dz, `(${now}`, '+inf']));
  });
  return counts.reduce((a, c) => a + c, 0);
}

type Read = (id: string) => Promise<{ session: StoredSession; expiresAt: number } | undefined>;

export async function listSessions(link: RedisLink, keys: KeyScheme, now: number, read: Read): Promise<Array<[string, StoredSession]>> {
  const out: Array<[string, StoredSession]> = [];
  if (keys.plain) {
    await scanAll(link, keys, async (k) => {
      const id = plainSession(keys, k);
      if (id === undefined) return;
      const e = await read(id);
      if (e !== undefined) out.push([id, e.session]);
    });
    return out;
  }
  const parts = await eachBucket(async (b) => {
    const dz = keys.deadlineKey(b);
    return (await link.script(LIST_BUCKET, [dz], [now, '', '', keys.bucketSessionPrefix(b)])) as Array<string | number | null>;
  });
  for (const r of parts) {
    for (let i = 0; i + 7 < r.length; i += 8) {
      let d: unknown;
      try {
        d = JSON.parse(String(r[i + 2]));
      } catch {
        continue; // not a session sessmap wrote: left out of the listing
      }
      const s: StoredSession = { d, c: Number(r[i + 3]), a: Number(r[i + 4]), i: Number(r[i + 5]), v: Number(r[i + 6]) };
      if (r[i + 7] !== null && r[i + 7] !== undefined) s.u = String(r[i + 7]);
      out.push([keys.handleOf(String(r[i])), s]);
    }
  }
  return out;
}

/** Removes every key under the prefix but the digest secret (hosts keep their hashes). */
export async function clearAll(link: RedisLink, keys: KeyScheme): Promise<void> {
  await scanAll(link, keys, async (k, send) => {
    if (k !== keys.secretKey) await send(['UNLINK', k]);
  });
}
