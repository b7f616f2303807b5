/**
 * A fixture primary's handle on the cluster workers it forks (test/fixtures/cluster/primary.ts,
 * test/fixtures/adapters/primary.ts): the worker script under tsx, output kept, the exit awaited,
 * the fixtures' tagged messages told apart from sessmap's own, requests over an {@link RpcClient},
 * and waits woken by what the worker does. Free of vitest: it runs inside fixture processes.
 */
import cluster, { type Worker } from 'node:cluster';
import { isTagged, RpcClient, type CallResult, type TaggedMessage } from './rpc.js';
import { Wakeup } from './wait.js';

export interface WorkerExit {
  code: number | null;
  signal: string | null;
}

/** Points `cluster.fork` at `script` under tsx, its output piped to this process. */
export function setWorkerScript(script: string, serialization?: 'json' | 'advanced'): void {
  cluster.setupPrimary({ exec: script, execArgv: ['--import', 'tsx'], silent: true, ...(serialization ? { serialization } : {}) });
}

/** SIGKILL to `pid`, quietly when it is gone already. */
export function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone already
  }
}

/** Waits for every promise, but no longer than `capMs`. */
export async function settleWithin(promises: Array<Promise<unknown>>, capMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.all(promises), new Promise((r) => (timer = setTimeout(r, capMs)))]);
  clearTimeout(timer);
}

export interface WorkerSlotOptions {
  /** Environment of the worker (besides this process's). */
  env?: Record<string, string>;
  /** Signalled on the worker's output, messages and exit; share one to wait across workers. */
  wakeup?: Wakeup;
  /** The fixtures' tagged messages that are not replies (e.g. `ready`). */
  onMessage?: (m: TaggedMessage) => void;
  /** Names the worker in failure messages. @default `worker <pid>` */
  label?: (pid: number) => string;
}

/** One forked cluster worker. */
export class WorkerSlot {
  readonly worker: Worker;
  readonly pid: number;
  /** Names the worker in failure messages. */
  readonly label: string;
  stdout = '';
  stderr = '';
  /** stdout and stderr as they interleaved, its last 20,000 characters. */
  output = '';
  /** Messages on the worker's channel that are not the fixtures': sessmap's own protocol. */
  foreignMessages = 0;
  exit: WorkerExit | undefined;
  readonly exited: Promise<WorkerExit>;
  readonly wakeup: Wakeup;
  readonly rpc: RpcClient;

  constructor(options: WorkerSlotOptions = {}) {
    this.worker = cluster.fork(options.env ?? {});
    this.pid = this.worker.process.pid ?? -1;
    this.label = options.label?.(this.pid) ?? `worker ${this.pid}`;
    this.wakeup = options.wakeup ?? new Wakeup();
    this.rpc = new RpcClient((m) => this.worker.send(m as never), { who: this.label, detail: () => this.#stderrDetail() });
    const keep = (into: 'stdout' | 'stderr') => (d: string) => {
      this[into] += d;
      this.output = (this.output + d).slice(-20_000);
      this.wakeup.wake();
    };
    this.worker.process.stdout?.setEncoding('utf8');
    this.worker.process.stderr?.setEncoding('utf8');
    this.worker.process.stdout?.on('data', keep('stdout'));
    this.worker.process.stderr?.on('data', keep('stderr'));
    this.worker.on('message', (m: unknown) => {
      if (!isTagged(m)) this.foreignMessages++;
      else if (!this.rpc.accept(m)) options.onMessage?.(m);
      this.wakeup.wake();
    });
    this.exited = new Promise((resolve) => {
      this.worker.on('exit', (code, signal) => {
        this.exit = { code, signal };
        this.rpc.close(`${this.label} exited (${JSON.stringify(this.exit)}) before replying`);
        resolve(this.exit);
        this.wakeup.wake();
      });
    });
  }

  #stderrDetail(): string {
    return `\n--- stderr ---\n${this.stderr}`;
  }

  /** Waits until `check` gives a value; fails when the worker exits first or after `timeoutMs`. */
  until<T>(what: string, check: () => T | undefined, timeoutMs: number): Promise<T> {
    return this.wakeup.until(what, check, { timeoutMs, who: this.label, gone: () => this.exit, detail: () => this.#stderrDetail(), pollMs: 200 });
  }

  /** Waits for the line the library writes when a `hang` fault point is reached. */
  waitForFault(point: string, timeoutMs: number): Promise<true> {
    const line = `sessmap-fault-reached ${point}`;
    return this.until(`stderr line "${line}"`, () => (this.stderr.split('\n').some((l) => l.trim() === line) ? true : undefined), timeoutMs);
  }

  /** One request to the worker's {@link serve} handler, with no timeout of its own. */
  request<T = any>(body: Record<string, unknown>): Promise<CallResult<T>> {
    return this.rpc.request<T>(body);
  }

  /** SIGKILL, unless it has exited. */
  kill(): void {
    if (this.exit === undefined) killQuietly(this.pid);
  }
}
