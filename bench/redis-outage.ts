/**
 * `npm run bench:redis-outage`: what calls on the Redis backend cost while Redis goes away and
 * comes back (the figures the outage tests leave to a benchmark). One store with commandTimeout
 * 300 ms reads a session in a loop for 6 s; 1 s in, redis-server is killed with -9 and, 1.5 s
 * later, started again on the same port; then the same with SIGSTOP and SIGCONT. Reported per
 * fault: calls, failed calls, the slowest call and the slowest failed one (the bound is
 * commandTimeout + 50 ms), and how long after Redis was back the last call failed.
 */
import { openSessionStore } from '../src/index.js';
import { benchRedis, startRedis, type RedisServer } from './http/redis.js';

const TIMEOUT = 300;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const redis = await benchRedis('outage');
const { bin, dir } = redis;
let server: RedisServer = redis.server;
const port = Number(new URL(server.url).port);
const store = await openSessionStore({ redis: { url: server.url, commandTimeout: TIMEOUT } });
console.log(`commandTimeout ${TIMEOUT} ms; redis-server ${server.version}, Node ${process.version}`);
console.log('| fault | calls | failed | slowest call ms | slowest failed call ms | last failure after Redis was back, ms |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
try {
  for (const fault of ['kill -9, restart', 'SIGSTOP, SIGCONT'] as const) {
    const { id } = await store.createSession({ n: 1 });
    const calls: Array<{ ok: boolean; ms: number; at: number }> = [];
    let back = 0;
    const driver = (async () => {
      await sleep(1000);
      if (fault === 'kill -9, restart') {
        process.kill(server.pid, 'SIGKILL');
        await sleep(1500);
        server = await startRedis(bin, dir, 1, port);
      } else {
        process.kill(server.pid, 'SIGSTOP');
        await sleep(1500);
        process.kill(server.pid, 'SIGCONT');
      }
      back = Date.now();
    })();
    const end = Date.now() + 6000;
    while (Date.now() < end) {
      const t = Date.now();
      try {
        await store.getSession(id);
        calls.push({ ok: true, ms: Date.now() - t, at: t });
      } catch {
        calls.push({ ok: false, ms: Date.now() - t, at: t });
        await sleep(5);
      }
    }
    await driver;
    const failed = calls.filter((c) => !c.ok);
    const slowest = (xs: typeof calls): number => xs.reduce((m, c) => Math.max(m, c.ms), 0);
    const lastFailure = failed.reduce((m, c) => Math.max(m, c.at), 0);
    console.log(`| ${fault} | ${calls.length} | ${failed.length} | ${slowest(calls)} | ${slowest(failed)} | ${failed.length === 0 ? '-' : lastFailure - back} |`);
    await sleep(1500);
  }
} finally {
  await store.close();
  if (server !== redis.server) await server.stop();
  await redis.done();
}
