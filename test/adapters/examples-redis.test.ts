/**
 * The example apps (examples/express.ts, fastify.ts, koa.ts) on Redis, as their doc comments run
 * them: REDIS_URL set, a two-worker cluster. Sessions work across the workers; with redis-server
 * killed or stopped the apps answer 503 (never hang, never 500), and once it is back they serve
 * sessions again, without a restart. How fast they answer is bench:redis-outage's to measure.
 */
import { fork, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/paths.js';
import { eventually } from '../support/wait.js';
import { freePort } from '../support/redis.js';
import { useRedis } from '../support/redis-suite.js';
import { CookieJar } from './http.js';

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

/** A GET on a connection of its own (so that the cluster's workers take turns). */
async function get(port: number, jar: CookieJar, path: string): Promise<Answer> {
  const cookie = jar.header();
  const { status, text, cookies } = await new Promise<{ status: number; text: string; cookies: string[] }>((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, headers: cookie === '' ? {} : { cookie }, timeout: 10_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text, cookies: res.headers['set-cookie'] ?? [] }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} got no answer in 10 s`)));
    req.on('error', reject);
  });
  jar.absorb(cookies);
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { text };
  }
  return { status, body };
}

const APPS = ['express', 'fastify', 'koa'] as const;

describe.each(APPS)('examples/%s.ts on Redis', (name) => {
  const redis = useRedis([], { each: true });
  let app: ChildProcess | undefined;
  let output = '';
  afterEach(() => {
    app?.kill('SIGKILL');
  });

  it('shares sessions across its workers, answers 503 while Redis is down, and serves sessions again once it is back', async () => {
    const port = await freePort();
    app = fork(join(REPO_ROOT, 'examples', `${name}.ts`), [], {
      execArgv: ['--import', 'tsx'],
      cwd: REPO_ROOT,
      env: { ...process.env, NODE_OPTIONS: '', REDIS_URL: redis.server.url, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    app.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    app.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const jar = new CookieJar();
    let views = 0;
    /** Until each worker has served the session again: 503 meanwhile, and each 200 one view more. */
    const bothServeAgain = async (what: string): Promise<void> => {
      const served = new Set<unknown>();
      await eventually(what, async () => {
        const r = await get(port, jar, '/');
        if (r.status === 503) return false;
        expect(r.status, JSON.stringify(r.body)).toBe(200);
        expect(r.body.views, JSON.stringify(r.body)).toBe(++views);
        served.add(r.body.worker);
        return served.size === 2;
      }, { timeoutMs: 15_000, intervalMs: 50 });
    };
    const first = await eventually('the app to answer', () => get(port, jar, '/').catch(() => undefined), { timeoutMs: 60_000, intervalMs: 200, report: () => output });
    expect(first.status, output).toBe(200);
    const workers = new Set<unknown>([first.body.worker]);
    views = first.body.views as number;
    // Until both workers have served it (the second may still be starting): each read the last write.
    await eventually('both workers to serve the session', async () => {
      const r = await get(port, jar, '/');
      expect(r.status).toBe(200);
      expect(r.body.views).toBe(++views);
      workers.add(r.body.worker);
      return workers.size === 2;
    }, { timeoutMs: 30_000, intervalMs: 20 });
    expect(redis.server.cli('--scan', '--pattern', `example-${name}:*`).split('\n').filter(Boolean).length).toBeGreaterThan(0);

    await redis.server.kill();
    const down: Answer[] = [];
    for (let i = 0; i < 6; i++) down.push(await get(port, jar, '/'));
    // Each answered (none hangs: a request without an answer fails the test by its timeout), with 503.
    for (const r of down) expect(r.status, JSON.stringify(r.body)).toBe(503);

    await redis.server.restart();
    // The restarted server has no data: the session starts again at 1. Each worker's connection
    // comes back on its own backoff (50 ms doubling, up to 1 s; docs/redis.md), so until both are
    // back one may still answer 503; every 200 must carry the next count (no update lost).
    views = 0;
    await bothServeAgain('both workers to serve sessions again');

    // Hung rather than gone (SIGSTOP): 503 within the bound, then the same session once it runs again.
    redis.server.signal('SIGSTOP');
    const hung: Answer[] = [];
    for (let i = 0; i < 4; i++) hung.push(await get(port, jar, '/'));
    redis.server.signal('SIGCONT');
    for (const r of hung) expect(r.status, JSON.stringify(r.body)).toBe(503);
    // The session was kept (SIGSTOP loses nothing): it goes on counting from where it was.
    await bothServeAgain('both workers to serve the session again after SIGCONT');
  });
});
