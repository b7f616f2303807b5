/**
 * `npm run bench:http [-- options]`: express + express-session in a two-worker node:cluster,
 * loaded by autocannon (in this process, the cluster primary) with one logged-in cookie and a
 * 90/10 read/write mix, on three stores one after another: sessmap, connect-redis on a
 * redis-server started here, and express-session's MemoryStore. Prints the tables and the target
 * ratios, and (on a full run) writes them into docs/benchmarks.md between the bench-http markers.
 *
 *   --quick            1 s warm-up, 3 s measured; does not write the docs (unless --write)
 *   --stores=a,b       only these stores: sessmap, connect-redis, memory
 *   --rounds=N         run the stores N times, alternating (A B C, C B A, ...), and report each
 *                      store's median round: for a machine with other load (default 1)
 *   --workers=N        HTTP workers (default 2)
 *   --sessions=N       N logged-in sessions, connection i using session i mod N (default 1: every
 *                      request on one session, one busy user; more spreads them over pages)
 *                      Any --workers or --sessions but the default does not write the docs.
 *   --write            write docs/benchmarks.md even for a quick or partial run
 *   --no-write         do not write docs/benchmarks.md
 *
 *   BENCH_HTTP_CPU_PROF=/tmp/prof   each worker writes a CPU profile of the measured phase to
 *                                   /tmp/prof/<store>-<pid>.cpuprofile (see bench/lib/cpuprofile-top.ts)
 *   REDIS_SERVER=/path              the redis-server to run (default: $PATH, /usr/bin, /usr/local/bin)
 */
import cluster, { type Worker } from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setupPrimary as setupSessmapPrimary, type PrimaryHandle } from '../../src/index.js';
import { login, request, runLoad } from './load.js';
import { environment, markdown, targetLines, writeDocSection, DOC_PATH, type Settings, type StoreRun } from './report.js';
import { findRedisServer, redisMissingMessage, startRedis, type RedisServer } from './redis.js';
import {
  ENV_PROF_DIR,
  ENV_REDIS_URL,
  ENV_SECRET,
  ENV_STORE,
  isBenchMessage,
  STORE_KINDS,
  STORE_LABELS,
  type PrimaryMessage,
  type StoreKind,
  type WorkerCounters,
  type WorkerMessage,
} from './protocol.js';

const USAGE = 'usage: npm run bench:http -- [--quick] [--stores=sessmap,connect-redis,memory] [--rounds=N] [--workers=N] [--sessions=N] [--write|--no-write]';
const DEFAULT_WORKERS = 2;

class UsageError extends Error {}

interface Args {
  quick: boolean;
  workers: number;
  sessions: number;
  rounds: number;
  write: boolean | undefined;
  stores: StoreKind[] | undefined;
}

