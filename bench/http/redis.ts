/**
 * A throwaway redis-server for the runs on Redis (connect-redis, sessmap on Redis): on a free
 * loopback port, no persistence, its working directory in the run's temp directory; one server for
 * the whole benchmark, emptied (FLUSHALL) before each run on it, stopped at the end, on error and
 * on SIGINT.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import net from 'node:net';
import { delimiter, join } from 'node:path';
import { procCpuMicros } from './cpu.js';

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  readonly version: string;
  readonly pid: number;
  stop(): Promise<void>;
  /** CPU time the server has used so far (user + system, microseconds; Linux /proc), or undefined. */
  cpuMicros(): number | undefined;
  /** Synchronous last resort (process 'exit' handlers). */
  kill(): void;
  /** FLUSHALL, then DBSIZE: resolves with the key count after the flush (0). */
  flushAll(): Promise<number>;
  /** DBSIZE. */
  dbSize(): Promise<number>;
}

/** The redis-server to run: $REDIS_SERVER, else the first on PATH or in the usual places. */
export function findRedisServer(): string | undefined {
  const fromEnv = process.env.REDIS_SERVER;
  const candidates = fromEnv
    ? [fromEnv]
    : [...(process.env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, 'redis-server')), '/usr/bin/redis-server', '/usr/local/bin/redis-server', '/usr/sbin/redis-server'];
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // next
    }
  }
  return undefined;
}

/** Why no redis-server was found, and what to do. */
export function redisMissingMessage(): string {
  const where = process.env.REDIS_SERVER
    ? `REDIS_SERVER=${process.env.REDIS_SERVER} is not an executable file`
    : 'redis-server not found (looked on $PATH and in /usr/bin, /usr/local/bin, /usr/sbin)';
  return (
    `${where}. The runs on Redis (connect-redis, sessmap-redis) start their own redis-server: install it (Debian/Ubuntu: sudo apt-get install redis-server), ` +
    'or set REDIS_SERVER=/path/to/redis-server, or leave the stores on Redis out with --stores=sessmap,memory.'
  );
}

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

/** A redis-server on a free port (or on `port`: a restart of one that was killed). */
export async function startRedis(bin: string, dir: string, attempts = 3, port?: number): Promise<RedisServer> {
  if (port !== undefined) return startOnce(bin, dir, port);
  let last: Error | undefined;
  for (let i = 0; i < attempts; i++) {
    const port = await freePort();
    try {
      return await startOnce(bin, dir, port);
    } catch (err) {
      last = err as Error;
    }
  }
  throw last ?? new Error('redis-server did not start');
}

function startOnce(bin: string, dir: string, port: number): Promise<RedisServer> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--dir', dir, '--loglevel', 'notice', '--logfile', ''];
  const child: ChildProcess = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const onData = (b: Buffer): void => {
    output = (output + b.toString()).slice(-4000);
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });

  const kill = (): void => {
    if (!exited && child.pid !== undefined) {
      try {
        child.kill('SIGTERM');
      } catch {
        // already gone
      }
    }
  };
  const stop = (): Promise<void> =>
    new Promise((resolve) => {
      if (exited) return resolve();
      const t = setTimeout(() => {
        child.kill('SIGKILL');
      }, 3000);
      child.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      kill();
    });

  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      kill();
      reject(new Error(`redis-server did not report ready within 10 s on port ${port}:\n${output}`));
    }, 10_000);
    const check = (): void => {
      if (!/Ready to accept connections/.test(output)) return;
      cleanup();
      const version = /Redis version=([^\s,]+)/.exec(output)?.[1] ?? /v=([^\s,]+)/.exec(output)?.[1] ?? 'unknown';
      resolve({ url: `redis://127.0.0.1:${port}`, port, version, pid: child.pid!, stop, kill, cpuMicros: () => procCpuMicros(child.pid!), flushAll: () => flushAll(port), dbSize: async () => Number((await simpleCommands(port, ['DBSIZE']))[0]) });
    };
    const onExit = (code: number | null, signal: string | null): void => {
      cleanup();
      reject(new Error(`redis-server exited (${signal ?? String(code)}) before it was ready on port ${port}:\n${output}`));
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(new Error(`could not run ${bin}: ${err.message}`));
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      child.stdout!.off('data', check);
      child.off('exit', onExit);
      child.off('error', onError);
    };
    child.stdout!.on('data', check);
    child.once('exit', onExit);
    child.once('error', onError);
  });
}

/**
 * Commands without arguments whose replies are simple strings or integers (FLUSHALL, DBSIZE),
 * over a connection of their own in plain RESP, so the benchmark process loads no Redis client.
 */
export function simpleCommands(port: number, commands: readonly string[]): Promise<Array<string | number>> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let reply = '';
    const fail = (err: Error): void => {
      clearTimeout(timer);
      sock.destroy();
      reject(err);
    };
    const timer = setTimeout(() => fail(new Error(`redis-server on port ${port}: no answer to ${commands.join(', ')} within 5 s (got ${JSON.stringify(reply)})`)), 5000);
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      reply += d;
      const lines = reply.split('\r\n').slice(0, -1);
      if (lines.length < commands.length) return;
      const out: Array<string | number> = [];
      for (const [i, line] of lines.entries()) {
        if (line.startsWith('+')) out.push(line.slice(1));
        else if (line.startsWith(':')) out.push(Number(line.slice(1)));
        else return fail(new Error(`redis-server on port ${port}: ${commands[i] ?? '?'} answered ${JSON.stringify(line)}`));
      }
      clearTimeout(timer);
      sock.end();
      resolve(out);
    });
    sock.on('error', fail);
    sock.write(commands.map((c) => `*1\r\n$${c.length}\r\n${c}\r\n`).join(''));
  });
}

/** FLUSHALL (synchronous in the server), then the key count after it. */
export async function flushAll(port: number): Promise<number> {
  const [ok, n] = await simpleCommands(port, ['FLUSHALL', 'DBSIZE']);
  if (ok !== 'OK') throw new Error(`redis-server on port ${port}: FLUSHALL answered ${String(ok)}`);
  return Number(n);
}

/**
 * For the benchmarks that need one redis-server of their own: the binary (or a clear message and
 * exit 1 when there is none), a temp directory, and the server in it; `done()` stops it and
 * removes the directory.
 */
export async function benchRedis(label: string): Promise<{ server: RedisServer; bin: string; dir: string; done(): Promise<void> }> {
  const bin = findRedisServer();
  if (bin === undefined) {
    console.error(redisMissingMessage());
    process.exit(1);
  }
  const dir = mkdtempSync(join(os.tmpdir(), `sessmap-${label}-`));
  const server = await startRedis(bin, dir);
  return {
    server,
    bin,
    dir,
    async done() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
