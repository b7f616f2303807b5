/**
 * The sweep of deadlines (hashed keys): every `sweepInterval` ms, each bucket's deadline index
 * is searched for sessions past their deadline, which one script per bucket removes and returns
 * (with their user and absolute deadline, read before the key goes). Every host sweeps; a
 * session is removed by exactly one of them (the script is atomic), which reports it on its feed
 * and relays the `expired` event to the others, so each host hears it once. Redis's own expiry
 * (keyspace notifications) is the backstop: a session key outlives its deadline by GRACE_MS, so
 * Redis reclaims it only when no host swept for that long.
 *
 * The bound: a session is reported within one interval (plus the sweep's own time) of its
 * deadline. A sweep that finds a full batch in a bucket sweeps again at once.
 */
import type { BackendChange } from '../../sessions/backend.js';
import type { RedisLink } from './connection.js';
import type { KeyScheme } from './keys.js';
import { SWEEP } from './scripts.js';

const BATCH = 500;
/** Bucket scripts in flight at once. */
const LANES = 16;

interface Sweepable {
  readonly link: RedisLink;
  readonly keys: KeyScheme;
  indexRemove(userId: string, id: string): Promise<void>;
}

/**
 * Sweeps every bucket once; returns how many sessions it removed. On a single server one script
 * call sweeps all 256 buckets; on Redis Cluster one call per bucket (its own slot), 16 at a time.
 */
export async function sweepOnce(b: Sweepable, now: number, report: (c: BackendChange) => void): Promise<number> {
  let removed = 0;
  const base = b.keys.bucketSessionPrefix('').slice(0, -2);
  const sweep = async (keys: string[]): Promise<void> => {
    for (;;) {
      const r = (await b.link.script(SWEEP, keys, [now, '', BATCH, base])) as Array<string | number | null>;
      for (let j = 1; j + 3 < r.length; j += 4) {
        const token = String(r[j]);
        const handle = b.keys.handleOf(token);
        const a = Number(r[j + 2] ?? 0);
        const u = r[j + 3] === null || r[j + 3] === undefined ? undefined : String(r[j + 3]);
        removed++;
        report({ id: handle, reason: 'expired', expiresAt: Number(r[j + 1]), session: { a, ...(u !== undefined ? { u } : {}) } });
        if (u !== undefined) void b.indexRemove(u, handle).catch(() => {});
      }
      if (Number(r[0]) !== 1) break;
    }
  };
  const all = b.keys.deadlineKeys();
  if (!b.link.cluster) {
    await sweep(all);
    return removed;
  }
  let next = 0;
  const lane = async (): Promise<void> => {
    for (let i = next++; i < all.length; i = next++) await sweep([all[i]!]);
  };
  await Promise.all(Array.from({ length: LANES }, lane));
  return removed;
}

/** Starts the periodic sweep; returns the function that stops it. Errors (Redis down) wait for the next round. */
export function startSweep(b: Sweepable, interval: number, clock: () => number, report: (c: BackendChange) => void): () => void {
  if (interval <= 0) return () => {};
  let running = false;
  let stopped = false;
  const timer = setInterval(() => {
    if (running || stopped || !b.link.up) return;
    running = true;
    sweepOnce(b, clock(), report)
      .catch(() => {
        // The link reports the outage; the next round tries again.
      })
      .finally(() => {
        running = false;
      });
  }, interval);
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