function parseArgs(argv: readonly string[]): Args {
  const a: Args = { quick: false, workers: DEFAULT_WORKERS, sessions: 1, rounds: 1, write: undefined, stores: undefined };
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

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The installed version of a package (or of this checkout, for 'sessmap'). */
function version(pkg: string): string {
  try {
    const file = pkg === 'sessmap' ? join(ROOT, 'package.json') : join(ROOT, 'node_modules', pkg, 'package.json');
    return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
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
// Workers

const WORKER_FILE = fileURLToPath(new URL('./worker.ts', import.meta.url));

function workerExecArgv(): string[] {
  const argv = [...process.execArgv];
  if (!argv.some((a) => a.includes('tsx'))) argv.push('--import', 'tsx');
  return argv;
}

/** BENCH_HTTP_CPU_PROF: where the workers write CPU profiles of the measured phase. */
function profileDir(): string | undefined {
  const dir = process.env.BENCH_HTTP_CPU_PROF;
  if (!dir) return undefined;
  mkdirSync(resolve(dir), { recursive: true });
  return resolve(dir);
}

const sendTo = (w: Worker, m: PrimaryMessage): void => {
  if (w.isConnected()) w.send(m);
};

/** Forks the workers and waits until all listen (on the one port the cluster shares). */
async function startWorkers(count: number, env: Record<string, string>): Promise<{ workers: Worker[]; port: number }> {
  cluster.setupPrimary({ exec: WORKER_FILE, execArgv: workerExecArgv(), args: [] });
  const workers: Worker[] = [];
  const ports = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<number>((resolvePort, reject) => {
          const w = cluster.fork(env);
          workers.push(w);
          const timer = setTimeout(() => reject(new Error(`worker ${String(w.process.pid)} did not listen within 30 s`)), 30_000);
          const onExit = (code: number | null, signal: string | null): void => {
            clearTimeout(timer);
            reject(new Error(`worker ${String(w.process.pid)} exited (${signal ?? String(code)}) before listening`));
          };
          w.once('exit', onExit);
          w.on('message', (m: unknown) => {
            if (!isBenchMessage(m)) return;
            const msg = m as WorkerMessage;
            if (msg.kind === 'listening') {
              clearTimeout(timer);
              w.off('exit', onExit);
              resolvePort(msg.port);
            } else if (msg.kind === 'failed') {
              clearTimeout(timer);
              w.off('exit', onExit);
              reject(new Error(`worker ${msg.pid} failed: ${msg.error}`));
            }
          });
        }),
    ),
  ).catch(async (err: unknown) => {
    await stopWorkers(workers);
    throw err;
  });
  if (new Set(ports).size !== 1) {
    await stopWorkers(workers);
    throw new Error(`workers listen on different ports: ${ports.join(', ')}`);
  }
  return { workers, port: ports[0] };
}

/** Asks each worker to exit cleanly (so --cpu-prof writes its profile); kills it after 5 s. */
async function stopWorkers(workers: readonly Worker[]): Promise<void> {
  await Promise.all(
    workers.map(
      (w) =>
        new Promise<void>((done) => {
          if (w.isDead()) return done();
          const t = setTimeout(() => {
            w.process.kill('SIGKILL');
          }, 5000);
          w.once('exit', () => {
            clearTimeout(t);
            done();
          });
          if (w.isConnected()) sendTo(w, { bench: 1, kind: 'exit' });
          else w.process.kill('SIGTERM');
        }),
    ),
  );
}

function collectCounters(workers: readonly Worker[]): Promise<WorkerCounters[]> {
  return Promise.all(
    workers.map(
      (w) =>
        new Promise<WorkerCounters>((done, reject) => {
          const t = setTimeout(() => reject(new Error(`worker ${String(w.process.pid)} sent no report`)), 5000);
          const on = (m: unknown): void => {
            if (!isBenchMessage(m) || (m as WorkerMessage).kind !== 'report') return;
            clearTimeout(t);
            w.off('message', on);
            done((m as Extract<WorkerMessage, { kind: 'report' }>).counters);
          };
          w.on('message', on);
          sendTo(w, { bench: 1, kind: 'report' });
        }),
    ),
  );
}

// ---------------------------------------------------------------------------------------------
// One store

interface Backend {
  env: Record<string, string>;
  detail: string;
  /** Called as the measured phase starts, and after it for a note on the backend's own counters. */
  beforeMeasure?: () => void;
  afterRun?: () => string;
  /** CPU time of a server process outside the workers (redis-server), microseconds so far. */
  serverCpuMicros?: () => number | undefined;
  stop(): Promise<void>;
}

/** What is stopped on SIGINT or exit: the current workers and redis-server. */
const live: { workers: Worker[]; redis: RedisServer | undefined } = { workers: [], redis: undefined };

async function startBackend(kind: StoreKind, dir: string, dirKind: string, redisBin: string | undefined): Promise<Backend> {
  switch (kind) {
    case 'sessmap': {
      const path = join(dir, `sessions-${Date.now()}.smap`);
      const handle: PrimaryHandle = setupSessmapPrimary({ path, maxSessions: 10_000, ifExists: 'reinit' });
      let waitsAtStart = 0;
      return {
        env: {},
        detail: `sessmap ${version('sessmap')} (this checkout, from src/) via \`SessmapStore\` (sessmap/express-session); \`setupPrimary({ path, maxSessions: 10_000 })\` in the primary (defaults otherwise: idleTimeout 30 min, evictionPolicy protect-authenticated, sweeper every 1 s), file on ${dirKind}, workers attach by themselves.`,
        beforeMeasure: () => {
          waitsAtStart = handle.stats().lockWaits;
        },
        afterRun: () => {
          const waits = handle.stats().lockWaits - waitsAtStart;
          return `Page-lock acquisitions that had to wait in the measured phase: ${waits.toLocaleString('en-US')}.`;
        },
        stop: () => handle.close({ unlink: true }),
      };
    }
    case 'connect-redis': {
      if (!redisBin) throw new Error(redisMissingMessage());
      const redis = await startRedis(redisBin, dir);
      live.redis = redis;
      log(`redis-server ${redis.version} (pid ${redis.pid}) on 127.0.0.1:${redis.port}`);
      return {
        env: { [ENV_REDIS_URL]: redis.url },
        serverCpuMicros: () => redis.cpuMicros(),
        detail: `connect-redis ${version('connect-redis')} (\`new RedisStore({ client, prefix: 'sess:' })\`, touch = EXPIRE) with node-redis ${version('redis')} (one client per worker), redis-server ${redis.version} started by the benchmark on 127.0.0.1 (\`--save '' --appendonly no\`).`,
        stop: async () => {
          await redis.stop();
          live.redis = undefined;
        },
      };
    }
    case 'memory':
      return {
        env: {},
        detail:
          "express-session's default `MemoryStore`, one per worker (nothing shared). The same login is made on each worker with the same session id, so the cookie is valid on both; each worker then keeps its own copy (its own counter). The ceiling for any store: no IPC, no syscalls, no shared memory.",
        stop: async () => {},
      };
  }
}

async function runStore(kind: StoreKind, round: number, s: Settings, dir: string, dirKind: string, redisBin: string | undefined, secret: string): Promise<StoreRun> {
  const run: StoreRun = { kind, round, detail: '' };
  let backend: Backend | undefined;
  let workers: Worker[] = [];
  try {
    backend = await startBackend(kind, dir, dirKind, redisBin);
    run.detail = backend.detail;
    const prof = profileDir();
    const started = await startWorkers(s.workers, { ...backend.env, [ENV_STORE]: kind, [ENV_SECRET]: secret, ...(prof ? { [ENV_PROF_DIR]: prof } : {}) });
    workers = started.workers;
    live.workers = workers;
    const port = started.port;
    const logins = [];
    for (let i = 0; i < s.sessions; i++) logins.push(await login(port, s.workers, kind === 'memory' ? randomBytes(24).toString('base64url') : undefined));
    run.login = logins[0];
    const cookies = logins.map((l) => l.cookie);
    log(
      `${STORE_LABELS[kind]}: logged in (${s.sessions === 1 ? '' : `${s.sessions} sessions, `}${logins.reduce((n, l) => n + l.logins, 0)} POST /login; cookie valid on ${run.login.readWorkers.length} workers); warm-up ${s.warmup} s`,
    );
    await runLoad({ port, cookies, connections: s.connections, duration: s.warmup, reads: s.reads });
    for (const w of workers) sendTo(w, { bench: 1, kind: 'reset' });
    log(`${STORE_LABELS[kind]}: measuring ${s.duration} s`);
    backend.beforeMeasure?.();
    const cpu0 = process.cpuUsage();
    const server0 = backend.serverCpuMicros?.();
    run.load = await runLoad({ port, cookies, connections: s.connections, duration: s.duration, reads: s.reads });
    const cpu = process.cpuUsage(cpu0);
    const server1 = backend.serverCpuMicros?.();
    run.primaryCpuMicros = cpu.user + cpu.system;
    if (server0 !== undefined && server1 !== undefined) run.serverCpuMicros = server1 - server0;
    run.workers = await collectCounters(workers);
    if (backend.afterRun) run.detail += ` ${backend.afterRun()}`;
    const check = await request(port, 'GET', '/read', { cookie: run.login.cookie });
    if (check.status !== 200) throw new Error(`GET /read after the run answered ${check.status}`);
    const l = run.load;
    log(
      `${STORE_LABELS[kind]}: ${Math.round(l.reqPerSec)} req/s, p50 ${l.latency.p50.toFixed(2)} ms, p99 ${l.latency.p99.toFixed(2)} ms, ` +
        `errors ${l.errors}, non-2xx ${l.non2xx}; session after the run: ${check.body}`,
    );
  } catch (err) {
    run.error = err instanceof Error ? err.message : String(err);
    log(`${STORE_LABELS[kind]}: FAILED: ${run.error}`);
    run.load = undefined;
  } finally {
    await stopWorkers(workers);
    live.workers = [];
    if (backend) await backend.stop().catch((err: unknown) => log(`${STORE_LABELS[kind]}: stopping failed: ${String(err)}`));
  }
  return run;
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const stores = args.stores ?? [...STORE_KINDS];
  const full = !args.quick && args.stores === undefined && args.workers === DEFAULT_WORKERS && args.sessions === 1;
  const write = args.write ?? full;

  // Fail early, before any load is run, when the redis-server the run needs is missing.
  const redisBin = stores.includes('connect-redis') ? findRedisServer() : undefined;
  if (stores.includes('connect-redis') && !redisBin) {
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

  const secret = randomBytes(16).toString('hex');
  const runs: StoreRun[] = [];
  for (let round = 1; round <= settings.rounds; round++) {
    if (settings.rounds > 1) log(`round ${round} of ${settings.rounds}`);
    const order = round % 2 === 1 ? stores : [...stores].reverse();
    for (const kind of order) runs.push(await runStore(kind, round, settings, dir, dirKind, redisBin, secret));
  }

  const md = markdown(runs, settings, env);
  console.log(`\n${md}\n`);
  if (write) {
    writeDocSection(md, DOC_PATH);
    log(`wrote ${DOC_PATH} (between the bench-http markers)`);
  } else log(`docs not written (${args.write === false ? '--no-write' : args.quick ? '--quick' : 'not the default settings'}; --write to force)`);
  for (const line of targetLines(runs)) log(line.replace(/\*\*/g, ''));
  log(`done in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  return runs.some((r) => r.error !== undefined) ? 1 : 0;
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
