/**
 * Scenario `redis-get`: session reads on Redis, where every get is a Promise. On one
 * redis-server started here (skipped, with a message, where there is none): a plain node-redis
 * GET of the session's JSON (the floor), sessmap's session store on Redis, the same with its
 * near-cache (every session read once first: the gets are hits), and sessmap on the file for
 * reference. Each store runs in its own child, on the same sessions and the same random ids, with
 * 1 and then 16 gets in flight; CPU per get of the child (getrusage) and of redis-server (/proc).
 */
import { mkdirSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLOCK, machineBusyTicks, procCpuMicros } from './http/cpu.js';
import { findRedisServer, startRedis, type RedisServer } from './http/redis.js';
import { SEED, STOLEN_WARN, type Counts, type Row, type RunContext, type Scenario, type ScenarioResult } from './lib/config.js';
import { runTask } from './lib/fork.js';
import { fmtOps, fmtRatio, fmtStolen, fmtUs, table } from './lib/format.js';
import { collectGarbage, RETRY_STOLEN, timeQuietAsync, warmAsync, type Timing } from './lib/measure.js';
import { openReadStore, READ_STORE_KINDS, READ_STORE_LABELS, READ_STORE_NOTES, type ReadStoreKind } from './lib/session-stores.js';
import { makeWorkload } from './lib/workload.js';

const MODULE = fileURLToPath(import.meta.url);
/** Gets in flight in the timed phases: one at a time, then as a busy app server has them. */
const IN_FLIGHT = [1, 16] as const;
/** Writes in flight while loading, and reads in flight while reading every session once. */
const FILL_IN_FLIGHT = 16;

interface ReadArgs {
  store: ReadStoreKind;
  url: string;
  /** redis-server's pid, for its CPU time; undefined for the store on the file. */
  redisPid: number | undefined;
  path: string;
  counts: Counts;
}

/** One timed phase. CPU figures are microseconds over the phase; undefined where not measured. */
interface ReadPhase {
  inFlight: number;
  timing: Timing & { attempts: number };
  /** Share of the machine's CPU time (all CPUs) that other processes used over the phase. */
  otherLoad: number;
  nodeCpuMicros: number;
  redisCpuMicros: number | undefined;
  hits: number | undefined;
  misses: number | undefined;
  /** Gets that found nothing (every id was loaded: should be 0). */
  notFound: number;
}

interface ReadOut {
  phases: ReadPhase[];
  checks: string[];
}

/** Child task: load the sessions, then per number in flight read every one once and time random gets. */
export async function redisGetTask(args: ReadArgs): Promise<ReadOut> {
  const { counts } = args;
  const { keys, sessions, idx } = makeWorkload(SEED, { entries: counts.redisEntries, ops: counts.redisGets, setRatio: 0 });
  const store = await openReadStore(args.store, { url: args.url, path: args.path, keys, values: sessions, inFlight: FILL_IN_FLIGHT });
  const checks: string[] = [];
  if (JSON.stringify(await store.get(keys[0])) !== JSON.stringify(sessions[0])) checks.push('get(keys[0]) differs from what was set');
  const counters = (): number[] => {
    const cpu = process.cpuUsage();
    const near = store.near();
    const redis = args.redisPid === undefined ? undefined : procCpuMicros(args.redisPid);
    const machine = machineBusyTicks();
    return [cpu.user + cpu.system, redis ?? NaN, near?.hits ?? NaN, near?.misses ?? NaN, machine === undefined ? NaN : (machine * 1e6) / CLOCK.ticksPerSecond];
  };
  // Other load: what the machine's CPUs did besides this process and redis-server, as a share of
  // all of them. Not schedstat's stolen time, which is this thread's alone: a get waits on
  // redis-server as well, and other load slows it as much.
  const cpus = os.cpus().length;
  const otherLoad = (t: Timing & { used: number[] }): number => {
    const [node, redis, , , machine] = t.used;
    return Math.max(0, machine - node - (Number.isFinite(redis) ? redis : 0)) / ((t.totalNs / 1000) * cpus);
  };
  const known = (x: number): number | undefined => (Number.isFinite(x) ? x : undefined);
  const phases: ReadPhase[] = [];
  for (const inFlight of IN_FLIGHT) {
    // Every session read once: the warm-up, and the near-cache's copies.
    await warmAsync(keys.length, FILL_IN_FLIGHT, (i) => store.get(keys[i]));
    collectGarbage();
    let notFound = 0;
    const t = await timeQuietAsync(
      counts.redisGets,
      inFlight,
      async (i) => {
        if ((await store.get(keys[idx[i]])) === undefined) notFound++;
      },
      counters,
      otherLoad,
    );
    const [node, redis, hits, misses] = t.used;
    phases.push({ inFlight, timing: t, otherLoad: t.disturbance, nodeCpuMicros: node, redisCpuMicros: known(redis), hits: known(hits), misses: known(misses), notFound });
    if (notFound) checks.push(`${String(inFlight)} in flight: ${String(notFound)} of ${String(counts.redisGets * t.attempts)} gets found nothing`);
  }
  await store.close();
  return { phases, checks };
}

