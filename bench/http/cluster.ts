/** The cluster side of the benchmark: forking the HTTP workers, asking them for counters, stopping them. */
import cluster, { type Worker } from 'node:cluster';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isBenchMessage, type PrimaryMessage, type WorkerCounters, type WorkerMessage } from './protocol.js';

const WORKER_FILE = fileURLToPath(new URL('./worker.ts', import.meta.url));

export function workerExecArgv(): string[] {
  const argv = [...process.execArgv];
  if (!argv.some((a) => a.includes('tsx'))) argv.push('--import', 'tsx');
  return argv;
}

/** BENCH_HTTP_CPU_PROF: where the workers write CPU profiles of the measured phase. */
export function profileDir(): string | undefined {
  const dir = process.env.BENCH_HTTP_CPU_PROF;
  if (!dir) return undefined;
  mkdirSync(resolve(dir), { recursive: true });
  return resolve(dir);
}

export const sendTo = (w: Worker, m: PrimaryMessage): void => {
  if (w.isConnected()) w.send(m);
};

/** Forks the workers and waits until all listen (on the one port the cluster shares). */
export async function startWorkers(count: number, env: Record<string, string>): Promise<{ workers: Worker[]; port: number }> {
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
export async function stopWorkers(workers: readonly Worker[]): Promise<void> {
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

export function collectCounters(workers: readonly Worker[]): Promise<WorkerCounters[]> {
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
