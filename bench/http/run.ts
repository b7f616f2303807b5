/**
 * `npm run bench:http [-- options]`: express + express-session in a two-worker node:cluster,
 * loaded by autocannon (in a child process of its own) with one logged-in cookie and a 90/10
 * read/write mix, on four stores one after another: sessmap on its mmap file, sessmap on Redis,
 * connect-redis (both on one redis-server started here, emptied before each run), and
 * express-session's MemoryStore. Two phases: each store as fast as it goes (req/s, latency, CPU
 * time of every process from /proc), then each store again at one fixed rate (half the slowest
 * store's req/s) for latency at equal load. Prints the tables and the target ratios, and (on a
 * full run) writes them into docs/benchmarks.md between the bench-http markers.
 *
 *   --quick            1 s warm-up, 3 s measured; does not write the docs (unless --write)
 *   --stores=a,b       only these stores: sessmap, sessmap-redis, connect-redis, memory
 *   --rounds=N         run the stores N times, alternating (A B C, C B A, ...), and report each
 *                      store's median round: for a machine with other load (default 1); the
 *                      fixed-rate phase runs once
 *   --rate=N           the fixed-rate phase at N req/s (default: half the slowest store's
 *                      req/s); --rate=0 leaves the phase out
 *   --workers=N        HTTP workers (default 2)
 *   --sessions=N       N logged-in sessions, connection i using session i mod N (default 1: every
 *                      request on one session, one busy user; more spreads them over pages)
 *                      Any --workers, --sessions or --rate but the default does not write the docs.
 *   --write            write docs/benchmarks.md even for a quick or partial run
 *   --no-write         do not write docs/benchmarks.md
 *
 *   BENCH_HTTP_CPU_PROF=/tmp/prof   each worker writes a CPU profile of the measured phase to
 *                                   /tmp/prof/<store>-<pid>.cpuprofile (see bench/lib/cpuprofile-top.ts)
 *   REDIS_SERVER=/path              the redis-server to run (default: $PATH, /usr/bin, /usr/local/bin)
 */
import cluster, { type Worker } from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { collectCounters, profileDir, sendTo, startWorkers, stopWorkers, workerExecArgv } from './cluster.js';
import { cpuBetween, cpuSnapshot, DISTURBED, otherCores, storeSideMicros, workersMicros, type ProcessGroups } from './cpu.js';
import { fixedRateOf } from './fixed-rate.js';
import { login, request, type LoadOptions } from './load.js';
import { startLoader, type Loader } from './loader.js';
import { environment, markdown, writeDocSection, DOC_PATH, type Settings, type StoreRun } from './report.js';
import { findRedisServer, redisMissingMessage, startRedis, type RedisServer } from './redis.js';
import { startBackend, usesRedis, version, type Backend } from './stores.js';
import { targetLines } from './targets.js';
import { ENV_PROF_DIR, ENV_SECRET, ENV_STORE, STORE_KINDS, STORE_LABELS, type StoreKind } from './protocol.js';

const USAGE =
  'usage: npm run bench:http -- [--quick] [--stores=sessmap,sessmap-redis,connect-redis,memory] [--rounds=N] [--rate=N] [--workers=N] [--sessions=N] [--write|--no-write]';
const DEFAULT_WORKERS = 2;
/** Measurements of one store at most, while other load disturbs them. */
const MEASURE_ATTEMPTS = 3;

class UsageError extends Error {}

interface Args {
  quick: boolean;
  workers: number;
  sessions: number;
  rounds: number;
  /** undefined: half the slowest store's req/s; 0: no fixed-rate phase. */
  rate: number | undefined;
  write: boolean | undefined;
  stores: StoreKind[] | undefined;
}

