/**
 * Suite setup and teardown of the test files that fork processes: every forked fixture killed
 * after each test ({@link useChildCleanup}), a grandchild killed by pid ({@link killIfRunning});
 * and for the files that start clusters (test/cluster, test/adapters), one such file at a time
 * across vitest's workers and the shut-down of everything a file started ({@link useProcessSuite}).
 *
 * The slot is an abstract Unix socket: the kernel releases it when its holder exits, so a crashed
 * runner never keeps it. Two clusters at once (each a primary and two to four workers) would
 * starve each other on two cores, and the expiry tests need their timers to run roughly on time.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { liveChildren } from './child.js';
import { sleep } from './wait.js';

// ------------------------------------------------------------------ forked fixtures

/** Kills (SIGKILL) every child this test file started that is still running, and waits for each. */
export async function killAllChildren(): Promise<void> {
  const waits: Promise<unknown>[] = [];
  for (const c of liveChildren) {
    if (c.exit === undefined) {
      c.proc.kill('SIGKILL');
      waits.push(c.exited);
    }
  }
  liveChildren.clear();
  await Promise.all(waits);
}

/** Call once per test file that forks children: {@link killAllChildren} after each test. */
export function useChildCleanup(): void {
  afterEach(killAllChildren);
}

/**
 * SIGKILL to `pid` when it is still a process running `script` (a path fragment of its command
 * line): a grandchild whose parent is gone is killed by pid, and a pid can be reused once its
 * process has gone.
 */
export function killIfRunning(pid: number, script: string): void {
  try {
    if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(script)) return;
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone already
  }
}

// ------------------------------------------------------------------ one cluster file at a time

const SLOT_NAME = '\0sessmap-cluster-tests';

/** Waits until this process holds the machine-wide cluster slot; close the server to release it. */
export async function acquireClusterSlot(): Promise<net.Server> {
  for (;;) {
    const server = net.createServer();
    const got = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(SLOT_NAME, () => resolve(true));
    });
    if (got) {
      server.unref();
      return server;
    }
    server.close();
    await sleep(100);
  }
}

/** What a suite starts and later shuts down. `shutdown` never throws. */
export interface Stoppable {
  shutdown(): Promise<void>;
}

export interface ProcessSuiteOptions {
  /** Shut down what was started after each test, not only after the file. @default false */
  perTest?: boolean;
  /** Runs once the slot is held, before the first test (e.g. a tmp dir for the file). */
  setup?: () => void;
  /** Runs after the file's last shut-down, before the slot is released. */
  teardown?: () => void;
}

export interface ProcessSuite<T extends Stoppable> {
  /** Registers `started` for shut-down and returns it. */
  track(started: T): T;
  /** Shuts down everything started so far, all at once. */
  shutdownAll(): Promise<void>;
}

/**
 * Call once per cluster test file, at the top level: holds the cluster slot from before the
 * first test to after the last, and shuts down every tracked cluster (after each test with
 * `perTest`, and after the file in any case).
 */
export function useProcessSuite<T extends Stoppable>(options: ProcessSuiteOptions = {}): ProcessSuite<T> {
  let slot: net.Server | undefined;
  const started: T[] = [];
  const shutdownAll = async (): Promise<void> => {
    await Promise.all(started.splice(0).map((s) => s.shutdown()));
  };
  beforeAll(async () => {
    slot = await acquireClusterSlot();
    options.setup?.();
  }, 300_000);
  if (options.perTest) afterEach(shutdownAll, 60_000);
  afterAll(async () => {
    await shutdownAll();
    options.teardown?.();
    await new Promise<void>((r) => (slot ? slot.close(() => r()) : r()));
  }, 60_000);
  return {
    track(s) {
      started.push(s);
      return s;
    },
    shutdownAll,
  };
}
