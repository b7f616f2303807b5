/**
 * The cluster tests' harness. Each test forks a fixture primary (test/fixtures/cluster/primary.ts)
 * that calls setupPrimary and forks real `node:cluster` workers (cluster/worker.ts); the test
 * drives both over IPC (support/rpc.ts) through {@link ClusterPrimary}.
 *
 * Cluster test files run one at a time (see {@link useClusterSuite} and support/suite.ts): each
 * cluster is up to five processes on a two-core machine, and the expiry tests need their timers
 * to run roughly on time.
 */
import { expect } from 'vitest';
import { useTmpDir, type TmpDir } from '../helpers/tmp.js';
import { Child } from '../support/child.js';
import { killIfRunning, useProcessSuite } from '../support/suite.js';
import { eventually } from '../support/wait.js';
import { describeError, encode } from '../support/rpc.js';
import type { CallResult, PrimaryConfig, RecordedEvent, Script, Target, UpdateSpec, WireError, WorkerBoot } from '../fixtures/cluster/wire.js';

export type { CallResult, RecordedEvent, UpdateSpec, WireError };
export { sleep } from '../support/wait.js';

/** A session id of the documented shape (16 to 128 of A-Z a-z 0-9 - _), unique per call. */
let idCounter = 0;
export function sessionId(label = 'sess'): string {
  idCounter++;
  const base = `${label}_${process.pid}_${idCounter}_${Math.random().toString(36).slice(2)}`.replace(/[^A-Za-z0-9_-]/g, '_');
  return base.padEnd(24, 'x').slice(0, 100);
}

/** The shape of a `sid`: a keyed hash of 16 hex characters. */
export const SID = /^[0-9a-f]{16}$/;

export interface WorkerInfo {
  index: number;
  workerId: number;
  pid: number;
}

/** The fixture primary of one test, driven over IPC. */
export class ClusterPrimary {
  readonly child: Child;
  readonly workerPids: number[] = [];
  path = '';

  constructor(config: PrimaryConfig) {
    // The config travels encoded (support/rpc.ts) so Infinity and undefined survive.
    this.child = new Child('cluster/primary.ts', { args: [encode(config)] });
  }

  /** Waits for the primary's `ready`; fails the test when setupPrimary threw. */
  async ready(): Promise<this> {
    const m = await this.child.nextMessage<{ ok: boolean; path?: string; error?: WireError }>((x) => x?.type === 'ready', 30_000);
    if (!m.ok) expect.fail(`setupPrimary threw: ${describeError(m.error!)}`);
    this.path = m.path!;
    return this;
  }

  /** One command; the reply's CallResult. */
  cmd<T = any>(body: Record<string, unknown>, timeoutMs = 60_000): Promise<CallResult<T>> {
    return this.child.request<T>(body, timeoutMs) as Promise<CallResult<T>>;
  }

  /** One command whose failure fails the test. */
  async ok<T = any>(body: Record<string, unknown>, timeoutMs = 60_000): Promise<T> {
    const r = await this.cmd<T>(body, timeoutMs);
    if (!r.ok) expect.fail(`${String(body.cmd)} ${body.method ? `${String(body.method)} ` : ''}on ${String(body.target ?? 'primary')} failed: ${describeError(r.error)}`);
    return r.value;
  }

  /** Forks `count` workers (cluster.fork in the primary) and waits until each has attached. */
  async fork(count: number, boot: WorkerBoot = {}, env: Record<string, string> = {}): Promise<WorkerInfo[]> {
    const made = await this.ok<WorkerInfo[]>({ cmd: 'fork', count, boot, env }, 90_000);
    for (const w of made) this.workerPids.push(w.pid);
    return made;
  }

  /** store[method](...args) in the primary ('primary') or in worker #target. */
  call<T = any>(target: Target, method: string, ...args: unknown[]): Promise<CallResult<T>> {
    return this.cmd<T>({ cmd: 'call', target, method, args });
  }

  callOk<T = any>(target: Target, method: string, ...args: unknown[]): Promise<T> {
    return this.ok<T>({ cmd: 'call', target, method, args });
  }

  /** Starts a call without waiting (for calls that block on a lock); the promise never rejects unhandled. */
  fire<T = any>(target: Target, method: string, ...args: unknown[]): Promise<CallResult<T>> {
    const p = this.cmd<T>({ cmd: 'call', target, method, args }, 120_000);
    p.catch(() => undefined);
    return p;
  }

