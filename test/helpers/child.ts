/**
 * Forked fixture processes: real `child_process.fork` of a TS fixture under tsx, with stderr
 * captured (fault points announce themselves there), messages over IPC ('advanced'
 * serialization, so Buffer, Map, BigInt and Infinity survive), and a real SIGKILL.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { afterEach } from 'vitest';
import { REPO_ROOT, fixture } from './paths.js';

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SpawnOptions {
  args?: string[];
  /** Fault point, e.g. `write:partial` or `write:partial:3`. */
  fault?: string;
  faultAction?: 'kill' | 'hang';
  env?: Record<string, string>;
}

const live = new Set<Child>();

/** Kills (SIGKILL, by pid) every child this test file started that is still running. */
export async function killAllChildren(): Promise<void> {
  const waits: Promise<unknown>[] = [];
  for (const c of live) {
    if (c.exit === undefined) {
      c.proc.kill('SIGKILL');
      waits.push(c.exited);
    }
  }
  live.clear();
  await Promise.all(waits);
}

/** Call once per test file that forks children. */
export function useChildCleanup(): void {
  afterEach(killAllChildren);
}

export class Child {
  readonly proc: ChildProcess;
  readonly exited: Promise<ChildExit>;
  readonly name: string;
  exit: ChildExit | undefined;
  stderr = '';
  stdout = '';
  readonly #messages: unknown[] = [];
  #waiters: Array<() => void> = [];

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
    live.add(this);
    this.proc.stderr!.setEncoding('utf8');
    this.proc.stdout!.setEncoding('utf8');
    this.proc.stderr!.on('data', (d: string) => {
      this.stderr += d;
      this.#wake();
    });
    this.proc.stdout!.on('data', (d: string) => {
      this.stdout += d;
    });
    this.proc.on('message', (m) => {
      this.#messages.push(m);
      this.#wake();
    });
    this.exited = new Promise((resolve) => {
      this.proc.on('exit', (code, signal) => {
        this.exit = { code, signal };
        live.delete(this);
        this.#wake();
        resolve(this.exit);
      });
    });
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  /** Waits until `check` returns a value other than undefined, the child exits, or the deadline passes. */
  async #until<T>(what: string, check: () => T | undefined, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = check();
      if (v !== undefined) return v;
      if (this.exit !== undefined) {
        // Let pending stdio/messages drain once more.
        await new Promise((r) => setImmediate(r));
        const again = check();
        if (again !== undefined) return again;
        throw new Error(`${this.name} exited (${JSON.stringify(this.exit)}) before ${what}\n--- stderr ---\n${this.stderr}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.name}: timed out after ${timeoutMs} ms waiting for ${what}\n--- stderr ---\n${this.stderr}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 250));
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Waits for the line the library writes when a `hang` fault point is reached. */
  async waitForFault(point: string, timeoutMs = 30_000): Promise<void> {
    const line = `sessmap-fault-reached ${point}`;
    await this.#until(`stderr line "${line}"`, () => (this.stderr.split('\n').some((l) => l.trim() === line) ? true : undefined), timeoutMs);
  }

  /** The next IPC message matching `pred` (consumed). */
  async nextMessage<T = unknown>(pred: (m: any) => boolean = () => true, timeoutMs = 60_000): Promise<T> {
    return this.#until(
      'an IPC message',
      () => {
        const i = this.#messages.findIndex(pred);
        if (i < 0) return undefined;
        const [m] = this.#messages.splice(i, 1);
        return { m } as { m: T };
      },
      timeoutMs,
    ).then((x) => x.m);
  }

  send(msg: unknown): void {
    this.proc.send(msg as any);
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
        reject(new Error(`${this.name} did not exit within ${timeoutMs} ms (killed)\n--- stderr ---\n${this.stderr}`));
      }, timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

// ------------------------------------------------------------------ cache-child protocol

/** How an error crosses IPC from the cache child. */
export interface WireError {
  code?: string;
  name: string;
  message: string;
}

export type CallResult = { ok: true; value: any } | { ok: false; error: WireError };

/** A named update function (functions cannot cross IPC). */
export type UpdateSpec = { kind: 'increment' } | { kind: 'set'; value: unknown } | { kind: 'delete' };

export interface CallSpec {
  method: string;
  args: unknown[];
}

/** A forked `cache-child.ts`: a process holding its own SharedCache handle, driven over IPC. */
export class CacheChild extends Child {
  #nextId = 1;

  constructor(opts: SpawnOptions = {}) {
    super('core/cache-child.ts', opts);
  }

  async #request(msg: Record<string, unknown>, timeoutMs = 60_000): Promise<any> {
    const id = this.#nextId++;
    this.send({ ...msg, id });
    const reply = await this.nextMessage<{ id: number; result: unknown }>((m) => m?.id === id, timeoutMs);
    return reply.result;
  }

  /** Opens the file with SharedCache.open (or create with ifExists 'attach' when `create`). */
  async open(path: string, opts: Record<string, unknown> = {}, create = false): Promise<CallResult> {
    return this.#request({ cmd: 'open', path, opts, create });
  }

  /** Opens and throws when that fails. */
  async openOk(path: string, opts: Record<string, unknown> = {}): Promise<void> {
    const r = await this.open(path, opts);
    if (!r.ok) throw new Error(`${this.name}: open failed: ${JSON.stringify(r.error)}`);
  }

  /** Calls a method of the child's handle. `update` takes an UpdateSpec in place of the function. */
  async call(method: string, ...args: unknown[]): Promise<CallResult> {
    return this.#request({ cmd: 'call', method, args });
  }

  /** Calls and returns the value, throwing when the call failed in the child. */
  async callOk(method: string, ...args: unknown[]): Promise<any> {
    const r = await this.call(method, ...args);
    if (!r.ok) throw new Error(`${this.name}: ${method} failed: ${JSON.stringify(r.error)}`);
    return r.value;
  }

  /** Sends a call without waiting for its reply (for calls expected to hang or die). */
  fire(method: string, ...args: unknown[]): Promise<CallResult> {
    return handled(this.#request({ cmd: 'call', method, args }, 10 * 60_000));
  }

  /** Runs several calls back to back in one message (no IPC round trips between them). */
  fireBatch(calls: CallSpec[]): Promise<CallResult[]> {
    return handled(this.#request({ cmd: 'batch', calls }, 10 * 60_000));
  }

  async ownerId(): Promise<number> {
    return this.#request({ cmd: 'ownerId' });
  }

  async close(): Promise<void> {
    await this.#request({ cmd: 'exit' }).catch(() => undefined);
    await this.waitExit();
  }
}

/** Marks a promise as handled (its child may be killed before it settles) while keeping its rejection for awaiters. */
function handled<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}

/** Spawns a cache child and opens `path` in it. */
export async function openChild(path: string, openOpts: Record<string, unknown> = {}, spawn: SpawnOptions = {}): Promise<CacheChild> {
  const c = new CacheChild(spawn);
  await c.openOk(path, openOpts);
  return c;
}