/** A phase's figures beyond the Row: CPU per get, near-cache counts. */
interface Extra {
  nodeCpuNs: number;
  redisCpuNs: number | undefined;
  hits: number | undefined;
  misses: number | undefined;
}

function phaseName(inFlight: number): string {
  return `get (${String(inFlight)} in flight)`;
}

const perGetNs = (micros: number | undefined, n: number): number => (micros === undefined ? NaN : (micros * 1000) / n);

/** The report: one row per store and number in flight, with ratios to the plain GET at the same number. */
function report(ctx: RunContext, rows: readonly Row[], extra: ReadonlyMap<Row, Extra>, redisVersion: string, notes: readonly string[]): string {
  const floorOf = (r: Row): Row | undefined => rows.find((x) => x.store === 'redis' && x.phase === r.phase);
  const cpuOf = (r: Row): number => {
    const e = extra.get(r);
    return e === undefined ? NaN : e.nodeCpuNs + (e.redisCpuNs ?? 0);
  };
  const lines = rows.map((r) => {
    const e = extra.get(r);
    const floor = floorOf(r);
    return [
      READ_STORE_LABELS[r.store as ReadStoreKind],
      r.phase.replace(/^get \((\d+) in flight\)$/, '$1'),
      fmtOps(r.opsPerSec),
      fmtUs(1e9 / r.opsPerSec),
      fmtUs(r.p50Ns),
      fmtUs(r.p99Ns),
      fmtUs(e?.nodeCpuNs ?? NaN),
      e?.redisCpuNs === undefined ? '-' : fmtUs(e.redisCpuNs),
      e?.hits === undefined ? '-' : `${fmtOps(e.hits)} / ${fmtOps(e.misses ?? NaN)}`,
      floor ? fmtRatio(r.opsPerSec / floor.opsPerSec) : 'n/a',
      floor ? fmtRatio(cpuOf(r) / cpuOf(floor)) : 'n/a',
      fmtStolen(r.stolen, STOLEN_WARN),
      r.note ?? '',
    ];
  });
  const c = ctx.counts;
  return [
    `${fmtOps(c.redisEntries)} sessions of the session workload (its ids and JSON) on redis-server ${redisVersion} (127.0.0.1, no persistence, emptied before each store); each store in a child process of its own, in ${String(c.redisRounds)} round(s) that alternate the stores, each figure from its median round; per number in flight, every session read once (untimed), then ${fmtOps(c.redisGets)} random gets. "In flight": that many loops in the child, each awaiting its get before it starts the next.`,
    '',
    ...[
      '"µs per get" is the wall time of the phase over its gets; p50 / p99 those of every 8th get, from its call until its Promise settled (with 16 in flight: waiting behind the others included).',
      `CPU per get: the child's own (getrusage, all its threads) and redis-server's (/proc/<pid>/stat, clock ticks of ${String(1000 / CLOCK.ticksPerSecond)} ms) over the phase. "vs GET": gets/s, and CPU per get (child + redis-server), against the plain GET's at the same number in flight.`,
      `"Other load": what the machine's CPUs (/proc/stat) did over the phase besides the child and redis-server, as a share of all ${String(ctx.cpuCount)}; a phase is run again (up to 3 times in all) while it is over ${String(RETRY_STOLEN * 100)}%, and the least disturbed run is kept. Not the schedstat "stolen" of the other scenarios, which covers the child's main thread only: a get waits on redis-server too, which other load slows as much (bench:http measures its other load the same way).`,
    ].map((x) => `- ${x}`),
    '',
    table(
      ['store', 'in flight', 'gets/s', 'µs per get', 'p50 µs', 'p99 µs', 'node CPU µs / get', 'redis-server CPU µs / get', 'near-cache hits / misses', 'vs GET: gets/s', 'vs GET: CPU / get', 'other load', 'notes'],
      lines,
      'lrrrrrrrrrrrl',
    ),
    '',
    ...READ_STORE_KINDS.filter((k) => rows.some((r) => r.store === k)).map((k) => `- ${READ_STORE_LABELS[k]}: ${READ_STORE_NOTES[k]}`),
    ...notes,
  ].join('\n');
}

