/**
 * `npm run bench:redis-expiry`: how soon after its deadline a session's `expired` event reaches
 * every host on Redis (the figure the two-host test leaves to a benchmark). Two hosts (two
 * stores in one process, each sweeping and relaying) on a redis-server started here; 300
 * sessions with idle timeouts of 0.3 to 3.3 s made on either host; for each host, the delay from
 * each deadline to the host's `expired` event. The documented bound is sweepInterval (1000 ms
 * here, the default) + 500 ms.
 */
import { openSessionStore } from '../src/index.js';
import { benchRedis } from './http/redis.js';

const SESSIONS = 300;

const redis = await benchRedis('expiry');
const server = redis.server;
try {
  const hosts = [await openSessionStore({ redis: { url: server.url } }), await openSessionStore({ redis: { url: server.url } })];
  const deadlines = new Map<string, number>();
  const delays: number[][] = [[], []];
  hosts.forEach((h, i) =>
    h.events.on('expired', (e) => {
      const d = deadlines.get(e.sid);
      if (d !== undefined) delays[i]!.push(Date.now() - d);
    }),
  );
  for (let n = 0; n < SESSIONS; n++) {
    const r = await hosts[n % 2]!.createSession({ n }, { ttl: 300 + Math.floor(Math.random() * 3000) });
    deadlines.set(hosts[0]!.hashId(r.id), r.expiresAt);
  }
  await new Promise((r) => setTimeout(r, 6000));
  console.log(`${SESSIONS} sessions, sweepInterval 1000 ms; redis-server ${server.version}, Node ${process.version}`);
  console.log('| host | expired events | p50 ms after the deadline | p99 ms | max ms |');
  console.log('| --- | ---: | ---: | ---: | ---: |');
  for (const [i, d] of delays.entries()) {
    d.sort((a, b) => a - b);
    const at = (p: number): number => d[Math.min(d.length - 1, Math.floor(d.length * p))] ?? NaN;
    console.log(`| ${i === 0 ? 'A' : 'B'} | ${d.length} | ${at(0.5)} | ${at(0.99)} | ${d[d.length - 1] ?? NaN} |`);
  }
  await Promise.all(hosts.map((h) => h.close()));
} finally {
  await redis.done();
}
