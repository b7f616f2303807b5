/**
 * Fixture processes forked by a test: a real `child_process.fork` of a fixture script under tsx,
 * stdout and stderr kept (fault points announce themselves on stderr), IPC with 'advanced'
 * serialization, requests through {@link Child.request}, and a real SIGKILL. Their clean-up
 * after each test is in support/suite.ts.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { REPO_ROOT, fixture } from '../helpers/paths.js';
import { RpcClient, type CallResult } from './rpc.js';
import { Wakeup } from './wait.js';

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SpawnOptions {
  args?: string[];
  /** Fault point, e.g. `write:partial` or `write:partial:3`. */
  fault?: string;
  /** What the library does at the fault point. @default 'kill' */
  faultAction?: 'kill' | 'hang';
  env?: Record<string, string>;
}

/** The children started in this process that have not exited yet (see support/suite.ts). */
export const liveChildren = new Set<Child>();

/** A forked fixture (`name` relative to test/fixtures, e.g. `core/cache-child.ts`). */
export class Child {
  readonly proc: ChildProcess;
  readonly exited: Promise<ChildExit>;
  readonly name: string;
  /** Requests to a fixture that {@link serve}s (see support/rpc.ts). */
  readonly rpc: RpcClient;
  exit: ChildExit | undefined;
  stderr = '';
  stdout = '';
  readonly #messages: unknown[] = [];
  readonly #wakeup = new Wakeup();

  constructor(name: string, opts: SpawnOptions = {}) {
    this.name = name;
    const env: Record<string, string | undefined> = { ...process.env, ...opts.env };
    delete env.SESSMAP_FAULT;
    delete env.SESSMAP_FAULT_ACTION;
    delete env.NODE_OPTIONS;
    if (opts.fault !== undefined) {
      env.SESSMAP_FAULT = opts.fault;
      env.SESSMAP_FAULT_ACTION = opts.faultAction ?? 'kill';
    }
    this.proc = fork(fixture(name), opts.args ?? [], {
      execArgv: ['--import', 'tsx'],
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'advanced',
    });
    liveChildren.add(this);
    this.rpc = new RpcClient((m) => this.proc.send(m as never), { who: name, detail: () => this.#stderrDetail() });
    this.proc.stderr!.setEncoding('utf8');
    this.proc.stdout!.setEncoding('utf8');
    this.proc.stderr!.on('data', (d: string) => {
      this.stderr += d;
      this.#wakeup.wake();
    });
    this.proc.stdout!.on('data', (d: string) => {
      this.stdout += d;
    });
    this.proc.on('message', (m) => {
      if (this.rpc.accept(m)) return;
      this.#messages.push(m);
      this.#wakeup.wake();
    });
    this.exited = new Promise((resolve) => {
      this.proc.on('exit', (code, signal) => {
        this.exit = { code, signal };
        liveChildren.delete(this);
        this.#wakeup.wake();
        // Replies sent just before the exit may still be on their way.
        setImmediate(() => this.rpc.close(`${name} exited (${JSON.stringify(this.exit)}) before replying${this.#stderrDetail()}`));
        resolve(this.exit);
      });
    });
  }

  #stderrDetail(): string {
    return `\n--- stderr ---\n${this.stderr}`;
  }

  #until<T>(what: string, check: () => T | undefined, timeoutMs: number): Promise<T> {
    return this.#wakeup.until(what, check, { timeoutMs, who: this.name, gone: () => this.exit, detail: () => this.#stderrDetail() });
  }

  /** Waits for the line the library writes when a `hang` fault point is reached. */
  async waitForFault(point: string, timeoutMs = 30_000): Promise<void> {
    const line = `sessmap-fault-reached ${point}`;
    await this.#until(`stderr line "${line}"`, () => (this.stderr.split('\n').some((l) => l.trim() === line) ? true : undefined), timeoutMs);
  }

  /** The next IPC message matching `pred` (consumed); replies to {@link request} are not among them. */
  async nextMessage<T = unknown>(pred: (m: any) => boolean = () => true, timeoutMs = 60_000): Promise<T> {
    const found = await this.#until(
      'an IPC message',
      () => {
        const i = this.#messages.findIndex(pred);
        return i < 0 ? undefined : { m: this.#messages.splice(i, 1)[0] as T };
      },
      timeoutMs,
    );
    return found.m;
  }

  send(msg: unknown): void {
    this.proc.send(msg as never);
  }

  /** One request to the fixture's {@link serve} handler: its CallResult. */
  request<T = any>(body: Record<string, unknown>, timeoutMs = 60_000): Promise<CallResult<T>> {
    return this.rpc.request<T>(body, timeoutMs);
  }

  /** A real `kill -9` from outside; resolves when the process is gone. */
  async kill9(): Promise<ChildExit> {
    if (this.exit === undefined) this.proc.kill('SIGKILL');
    return this.exited;
  }

  /** Waits for exit, failing after `timeoutMs` (and killing the child then). */
  async waitExit(timeoutMs = 60_000): Promise<ChildExit> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.proc.kill('SIGKILL');
        reject(new Error(`${this.name} did not exit within ${timeoutMs} ms (killed)${this.#stderrDetail()}`));
      }, timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Marks `p` handled (its process may be killed before it settles) while keeping its rejection for awaiters. */
export function handled<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}