/** One store in a child of its own on the emptied server: a row and its extra figures per phase. */
async function measureStore(ctx: RunContext, server: RedisServer, kind: ReadStoreKind): Promise<{ measured: { row: Row; extra: Extra }[]; checks: string[] }> {
  await server.flushAll();
  const out = await runTask<ReadOut>(
    {
      module: MODULE,
      task: 'redisGetTask',
      args: { store: kind, url: server.url, redisPid: kind === 'sessmap-file' ? undefined : server.pid, path: join(ctx.dir, 'redis-get.sessmap'), counts: ctx.counts } satisfies ReadArgs,
    },
    ctx.taskTimeoutMs,
  );
  const measured = out.phases.map((p) => {
    const t = p.timing;
    const row: Row = { scenario: 'redis-get', store: kind, phase: phaseName(p.inFlight), ops: t.n, opsPerSec: t.opsPerSec, p50Ns: t.p50Ns, p99Ns: t.p99Ns, stolen: p.otherLoad ?? NaN, note: t.attempts > 1 ? `least disturbed of ${String(t.attempts)} runs` : undefined };
    return { row, extra: { nodeCpuNs: perGetNs(p.nodeCpuMicros, t.n), redisCpuNs: p.redisCpuMicros === undefined ? undefined : perGetNs(p.redisCpuMicros, t.n), hits: p.hits, misses: p.misses } };
  });
  return { measured, checks: out.checks };
}

export const scenario: Scenario = {
  name: 'redis-get',
  title: 'Session reads on Redis, async',
  async run(ctx: RunContext): Promise<ScenarioResult> {
    const bin = findRedisServer();
    if (bin === undefined) {
      const why = process.env.REDIS_SERVER ? `REDIS_SERVER=${process.env.REDIS_SERVER} is not an executable file` : 'no redis-server on $PATH nor in /usr/bin, /usr/local/bin, /usr/sbin';
      const msg = `skipped: ${why} (install redis-server, or set REDIS_SERVER=/path/to/redis-server)`;
      ctx.log(`redis-get: ${msg}`);
      return { rows: [], markdown: `- ${msg}` };
    }
    const dir = join(ctx.dir, 'redis');
    mkdirSync(dir, { recursive: true });
    const server = await startRedis(bin, dir);
    const kill = (): void => server.kill();
    process.once('exit', kill);
    const kinds = READ_STORE_KINDS.filter((k) => !k.startsWith('sessmap') || ctx.stores.includes('sessmap'));
    const notes = READ_STORE_KINDS.filter((k) => !kinds.includes(k)).map((k) => `- ${READ_STORE_LABELS[k]}: not measured (${ctx.sessmapMissing ?? 'sessmap is not among --stores'})`);
    // Rounds alternate the stores (A B C D, A B C D, ...), and each figure is its median round,
    // not its best: on the 2-core VM a round trip took up to twice as long with the machine
    // otherwise idle as with other load on it, so the best round would favour whichever store
    // met a busy spell.
    const runs = new Map<string, { row: Row; extra: Extra }[]>();
    const rounds = ctx.counts.redisRounds;
    try {
      for (let round = 1; round <= rounds; round++) {
        for (const kind of kinds) {
          ctx.log(`redis-get: ${READ_STORE_LABELS[kind]}${rounds > 1 ? ` (round ${String(round)} of ${String(rounds)})` : ''}`);
          try {
            const out = await measureStore(ctx, server, kind);
            for (const m of out.measured) runs.set(`${kind}|${m.row.phase}`, [...(runs.get(`${kind}|${m.row.phase}`) ?? []), m]);
            for (const c of out.checks) notes.push(`- **check failed** (${READ_STORE_LABELS[kind]}, round ${String(round)}) ${c}`);
          } catch (err) {
            ctx.log(`redis-get: ${kind} failed: ${(err as Error).message}`);
            notes.push(`- **${READ_STORE_LABELS[kind]} failed** (round ${String(round)}): ${(err as Error).message}`);
          }
        }
      }
    } finally {
      await server.stop();
      process.off('exit', kill);
    }
    const rows: Row[] = [];
    const extra = new Map<Row, Extra>();
    for (const all of runs.values()) {
      const sorted = [...all].sort((x, y) => x.row.opsPerSec - y.row.opsPerSec);
      const mid = sorted[(sorted.length - 1) >> 1];
      const others = all.filter((m) => m !== mid).map((m) => fmtOps(m.row.opsPerSec));
      const roundsNote = all.length > 1 ? `median of ${String(all.length)} rounds (others: ${others.join(', ')})` : undefined;
      const row = { ...mid.row, note: [roundsNote, mid.row.note].filter(Boolean).join('; ') };
      rows.push(row);
      extra.set(row, mid.extra);
    }
    rows.sort((a, b) => a.phase.localeCompare(b.phase, 'en', { numeric: true }) || READ_STORE_KINDS.indexOf(a.store as ReadStoreKind) - READ_STORE_KINDS.indexOf(b.store as ReadStoreKind));
    return { rows, markdown: report(ctx, rows, extra, server.version, notes) };
  },
};
