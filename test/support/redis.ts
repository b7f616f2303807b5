/**
 * Real Redis servers for the tests: a `redis-server` on a free loopback port with its own temp
 * directory, no persistence, that a test can kill -9, SIGSTOP / SIGCONT and restart on the same
 * port; and a Redis Cluster of three masters on loopback ports, made with
 * `redis-cli --cluster create ... --cluster-yes`. Everything started here is stopped by `stop()`
 * and, as a last resort, when the test process exits. Free of vitest, so fixtures load it too.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  /** The running server's pid (changes on restart). */
  readonly pid: number;
  /** Sends a signal (SIGKILL, SIGSTOP, SIGCONT) to the server. */
  signal(sig: NodeJS.Signals): void;
  /** Kills the server with SIGKILL and waits for it to be gone. */
  kill(): Promise<void>;
  /** Starts a server again on the same port and directory (after kill). */
  restart(): Promise<void>;
  /** A command through redis-cli, for a test's own look at the server (no client library). */
  cli(...args: string[]): string;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) {
    try {
      c.kill('SIGKILL');
    } catch {
      // gone
    }
  }
});

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

function spawnServer(port: number, dir: string, extra: readonly string[]): Promise<ChildProcess> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--logfile', '', '--protected-mode', 'no', ...extra];
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  child.once('exit', () => live.delete(child));
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`redis-server did not get ready on port ${port} within 10 s:\n${output}`));
    }, 10_000);
    const onData = (b: Buffer): void => {
      output = (output + b.toString()).slice(-4000);
      if (/Ready to accept connections/.test(output)) {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        child.stdout!.resume();
        child.stderr!.resume();
        resolve(child);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (b: Buffer) => (output += b.toString()));
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`could not run redis-server (apt-get install redis-server): ${err.message}`));
    });
    child.once('exit', (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited (${sig ?? code}) before it was ready on port ${port}:\n${output}`));
    });
  });
}

function waitExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

export function redisCli(port: number, ...args: string[]): string {
  const r = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { encoding: 'utf8', timeout: 10_000 });
  if (r.error) throw r.error;
  return r.stdout.trim();
}

/** A redis-server of its own: free port, temp dir; `extra` are more command-line options. */
export async function startRedis(extra: readonly string[] = [], options: { dir?: string; port?: number } = {}): Promise<RedisServer> {
  const dir = options.dir ?? mkdtempSync(path.join(os.tmpdir(), 'sessmap-redis-'));
  const ownDir = options.dir === undefined;
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = options.port ?? (await freePort());
    try {
      let child = await spawnServer(port, dir, extra);
      const server: RedisServer = {
        url: `redis://127.0.0.1:${port}`,
        port,
        get pid() {
          return child.pid!;
        },
        signal(sig) {
          child.kill(sig);
        },
        async kill() {
          child.kill('SIGKILL');
          await waitExit(child);
        },
        async restart() {
          child = await spawnServer(port, dir, extra);
        },
        cli: (...args) => redisCli(port, ...args),
        async stop() {
          child.kill('SIGCONT');
          child.kill('SIGKILL');
          await waitExit(child);
          if (ownDir) rmSync(dir, { recursive: true, force: true });
        },
      };
      return server;
    } catch (err) {
      lastError = err;
      if (options.port !== undefined) break;
    }
  }
  if (ownDir) rmSync(dir, { recursive: true, force: true });
  throw lastError;
}

export interface RedisClusterServers {
  /** URLs of the masters, for `rootNodes`. */
  readonly rootNodes: string[];
  readonly nodes: RedisServer[];
  stop(): Promise<void>;
}

/**
 * A Redis Cluster of `masters` masters on loopback ports, every slot assigned; with `replicas`,
 * that many replicas of each master (`nodes` holds the masters first), and a node timeout of
 * 1 s so that a replica takes over a killed master within a few seconds.
 */
export async function startRedisCluster(masters = 3, replicas = 0): Promise<RedisClusterServers> {
  const nodes: RedisServer[] = [];
  const dirs: string[] = [];
  const stopAll = async (): Promise<void> => {
    await Promise.all(nodes.map((n) => n.stop()));
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  };
  try {
    const timeout = replicas > 0 ? '1000' : '5000';
    for (let i = 0; i < masters * (1 + replicas); i++) {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'sessmap-rcluster-'));
      dirs.push(dir);
      nodes.push(await startRedis(['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', timeout], { dir }));
    }
    const addrs = nodes.map((n) => `127.0.0.1:${n.port}`);
    const r = spawnSync('redis-cli', ['--cluster', 'create', ...addrs, '--cluster-replicas', String(replicas), '--cluster-yes'], { encoding: 'utf8', timeout: 30_000 });
    if (r.status !== 0) throw new Error(`redis-cli --cluster create failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
    const deadline = Date.now() + 20_000;
    for (;;) {
      const ok = nodes.every((n) => /cluster_state:ok/.test(n.cli('cluster', 'info')) && /cluster_known_nodes:(\d+)/.exec(n.cli('cluster', 'info'))?.[1] === String(nodes.length));
      // A replica that never synced with its master would not take over from it.
      const synced = nodes.every((n) => !n.cli('ROLE').startsWith('slave') || /master_link_status:up/.test(n.cli('INFO', 'replication')));
      if (ok && synced) break;
      if (Date.now() > deadline) throw new Error(`the cluster did not reach cluster_state:ok (with every replica synced) within 20 s:\n${nodes[0]!.cli('cluster', 'info')}`);
      await new Promise((res) => setTimeout(res, 100));
    }
  } catch (err) {
    await stopAll();
    throw err;
  }
  return { rootNodes: nodes.slice(0, masters).map((n) => n.url), nodes, stop: stopAll };
}
