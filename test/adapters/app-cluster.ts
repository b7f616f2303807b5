/**
 * The end-to-end harness of the adapter tests: a real app cluster (test/fixtures/adapters/primary.ts
 * forking two adapters/worker.ts running the framework's app) reached over real HTTP on a loopback
 * port, and driven over IPC (support/rpc.ts) for what HTTP does not show (which workers listen,
 * their calls on the SessionStore, the primary's events, killing a worker).
 *
 * These files run one at a time, and never beside a test/cluster file: they take the same
 * machine-wide slot as test/cluster/harness.ts (support/suite.ts), so at most one cluster (a
 * primary and two or three workers) runs at any moment on the two cores.
 */
import { expect } from 'vitest';
import { makeTmpDir, removeTmpDir } from '../helpers/tmp.js';
import { Child } from '../support/child.js';
import { killIfRunning, useProcessSuite } from '../support/suite.js';
import { eventually } from '../support/wait.js';
import { describeError, encode } from '../support/rpc.js';
import type { AppConfig, CallCounts, Framework } from '../fixtures/adapters/wire.js';
import { CookieJar, request, type Reply } from './http.js';

export { sleep } from '../support/wait.js';

export interface StartOptions {
  /** setupPrimary options; `path` defaults to a file in the suite's tmp dir. */
  setup?: Record<string, unknown>;
  app?: Partial<AppConfig>;
  /** Fork a replacement when a worker dies. @default false */
  respawn?: boolean;
}

/** A running app cluster. */
export class AppCluster {
  readonly framework: Framework;
  readonly child: Child;
  port = 0;
  path = '';
  /** Every worker pid ever seen, for clean-up. */
  readonly seenPids = new Set<number>();

  constructor(framework: Framework, config: { setup: Record<string, unknown>; app: AppConfig; respawn: boolean }) {
    this.framework = framework;
    this.child = new Child('adapters/primary.ts', { args: [encode({ framework, workers: 2, ...config })] });
  }

  async ready(): Promise<this> {
    const m = await this.child.nextMessage<{ ok: boolean; port: number; path: string; pids: number[]; error?: string }>((x) => x?.type === 'ready', 90_000);
    if (!m.ok) expect.fail(`the ${this.framework} app cluster did not start: ${m.error}\n${this.child.stderr}`);
    this.port = m.port;
    this.path = m.path;
    for (const p of m.pids) this.seenPids.add(p);
    return this;
  }

  async cmd<T = unknown>(body: Record<string, unknown>, timeoutMs = 60_000): Promise<T> {
    const r = await this.child.request<T>(body, timeoutMs);
    if (!r.ok) expect.fail(`${String(body.cmd)} failed in the ${this.framework} primary: ${describeError(r.error)}\n${r.error.stack ?? ''}`);
    return r.value;
  }

  request(jar: CookieJar, method: 'GET' | 'POST', path: string, options?: { keep?: boolean }): Promise<Reply> {
    return request(this.port, jar, method, path, options);
  }

  async workers(): Promise<number[]> {
    const pids = await this.cmd<number[]>({ cmd: 'workers' });
    for (const p of pids) this.seenPids.add(p);
    return pids;
  }

  /** Waits until `count` workers listen, none of them one of `exclude`. */
  async waitWorkers(count: number, exclude: number[] = []): Promise<number[]> {
    const pids = await this.cmd<number[]>({ cmd: 'waitWorkers', count, exclude }, 90_000);
    for (const p of pids) this.seenPids.add(p);
    return pids;
  }

  kill9(pid: number): Promise<{ code: number | null; signal: string | null }> {
    return this.cmd({ cmd: 'kill9', pid });
  }

  /** The SessionStore calls of every listening worker, summed by method. */
  async calls(): Promise<CallCounts> {
    const per = await this.cmd<Array<{ pid: number; calls: CallCounts }>>({ cmd: 'calls' });
    const sum: CallCounts = {};
    for (const { calls } of per) for (const [k, v] of Object.entries(calls)) sum[k] = (sum[k] ?? 0) + v;
    return sum;
  }

