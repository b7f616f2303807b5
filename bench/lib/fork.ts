/**
 * Runs scenario tasks in child processes. A group of children starts its timed part together:
 * each child calls `ctx.barrier()` after set-up and warm-up; when all have, every child gets `go`.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { FromChild, ToChild } from './protocol.js';

const CHILD = fileURLToPath(new URL('./child.ts', import.meta.url));

/**
 * Node flags of every child. `BENCH_CPU_PROF=<dir>` adds `--cpu-prof` (which NODE_OPTIONS does not
 * accept) so each child writes a .cpuprofile there; see bench/lib/cpuprofile-top.ts.
 */
function childExecArgv(): string[] {
  const argv = ['--import', 'tsx', '--expose-gc'];
  const profDir = process.env.BENCH_CPU_PROF;
  if (profDir) argv.push('--cpu-prof', `--cpu-prof-dir=${profDir}`);
  return argv;
}

export interface TaskSpec {
  /** Absolute path of the scenario module exporting the task. */
  module: string;
  task: string;
  args: unknown;
}

/** Run one task per spec, each in its own child, all released by one barrier. Results in spec order. */
export async function runGroup<R>(specs: readonly TaskSpec[], timeoutMs: number): Promise<R[]> {
  const children: ChildProcess[] = [];
  let ready = 0;
  const releaseAll = (): void => {
    for (const c of children) c.send({ type: 'go' } satisfies ToChild);
  };
  const results = specs.map(
    (spec, i) =>
      new Promise<R>((resolve, reject) => {
        const child = fork(CHILD, [], {
          execArgv: childExecArgv(),
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        });
        children[i] = child;
        let settled = false;
        const timer = setTimeout(() => {
          if (settled) return;
          settled = true;
          child.kill('SIGKILL');
          reject(new Error(`${spec.task} timed out after ${String(timeoutMs)} ms`));
        }, timeoutMs);
        child.on('message', (msg: FromChild) => {
          if (msg.type === 'ready') {
            if (++ready === specs.length) releaseAll();
          } else if (msg.type === 'result') {
            settled = true;
            clearTimeout(timer);
            resolve(msg.result as R);
          } else {
            settled = true;
            clearTimeout(timer);
            reject(new Error(`${spec.task}: ${msg.message}`, { cause: msg.stack }));
          }
        });
        child.on('exit', (code, signal) => {
          clearTimeout(timer);
          if (!settled) {
            settled = true;
            reject(new Error(`${spec.task}: child exited (code ${String(code)}, signal ${String(signal)})`));
          }
        });
        child.send({ type: 'run', module: spec.module, task: spec.task, args: spec.args } satisfies ToChild);
      }),
  );
  let failed = false;
  try {
    return await Promise.all(results);
  } catch (err) {
    failed = true;
    throw err;
  } finally {
    // Children exit by themselves after sending a result (and write a --cpu-prof profile on the
    // way out): give them a moment, then kill what is left (a failed group, a hung child).
    await Promise.all(children.map((c) => exited(c, failed ? 0 : 10_000)));
  }
}

function exited(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve();
    }, graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Run one task in one child. */
export async function runTask<R>(spec: TaskSpec, timeoutMs: number): Promise<R> {
  const [r] = await runGroup<R>([spec], timeoutMs);
  return r;
}
