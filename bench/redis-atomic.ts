/**
 * `npm run bench:redis-atomic`: why sessmap's atomic steps on Redis are Lua scripts rather than
 * WATCH/MULTI/EXEC loops. Two "hosts" (two connections each side) increment one session's
 * counter N times in all, with C updates in flight per host, three ways:
 *
 *   watch-multi     the optimistic transaction node-redis documents: WATCH key, GET, then
 *                   MULTI SET EXEC; an aborted EXEC (someone wrote in between) starts again. One
 *                   connection per updater (WATCH is per connection).
 *   sessmap         store.updateSession on two stores (the Redis backend): per host one update
 *                   of a session at a time, each a read script and a compare-and-set script.
 *   sessmap set     store.setSession (one PUT script: what a framework's save costs), for the
 *                   price of a write that needs no read.
 *
 * Reported: wall time, commands per successful update (INFO stats: each is a round trip, but for
 * MULTI..EXEC, which node-redis pipelines), attempts per update (watch-multi), and redis-server
 * CPU per update (/proc). Prints a table; docs/redis.md quotes it.
 */
import { createClient } from 'redis';
import { openSessionStore, type SessionStore } from '../src/index.js';
import { procCpuMicros } from './http/cpu.js';
import { benchRedis } from './http/redis.js';

const N = Number(process.env.N ?? 2000);
const C = Number(process.env.C ?? 16);

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Client = any;

async function connect(url: string): Promise<Client> {
  const c = createClient({ url });
  c.on('error', (err: Error) => console.error(`redis client: ${err.message}`));
  return c.connect();
}

/**
 * Commands run (those inside scripts included), and scripts called. Round trips, the calls a
 * client waits for, follow from them per way: WATCH + GET + EXEC (MULTI..EXEC is one) for
 * watch-multi; for sessmap a script each (setSession) or a read (HMGET) and a script per attempt
 * (updateSession), the HMGETs inside scripts being counted with the commands.
 */
async function commands(c: Client): Promise<{ run: number; trips: number; scripts: number }> {
  const stats = String(await c.info('commandstats'));
  const calls = (name: string): number => Number(new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
  const run = Number(/total_commands_processed:(\d+)/.exec(String(await c.info('stats')))?.[1] ?? 0);
  return { run, trips: calls('watch') + calls('get') + calls('exec'), scripts: calls('evalsha') + calls('eval') };
}

interface Result {
  name: string;
  ms: number;
  attempts: number;
  commands: number;
  trips: number;
  cpuMicros: number;
  final: number;
}

/** `prepare` (connections, stores) is not measured; what it returns runs measured. */
async function measure(name: string, tripsPerScript: number, admin: Client, pid: number, prepare: () => Promise<() => Promise<{ attempts: number; final: number }>>): Promise<Result> {
  await admin.flushAll();
  await admin.configResetStat();
  const run = await prepare();
  const c0 = await commands(admin);
  const cpu0 = procCpuMicros(pid) ?? 0;
  const t = performance.now();
  const { attempts, final } = await run();
  const ms = performance.now() - t;
  const c1 = await commands(admin);
  const scripts = c1.scripts - c0.scripts;
  return { name, ms, attempts: scripts > 0 ? scripts : attempts, commands: c1.run - c0.run - 2, trips: c1.trips - c0.trips + scripts * tripsPerScript, cpuMicros: (procCpuMicros(pid) ?? 0) - cpu0, final };
}

async function watchMulti(url: string): Promise<() => Promise<{ attempts: number; final: number }>> {
  const clients: Client[] = [];
  for (let i = 0; i < 2 * C; i++) clients.push(await connect(url));
  await clients[0]!.set('counter', '0');
  return async () => {
  let left = N;
  let attempts = 0;
  await Promise.all(
    clients.map(async (c) => {
      while (left > 0) {
        left--;
        for (;;) {
          attempts++;
          await c.watch('counter');
          const v = Number(await c.get('counter'));
          // node-redis v5+ rejects a transaction that WATCH aborted with a WatchError.
          const done = await c.multi().set('counter', String(v + 1)).exec().then(
            () => true,
            (err: Error) => {
              if (err.constructor.name !== 'WatchError') throw err;
              return false;
            },
          );
          if (done) break;
        }
      }
    }),
  );
  const final = Number(await clients[0]!.get('counter'));
  await Promise.all(clients.map((c) => c.quit()));
  return { attempts, final };
  };
}

async function sessmap(url: string, write: 'update' | 'set'): Promise<() => Promise<{ attempts: number; final: number }>> {
  // No sweep: its commands are a constant cost per second, not per update.
  const hosts: SessionStore[] = [await openSessionStore({ redis: { url }, sweepInterval: 0 }), await openSessionStore({ redis: { url }, sweepInterval: 0 })];
  const { id } = await hosts[0]!.createSession({ n: 0 });
  return async () => {
  let left = N;
  let i = 0;
  await Promise.all(
    hosts.flatMap((h) =>
      Array.from({ length: C }, async () => {
        while (left > 0) {
          left--;
          if (write === 'update') await h.updateSession(id, (d) => ({ ...d, n: (d.n as number) + 1 }));
          else await h.setSession(id, { n: ++i });
        }
      }),
    ),
  );
  const final = (await hosts[0]!.getSession(id))!.data.n as number;
  await Promise.all(hosts.map((h) => h.close()));
  return { attempts: N, final };
  };
}

const redis = await benchRedis('atomic');
const server = redis.server;
try {
  const admin = await connect(server.url);
  console.error('measuring...');
  const rows = [
    await measure('watch-multi', 0, admin, server.pid, () => watchMulti(server.url)),
    await measure('sessmap updateSession', 2, admin, server.pid, () => sessmap(server.url, 'update')),
    await measure('sessmap setSession', 1, admin, server.pid, () => sessmap(server.url, 'set')),
  ];
  await admin.quit();
  console.log(`${N} updates of one session from 2 hosts, ${C} in flight per host; redis-server ${server.version}, Node ${process.version}`);
  console.log('| way | wall ms | updates/s | attempts per update | round trips per update | commands run per update | redis-server CPU µs per update | final |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of rows) {
    console.log(`| ${r.name} | ${r.ms.toFixed(0)} | ${((N / r.ms) * 1000).toFixed(0)} | ${(r.attempts / N).toFixed(2)} | ${(r.trips / N).toFixed(2)} | ${(r.commands / N).toFixed(2)} | ${(r.cpuMicros / N).toFixed(1)} | ${r.final} |`);
  }
} finally {
  await redis.done();
}