  waitSlow(): Promise<number> {
    return this.cmd<number>({ cmd: 'waitSlow' });
  }

  countSessions(): Promise<number> {
    return this.cmd<number>({ cmd: 'count' });
  }

  /** getSession(id) in the primary (null when absent). */
  session(sessionId: string): Promise<{ id: string; data: Record<string, unknown>; expiresAt: number; absoluteExpiresAt: number; version: number } | null> {
    return this.cmd({ cmd: 'session', sessionId });
  }

  /** The keyed hash events carry for `sessionId`. */
  hashId(sessionId: string): Promise<string> {
    return this.cmd({ cmd: 'hashId', sessionId });
  }

  events(): Promise<Array<{ name: string; payload: any }>> {
    return this.cmd({ cmd: 'events' });
  }

  /** Ends the app: `crash` kills every process with SIGKILL, else the primary closes its handle. */
  async stop(options: { crash?: boolean } = {}): Promise<void> {
    if (this.child.exit !== undefined) return;
    await this.cmd({ cmd: 'stop', crash: options.crash === true }, 30_000);
    await this.child.waitExit(15_000);
  }

  /** Never throws: whatever is left is killed. */
  async shutdown(): Promise<void> {
    if (this.child.exit === undefined) {
      try {
        await this.stop();
      } catch {
        // killed below
      }
    }
    if (this.child.exit === undefined) await this.child.kill9();
    // Workers of a primary that died exit by themselves; any left over is killed, by pid, once
    // it is certain the pid is still one of this app's workers.
    for (const pid of this.seenPids) killIfRunning(pid, 'fixtures/adapters/worker.ts');
  }
}

/** Polls the primary's events until `done` holds (a bounded wait, proved by completion). */
export function waitForEvent(app: AppCluster, what: string, done: (e: { name: string; payload: any }) => boolean, timeoutMs = 15_000): Promise<{ name: string; payload: any }> {
  return eventually(what, async () => (await app.events()).find(done), { timeoutMs, intervalMs: 50 });
}

/** Replies whose pids cover `pids`. */
export function pidsOf(replies: Reply[]): Set<number> {
  return new Set(replies.map((r) => r.body.pid));
}

// ------------------------------------------------------------------ one cluster at a time

export interface AppSuite {
  /** A fresh file path in the suite's tmp dir. */
  freshPath(): string;
  /** Starts an app cluster of `framework` (its file: a fresh path unless setup.path is given). */
  start(framework: Framework, options?: StartOptions): Promise<AppCluster>;
  /** Shuts down every cluster this suite started (also done after all tests). */
  shutdownAll(): Promise<void>;
}

/**
 * Call once per end-to-end test file, at the top level: the machine-wide slot, a tmp dir for
 * the file's clusters, and their clean-up. `perTest`: also shut clusters down after each test.
 */
export function useAppSuite(options: { perTest?: boolean } = {}): AppSuite {
  let dir: string | undefined;
  let files = 0;
  const suite = useProcessSuite<AppCluster>({
    perTest: options.perTest,
    setup: () => (dir = makeTmpDir()),
    teardown: () => dir !== undefined && removeTmpDir(dir),
  });
  const freshPath = (): string => {
    if (dir === undefined) throw new Error('useAppSuite: no tmp dir yet (call start from a hook or a test)');
    return `${dir}/sessions-${++files}.smap`;
  };
  return {
    freshPath,
    start(framework, o = {}) {
      const c = new AppCluster(framework, {
        setup: { path: freshPath(), ...o.setup },
        app: { cookieMaxAge: 30 * 60_000, ...o.app },
        respawn: o.respawn ?? false,
      });
      return suite.track(c).ready();
    },
    shutdownAll: suite.shutdownAll,
  };
}

export { CookieJar };