  script<T = any>(target: Target, script: Script, timeoutMs = 90_000): Promise<T> {
    return this.ok<T>({ cmd: 'script', target, script }, timeoutMs);
  }

  /** The sids (keyed hashes) of `ids`, computed by the primary's store. */
  hashIds(ids: string[]): Promise<string[]> {
    return this.script<string[]>('primary', { name: 'hashIds', ids });
  }

  /** The subset of `ids` that getSession returns in `target`. */
  whichExist(target: Target, ids: string[]): Promise<string[]> {
    return this.script<string[]>(target, { name: 'whichExist', ids });
  }

  kill9(target: number): Promise<{ code: number | null; signal: string | null }> {
    return this.ok({ cmd: 'kill9', target });
  }

  waitFault(target: number, point: string): Promise<void> {
    return this.ok({ cmd: 'waitFault', target, point, timeoutMs: 30_000 });
  }

  /** Every event the primary's `handle.events` emitted so far, in order. */
  events(): Promise<RecordedEvent[]> {
    return this.ok<RecordedEvent[]>({ cmd: 'events' });
  }

  workerEvents(target: number): Promise<RecordedEvent[]> {
    return this.ok<RecordedEvent[]>({ cmd: 'workerEvents', target });
  }

  /** Where the primary serves `/metrics` (its `metrics` option), once it listens. */
  metricsEndpoint(): Promise<{ host: string; port: number; url: string }> {
    return this.ok({ cmd: 'metrics' });
  }

  logs(): Promise<string[]> {
    return this.ok<string[]>({ cmd: 'logs' });
  }

  workerLogs(target: number): Promise<string[]> {
    return this.ok<string[]>({ cmd: 'workerLogs', target });
  }

  output(target: number): Promise<{ stdout: string; stderr: string }> {
    return this.ok({ cmd: 'output', target });
  }

  /**
   * Polls the primary's events until `done(events)` holds; returns them. A bounded wait proved by
   * completion: the timeout is generous and only fails a test that never gets there.
   */
  waitForEvents(what: string, done: (events: RecordedEvent[]) => boolean, timeoutMs = 15_000): Promise<RecordedEvent[]> {
    let seen: RecordedEvent[] = [];
    return eventually(
      what,
      async () => {
        seen = await this.events();
        return done(seen) && seen;
      },
      { timeoutMs, intervalMs: 50, report: () => `the primary has seen ${JSON.stringify(countByName(seen))}` },
    );
  }

  /** Shuts the cluster down: workers killed, handle closed, primary exited. Never throws. */
  async shutdown(): Promise<void> {
    if (this.child.exit === undefined) {
      try {
        await this.cmd({ cmd: 'shutdown' }, 15_000);
        await this.child.waitExit(10_000);
      } catch {
        // killed below
      }
    }
    if (this.child.exit === undefined) await this.child.kill9();
    // A worker spinning at a fault point ignores its channel closing: kill what is left by pid.
    for (const pid of this.workerPids) killIfRunning(pid, 'fixtures/cluster/worker.ts');
  }
}

export function countByName(events: RecordedEvent[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of events) out[e.name] = (out[e.name] ?? 0) + 1;
  return out;
}

export function named(events: RecordedEvent[], name: string): any[] {
  return events.filter((e) => e.name === name).map((e) => e.payload);
}

/** How many times each value occurs. */
export function tally<T>(values: T[]): Map<T, number> {
  const m = new Map<T, number>();
  for (const v of values) m.set(v, (m.get(v) ?? 0) + 1);
  return m;
}

// ------------------------------------------------------------------ one cluster file at a time

export interface ClusterSuite {
  readonly tmp: TmpDir;
  /** Starts a fixture primary with setupPrimary(config.setup), the file in this test's tmp dir by default. */
  start(setup: Record<string, unknown>, extra?: Omit<PrimaryConfig, 'setup'>): Promise<ClusterPrimary>;
}

/** Call once per cluster test file: tmp dirs, the one-file-at-a-time slot, and cleanup of every cluster after each test. */
export function useClusterSuite(): ClusterSuite {
  const tmp = useTmpDir();
  const suite = useProcessSuite<ClusterPrimary>({ perTest: true });
  return {
    tmp,
    start(setup, extra = {}) {
      return suite.track(new ClusterPrimary({ ...extra, setup: { path: tmp.path('sessions.smap'), ...setup } })).ready();
    },
  };
}
