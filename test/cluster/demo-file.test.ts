/**
 * `npm start` (examples/cluster.ts) and the other examples keep their sessions in files of their
 * own, so that an app's own setupPrimary() on the default path never meets a demo's file (sized
 * for the demo, it would stop the app with SESSMAP_ERR_GEOMETRY_MISMATCH). The real example runs
 * to completion with its workers and HTTP requests, then an app's primary starts, both in one
 * private XDG_RUNTIME_DIR.
 */
import { describe, expect, it } from 'vitest';
import { fork } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { Child, useChildCleanup } from '../helpers/child.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { useClusterSuite } from './harness.js';

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** Runs examples/cluster.ts --demo-only (what `npm start` runs, stopping after its demonstration). */
async function runClusterExample(env: Record<string, string>): Promise<{ code: number | null; signal: string | null; output: string }> {
  const child = fork(join(REPO_ROOT, 'examples', 'cluster.ts'), ['--demo-only'], {
    execArgv: ['--import', 'tsx'],
    cwd: REPO_ROOT,
    env: { ...process.env, NODE_OPTIONS: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  const [code, signal] = await new Promise<[number | null, string | null]>((r) => child.on('exit', (c, s) => r([c, s])));
  clearTimeout(timer);
  return { code, signal, output };
}

describe('the examples use files of their own', () => {
  const suite = useClusterSuite();
  useChildCleanup();

  it("lets an app's own setupPrimary() on the default path start after npm start's demo ran", async () => {
    const xdg = suite.tmp.dir;
    const demo = await runClusterExample({ XDG_RUNTIME_DIR: xdg, PORT: String(await freePort()) });
    expect(demo, demo.output).toMatchObject({ code: 0, signal: null });
    expect(demo.output).toContain('GET /login');
    const files = fs.readdirSync(join(xdg, 'sessmap'));
    expect(files, 'the demo left no file: it did not run').toHaveLength(1);
    expect(files[0]).not.toBe('sessions.smap');

    // The README's primary, sized otherwise than the demo.
    const app = new Child('cluster/default-primary.ts', { args: [JSON.stringify({ maxSessions: 100_000, idleTimeout: 30 * 60_000 })], env: { XDG_RUNTIME_DIR: xdg } });
    const started = await app.nextMessage<{ ok: boolean; path?: string; error?: { code?: string; message: string } }>();
    expect(started.error?.message, 'the app primary failed').toBeUndefined();
    expect(started).toEqual({ ok: true, path: join(xdg, 'sessmap', 'sessions.smap') });
    expect(await app.waitExit()).toEqual({ code: 0, signal: null });
  });
});
