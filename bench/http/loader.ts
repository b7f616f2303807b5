/** The primary's side of the load generator (loader-child.ts): one child for the whole benchmark. */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { LoadOptions, LoadResult } from './load.js';
import { isBenchMessage, type LoaderCommand, type LoaderMessage } from './protocol.js';

const CHILD_FILE = fileURLToPath(new URL('./loader-child.ts', import.meta.url));

export interface Loader {
  readonly pid: number;
  /** One autocannon run in the child. */
  run(options: LoadOptions): Promise<LoadResult>;
  stop(): Promise<void>;
  /** Synchronous last resort (process 'exit' handlers). */
  kill(): void;
}

/** Forks the load generator (with the tsx loader, as the workers) and waits until it is ready. */
export function startLoader(execArgv: string[]): Promise<Loader> {
  // 'advanced' serialization: the result holds NaN (percentiles of an empty route), which JSON would turn into null.
  const child: ChildProcess = fork(CHILD_FILE, [], { execArgv, serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let nextId = 1;
  const pending = new Map<number, { resolve: (r: LoadResult) => void; reject: (e: Error) => void }>();
  let exited = false;
  child.on('exit', (code, signal) => {
    exited = true;
    for (const p of pending.values()) p.reject(new Error(`the load generator exited (${signal ?? String(code)}) during a run`));
    pending.clear();
  });
  child.on('message', (m: unknown) => {
    if (!isBenchMessage(m)) return;
    const msg = m as LoaderMessage;
    if (msg.kind === 'result' || msg.kind === 'load-failed') {
      const p = pending.get(msg.id);
      if (!p) return;
      pending.delete(msg.id);
      if (msg.kind === 'result') p.resolve(msg.result);
      else p.reject(new Error(`load generator: ${msg.error}`));
    }
  });
  const send = (c: LoaderCommand): void => {
    if (child.connected) child.send(c);
  };
  const loader: Loader = {
    pid: child.pid!,
    run: (options) =>
      new Promise<LoadResult>((resolve, reject) => {
        if (exited) return reject(new Error('the load generator is not running'));
        const id = nextId++;
        pending.set(id, { resolve, reject });
        send({ bench: 1, kind: 'load', id, options });
      }),
    stop: () =>
      new Promise<void>((resolve) => {
        if (exited) return resolve();
        const t = setTimeout(() => child.kill('SIGKILL'), 3000);
        child.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
        send({ bench: 1, kind: 'exit' });
      }),
    kill: () => {
      if (!exited) child.kill('SIGKILL');
    },
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('the load generator did not start within 30 s'));
    }, 30_000);
    const onExit = (code: number | null, signal: string | null): void => {
      clearTimeout(timer);
      reject(new Error(`the load generator exited (${signal ?? String(code)}) before it was ready`));
    };
    child.once('exit', onExit);
    const onReady = (m: unknown): void => {
      if (!isBenchMessage(m) || (m as LoaderMessage).kind !== 'ready') return;
      clearTimeout(timer);
      child.off('exit', onExit);
      child.off('message', onReady);
      resolve(loader);
    };
    child.on('message', onReady);
  });
}
