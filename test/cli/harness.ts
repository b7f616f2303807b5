/**
 * The tests of the sessmap command: the real command run as a process (`node --import tsx
 * src/cli/main.ts`, what the built bin runs, without a build step), and real processes writing
 * to the file it looks at (test/fixtures/cli/writer.ts), paused between two batches when a test
 * compares figures.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { SharedCache, type CreateOptions } from '../../src/index.js';
import { Child, useChildCleanup } from '../helpers/child.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { useTmpDir, type TmpDir } from '../helpers/tmp.js';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export const CLI = join(REPO_ROOT, 'src', 'cli', 'main.ts');

/** Runs `sessmap <args>` to its end. */
export function sessmap(...args: string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.NODE_OPTIONS;
    delete env.SESSMAP_FAULT;
    const p = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    p.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** `sessmap <args>` that must exit 0; its stdout parsed as JSON. */
export async function sessmapJson<T = any>(...args: string[]): Promise<T> {
  const r = await sessmap(...args, '--json');
  if (r.code !== 0) throw new Error(`sessmap ${args.join(' ')} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

export interface Paused {
  ops: number;
  ids: string[];
  users: string[];
}

/** Writer processes on one file. */
export class Writers {
  readonly children: Child[];

  private constructor(children: Child[]) {
    this.children = children;
  }

  /** Starts `n` writers on `path`, each opened and writing. */
  static async start(path: string, n: number): Promise<Writers> {
    const children = Array.from({ length: n }, (_, i) => new Child('cli/writer.ts', { args: [path, `w${i}-`, String(1000 + i)] }));
    await Promise.all(children.map((c) => c.nextMessage((m) => m?.type === 'ready')));
    const w = new Writers(children);
    w.go();
    return w;
  }

  get pids(): number[] {
    return this.children.map((c) => c.proc.pid!);
  }

  go(): void {
    for (const c of this.children) if (c.exit === undefined) c.send({ type: 'go' });
  }

  /** Stops every writer between two batches; what each wrote. */
  async pause(): Promise<Paused[]> {
    const live = this.children.filter((c) => c.exit === undefined);
    for (const c of live) c.send({ type: 'pause' });
    return Promise.all(live.map((c) => c.nextMessage<Paused>((m) => m?.type === 'paused')));
  }

  /** Lets them write until each has done `ops` more operations (no clock involved). */
  async writeSome(ops: number): Promise<Paused[]> {
    const before = await this.pause();
    for (;;) {
      this.go();
      await new Promise((r) => setTimeout(r, 50));
      const now = await this.pause();
      if (now.every((p, i) => p.ops >= before[i].ops + ops)) return now;
    }
  }

  /** Closes every writer that still runs. */
  async stop(): Promise<void> {
    const live = this.children.filter((c) => c.exit === undefined);
    for (const c of live) c.send({ type: 'stop' });
    await Promise.all(live.map((c) => c.waitExit()));
  }
}

/**
 * Creates the file at `path` with `geometry`, starts `n` writers on it and runs `fn` with this
 * process's handle and the writers; the writers are stopped and the handle closed however it ends.
 */
export async function withWriters<R>(path: string, geometry: CreateOptions, n: number, fn: (mine: SharedCache, w: Writers, path: string) => Promise<R>): Promise<R> {
  const mine = SharedCache.create(path, geometry);
  try {
    const w = await Writers.start(path, n);
    try {
      return await fn(mine, w, path);
    } finally {
      await w.stop();
    }
  } finally {
    mine.close();
  }
}

/** A test file's setup: a private temp dir per test, and every forked writer killed after each. */
export function useCliSuite(): TmpDir {
  useChildCleanup();
  return useTmpDir();
}
