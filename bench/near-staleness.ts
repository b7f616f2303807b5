/**
 * `npm run bench:near-staleness`: how long a change made on one host stays unseen on another
 * host's near-cache. Two hosts (two stores in one process, each with a near-cache file and an
 * invalidation channel of its own) on a redis-server started here: host B reads the session in
 * a tight loop (from its near-cache), host A writes it every 10 ms with the write's number; for
 * each write, the time from A's write returning to B first reading it. Also under load: 50
 * concurrent readers on B while it runs. Prints p50 / p99 / max in ms (docs/benchmarks.md).
 */
import { join } from 'node:path';
import { openSessionStore, type SessionStore } from '../src/index.js';
import { benchRedis } from './http/redis.js';

const WRITES = Number(process.env.WRITES ?? 300);
const READERS = Number(process.env.READERS ?? 50);

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

async function run(a: SessionStore, b: SessionStore, readers: number): Promise<number[]> {
  const { id } = await a.createSession({ n: 0 });
  await b.getSession(id);
  const writtenAt = new Map<number, number>();
  const seen: number[] = [];
  let last = 0;
  let done = false;
  const loops = Array.from({ length: readers }, async () => {
    while (!done) {
      const r = await b.getSession(id);
      const n = (r?.data.n as number | undefined) ?? 0;
      const t = writtenAt.get(n);
      if (n > last && t !== undefined) {
        for (let k = last + 1; k <= n; k++) {
          const tk = writtenAt.get(k);
          if (tk !== undefined) seen.push(performance.now() - tk);
        }
        last = n;
      }
      await new Promise((r2) => setImmediate(r2));
    }
  });
  for (let n = 1; n <= WRITES; n++) {
    await a.setSession(id, { n });
    writtenAt.set(n, performance.now());
    await new Promise((r) => setTimeout(r, 10));
  }
  await new Promise((r) => setTimeout(r, 200));
  done = true;
  await Promise.all(loops);
  return seen.sort((x, y) => x - y);
}

const redis = await benchRedis('near');
const server = redis.server;
try {
  const host = (name: string) => openSessionStore({ redis: { url: server.url, nearCache: { path: join(redis.dir, `${name}.smap`), size: '4m' } } });
  const [a, b] = [await host('a'), await host('b')];
  await new Promise((r) => setTimeout(r, 300));
  console.log(`${WRITES} writes on host A, 10 ms apart; host B reading; redis-server ${server.version}, Node ${process.version}`);
  console.log('| host B readers | changes seen | p50 ms | p99 ms | max ms | B near-cache hits / misses |');
  console.log('| ---: | ---: | ---: | ---: | ---: | --- |');
  for (const readers of [1, READERS]) {
    const before = b.backendStats?.() ?? {};
    const s = await run(a, b, readers);
    const after = b.backendStats?.() ?? {};
    const hits = (after.nearHits ?? 0) - (before.nearHits ?? 0);
    const misses = (after.nearMisses ?? 0) - (before.nearMisses ?? 0);
    console.log(`| ${readers} | ${s.length} | ${pct(s, 0.5).toFixed(2)} | ${pct(s, 0.99).toFixed(2)} | ${s[s.length - 1]!.toFixed(2)} | ${hits} / ${misses} |`);
  }
  await Promise.all([a.close(), b.close()]);
} finally {
  await redis.done();
}