function parseArgs(argv: readonly string[]): Args {
  const a: Args = { quick: false, workers: DEFAULT_WORKERS, sessions: 1, rounds: 1, rate: undefined, write: undefined, stores: undefined };
  for (const arg of argv) {
    if (arg === '--quick') a.quick = true;
    else if (arg === '--write') a.write = true;
    else if (arg === '--no-write') a.write = false;
    else if (arg.startsWith('--workers=')) {
      a.workers = Number(arg.slice('--workers='.length));
      if (!Number.isInteger(a.workers) || a.workers < 1 || a.workers > 64) throw new UsageError(`--workers must be an integer from 1 to 64`);
    } else if (arg.startsWith('--rounds=')) {
      a.rounds = Number(arg.slice('--rounds='.length));
      if (!Number.isInteger(a.rounds) || a.rounds < 1 || a.rounds > 20) throw new UsageError(`--rounds must be an integer from 1 to 20`);
    } else if (arg.startsWith('--rate=')) {
      a.rate = Number(arg.slice('--rate='.length));
      if (!Number.isInteger(a.rate) || a.rate < 0 || a.rate > 1_000_000) throw new UsageError(`--rate must be an integer from 0 to 1000000 (req/s; 0: no fixed-rate phase)`);
    } else if (arg.startsWith('--sessions=')) {
      a.sessions = Number(arg.slice('--sessions='.length));
      if (!Number.isInteger(a.sessions) || a.sessions < 1 || a.sessions > 1000) throw new UsageError(`--sessions must be an integer from 1 to 1000`);
    } else if (arg.startsWith('--stores=')) {
      const list = arg.slice('--stores='.length).split(',').filter(Boolean);
      for (const s of list) if (!STORE_KINDS.includes(s as StoreKind)) throw new UsageError(`unknown store ${s}; known: ${STORE_KINDS.join(', ')}`);
      a.stores = STORE_KINDS.filter((k) => list.includes(k));
    } else if (arg === '--help' || arg === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else throw new UsageError(`unknown argument ${arg}`);
  }
  return a;
}

/** A fresh directory for this run: tmpfs (/dev/shm) when there is one. */
function makeTmpDir(): { dir: string; kind: string } {
  const shm = '/dev/shm';
  if (existsSync(shm) && statSync(shm).isDirectory()) {
    try {
      return { dir: mkdtempSync(join(shm, 'sessmap-bench-http-')), kind: '/dev/shm (tmpfs)' };
    } catch {
      // not writable
    }
  }
  return { dir: mkdtempSync(join(os.tmpdir(), 'sessmap-bench-http-')), kind: `${os.tmpdir()} (no /dev/shm)` };
}

const t0 = performance.now();
const log = (line: string): void => console.error(`[bench:http ${((performance.now() - t0) / 1000).toFixed(1)}s] ${line}`);

// ---------------------------------------------------------------------------------------------
// One store

/** What is stopped on SIGINT or exit: the current workers, the load generator and redis-server. */
const live: { workers: Worker[]; redis: RedisServer | undefined; loader: Loader | undefined } = { workers: [], redis: undefined, loader: undefined };

interface RunContext {
  settings: Settings;
  dir: string;
  dirKind: string;
  redis: RedisServer | undefined;
  loader: Loader;
  secret: string;
}

/**
 * One store in fresh workers: log in, warm up, measure (CPU of every process read from /proc at
 * the start and the end of the measured phase). `rate`: autocannon's overallRate for both the
 * warm-up and the measurement (the fixed-rate phase); none: as fast as it goes.
 */
async function runStore(kind: StoreKind, round: number, ctx: RunContext, rate?: number): Promise<StoreRun> {
  const s = ctx.settings;
  const run: StoreRun = { kind, round, detail: '', ...(rate !== undefined ? { rate } : {}) };
  const label = `${STORE_LABELS[kind]}${rate !== undefined ? ` at ${rate.toLocaleString('en-US')} req/s` : ''}`;
  let backend: Backend | undefined;
  let workers: Worker[] = [];
  try {
    backend = await startBackend(kind, { dir: ctx.dir, dirKind: ctx.dirKind, redis: ctx.redis });
    run.detail = backend.detail;
    const prof = rate === undefined ? profileDir() : undefined;
    const started = await startWorkers(s.workers, { ...backend.env, [ENV_STORE]: kind, [ENV_SECRET]: ctx.secret, ...(prof ? { [ENV_PROF_DIR]: prof } : {}) });
    workers = started.workers;
    live.workers = workers;
    const port = started.port;
    const logins = [];
    for (let i = 0; i < s.sessions; i++) logins.push(await login(port, s.workers, kind === 'memory' ? randomBytes(24).toString('base64url') : undefined));
    run.login = logins[0];
    const load: LoadOptions = { port, cookies: logins.map((l) => l.cookie), connections: s.connections, duration: s.warmup, reads: s.reads, ...(rate !== undefined ? { rate } : {}) };
    log(
      `${label}: logged in (${s.sessions === 1 ? '' : `${s.sessions} sessions, `}${logins.reduce((n, l) => n + l.logins, 0)} POST /login; cookie valid on ${run.login.readWorkers.length} workers); warm-up ${s.warmup} s`,
    );
    await ctx.loader.run(load);
    const groups: ProcessGroups = {
      workers: workers.map((w) => w.process.pid!),
      primary: process.pid,
      loader: ctx.loader.pid,
      ...(backend.redis ? { redis: backend.redis.pid } : {}),
    };
    // Measured again (up to MEASURE_ATTEMPTS in all) while other processes on the machine used
    // more than DISTURBED cores meanwhile; the least disturbed attempt is kept.
    let note = '';
    for (let attempt = 1; attempt <= MEASURE_ATTEMPTS; attempt++) {
      for (const w of workers) sendTo(w, { bench: 1, kind: 'reset' });
      log(`${label}: measuring ${s.duration} s${attempt > 1 ? ` (attempt ${attempt} of ${MEASURE_ATTEMPTS})` : ''}`);
      backend.beforeMeasure?.();
      const cpu0 = cpuSnapshot(groups);
      const result = await ctx.loader.run({ ...load, duration: s.duration });
      const cpu = cpuBetween(cpu0, cpuSnapshot(groups));
      const counters = await collectCounters(workers);
      const afterNote = backend.afterRun ? await backend.afterRun() : '';
      const other = otherCores(cpu) ?? 0;
      if (run.cpu === undefined || other < (otherCores(run.cpu) ?? 0)) {
        run.load = result;
        run.cpu = cpu;
        run.workers = counters;
        note = afterNote;
      }
      run.attempts = attempt;
      if (other <= DISTURBED) break;
      log(`${label}: note: other processes used ${other.toFixed(2)} cores of the machine during the measured phase${attempt < MEASURE_ATTEMPTS ? ': measuring again' : ''}`);
    }
    if (!run.load || !run.cpu || !run.workers) throw new Error('no measurement');
    if (note) run.detail += ` ${note}`;
    const check = await request(port, 'GET', '/read', { cookie: run.login.cookie });
    if (check.status !== 200) throw new Error(`GET /read after the run answered ${check.status}`);
    const l = run.load;
    // A cross-check of /proc against the workers' own process.cpuUsage() over about the same span.
    const own = run.workers.reduce((n, w) => n + w.cpuMicros, 0);
    const proc = workersMicros(run.cpu);
    if (Math.abs(own - proc) > 0.1 * proc + 50_000) log(`${label}: note: worker CPU from /proc (${(proc / 1000).toFixed(0)} ms) and from the workers' process.cpuUsage() (${(own / 1000).toFixed(0)} ms) differ by over 10%`);
    const perReq = (us: number): string => (l.responses ? (us / l.responses).toFixed(0) : 'n/a');
    log(
      `${label}: ${Math.round(l.reqPerSec)} req/s, p50 ${l.latency.p50.toFixed(2)} ms, p99 ${l.latency.p99.toFixed(2)} ms, ` +
        `errors ${l.errors}, non-2xx ${l.non2xx}; CPU µs/req: workers ${perReq(workersMicros(run.cpu))}, primary ${perReq(run.cpu.primary)}` +
        `${run.cpu.redis !== undefined ? `, redis-server ${perReq(run.cpu.redis)}` : ''}, store side ${perReq(storeSideMicros(run.cpu))}, load generator ${perReq(run.cpu.loader)}; ` +
        `session after the run: ${check.body}`,
    );
  } catch (err) {
    run.error = err instanceof Error ? err.message : String(err);
    log(`${label}: FAILED: ${run.error}`);
    run.load = undefined;
    run.cpu = undefined;
  } finally {
    await stopWorkers(workers);
    live.workers = [];
    if (backend) await backend.stop().catch((err: unknown) => log(`${label}: stopping failed: ${String(err)}`));
  }
  return run;
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const stores = args.stores ?? [...STORE_KINDS];
  const full = !args.quick && args.stores === undefined && args.workers === DEFAULT_WORKERS && args.sessions === 1 && args.rate === undefined;
  const write = args.write ?? full;

  // Fail early, before any load is run, when the redis-server the run needs is missing.
  const needsRedis = stores.some(usesRedis);
  const redisBin = needsRedis ? findRedisServer() : undefined;
  if (needsRedis && !redisBin) {
    console.error(`bench:http: ${redisMissingMessage()}`);
    return 2;
  }

  const settings: Settings = {
    workers: args.workers,
    sessions: args.sessions,
    rounds: args.rounds,
    connections: 50,
    pipelining: 1,
    warmup: args.quick ? 1 : 3,
    duration: args.quick ? 3 : 10,
    reads: 9,
    quick: args.quick,
  };
  const { dir, kind: dirKind } = makeTmpDir();
  const cleanup = (): void => {
    live.redis?.kill();
    live.loader?.kill();
    for (const w of live.workers) if (!w.isDead()) w.process.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', cleanup);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      log(`${sig}: stopping`);
      cleanup();
      process.exit(130);
    });
  }

  const versions = {
    express: version('express'),
    'express-session': version('express-session'),
    autocannon: version('autocannon'),
  };
  const env = environment(versions, dirKind);
  log(`Node ${env.node}, ${env.cpu} x${env.cpuCount}, load average ${env.loadAvg.toFixed(2)}; stores: ${stores.join(', ')}${args.quick ? ' (quick)' : ''}`);
  if (env.loadAvg > env.cpuCount * 0.5) log(`note: the machine is busy (load average ${env.loadAvg.toFixed(2)} on ${env.cpuCount} CPUs): figures will be noisy`);

  const loader = await startLoader(workerExecArgv());
  live.loader = loader;
  log(`load generator (autocannon) in its own process, pid ${loader.pid}`);
  let redis: RedisServer | undefined;
  if (redisBin) {
    redis = await startRedis(redisBin, dir);
    live.redis = redis;
    log(`redis-server ${redis.version} (pid ${redis.pid}) on 127.0.0.1:${redis.port}, for ${stores.filter(usesRedis).join(' and ')}`);
  }
  const ctx: RunContext = { settings, dir, dirKind, redis, loader, secret: randomBytes(16).toString('hex') };

  const runs: StoreRun[] = [];
  for (let round = 1; round <= settings.rounds; round++) {
    if (settings.rounds > 1) log(`round ${round} of ${settings.rounds}`);
    const order = round % 2 === 1 ? stores : [...stores].reverse();
    for (const kind of order) runs.push(await runStore(kind, round, ctx));
  }

  const fixed: StoreRun[] = [];
  const rate = args.rate ?? fixedRateOf(runs);
  if (rate === undefined) log('fixed-rate phase left out: no store measured a req/s');
  else if (rate === 0) log('fixed-rate phase left out (--rate=0)');
  else {
    settings.fixedRate = { rate, chosen: args.rate === undefined ? 'half' : 'option' };
    log(`fixed-rate phase: every store at ${rate.toLocaleString('en-US')} req/s (autocannon overallRate)`);
    for (const kind of stores) fixed.push(await runStore(kind, 1, ctx, rate));
  }

  await loader.stop();
  live.loader = undefined;
  if (redis) {
    await redis.stop();
    live.redis = undefined;
  }

  const md = markdown(runs, fixed, settings, env);
  console.log(`\n${md}\n`);
  if (write) {
    writeDocSection(md, DOC_PATH);
    log(`wrote ${DOC_PATH} (between the bench-http markers)`);
  } else log(`docs not written (${args.write === false ? '--no-write' : args.quick ? '--quick' : 'not the default settings'}; --write to force)`);
  for (const line of targetLines(runs, fixed)) log(line.replace(/\*\*/g, ''));
  log(`done in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  return [...runs, ...fixed].some((r) => r.error !== undefined) ? 1 : 0;
}

if (!cluster.isPrimary) throw new Error('bench/http/run.ts is the primary; workers run bench/http/worker.ts');
main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError) {
      console.error(`bench:http: ${err.message}\n${USAGE}`);
      process.exit(2);
    }
    console.error(err);
    process.exit(1);
  },
);
