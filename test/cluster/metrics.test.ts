/**
 * `setupPrimary({ metrics: { port } })`: the primary of a real cluster (two workers) serves
 * `/metrics` on loopback, and after a known workload run in the workers, every figure of the
 * file it reports is what the primary's stats() says and what the workload did: the workers'
 * counts reach the file itself (the primary asks no worker for anything). Writes and deletes count
 * in the file at once; lock-free reads count in each worker's handle and reach the file in
 * batches (at the latest when the worker closes its store), so reads are checked once the workers
 * have closed theirs. And examples/metrics.ts runs to its end, printing what its workload did.
 */
import { describe, expect, it } from 'vitest';
import { fork } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/paths.js';
import { freePort } from '../support/redis.js';
import { expectScrapeMatchesStats, parsePromText, type PromText } from '../support/scrape.js';
import { sessionId, useClusterSuite, type ClusterPrimary } from './harness.js';

/** One scrape of the primary's endpoint: the parsed text, and the primary's stats() read right after it. */
async function scrape(c: ClusterPrimary, url: string): Promise<{ text: PromText; stats: any; contentType: string | null }> {
  const res = await fetch(url);
  expect(res.status, `GET ${url}`).toBe(200);
  const body = await res.text();
  const stats = await c.ok({ cmd: 'stats' });
  return { text: parsePromText(body), stats, contentType: res.headers.get('content-type') };
}

describe('the primary serves /metrics for the whole cluster', () => {
  const suite = useClusterSuite();

  it('reports what the workers did, as stats() does, with no IPC to the workers', async () => {
    const c = await suite.start({ metrics: { port: 0 } });
    const at = await c.metricsEndpoint();
    expect(at.host, 'loopback unless told otherwise').toBe('127.0.0.1');
    expect(at.url).toBe(`http://127.0.0.1:${at.port}/metrics`);
    const before = await scrape(c, at.url);
    expect(before.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expectScrapeMatchesStats(before.text, before.stats);
    expect(before.text.value('sessmap_sessions')).toBe(0);
    expect(before.text.value('sessmap_capacity_bytes')).toBeGreaterThan(0);

    await c.fork(2);
    const N = 40;
    const D = 10;
    const ids = Array.from({ length: N }, (_, i) => sessionId(`m${i}`));
    const missing = Array.from({ length: 7 }, (_, i) => sessionId(`gone${i}`));
    // N sets, half in each worker; D deletes; reads: every id once in each worker, the missing ones in worker 1.
    await Promise.all(ids.map((id, i) => c.callOk(i % 2, 'setSession', id, { n: i, pad: 'x'.repeat(100) })));
    await Promise.all(ids.slice(0, D).map((id, i) => c.callOk(i % 2, 'destroySession', id)));
    const live = ids.slice(D);
    for (const target of [0, 1]) expect(await c.whichExist(target, live), `worker ${target} reads every live session`).toEqual(live);
    for (const id of missing) expect(await c.callOk(1, 'getSession', id)).toBeUndefined();

    // While the workers run: writes and deletes are in the file already.
    const running = await scrape(c, at.url);
    expectScrapeMatchesStats(running.text, running.stats);
    expect(running.text.value('sessmap_sessions')).toBe(N - D);
    expect(running.text.value('sessmap_sets_total')).toBe(N);
    expect(running.text.value('sessmap_removals_total', { reason: 'deleted' })).toBe(D);
    expect(running.text.value('sessmap_bytes', { state: 'used' })).toBeGreaterThan(before.text.value('sessmap_bytes', { state: 'used' })!);

    // Once the workers have closed their stores, their reads are in the file too.
    for (const target of [0, 1]) await c.ok({ cmd: 'closeWorker', target });
    const after = await scrape(c, at.url);
    expectScrapeMatchesStats(after.text, after.stats);
    expect(after.text.value('sessmap_hits_total'), 'every live session read once in each worker').toBe(2 * live.length);
    expect(after.text.value('sessmap_misses_total'), 'the missing ids read in worker 1').toBe(missing.length);
    expect(after.text.value('sessmap_sets_total')).toBe(N);
    expect(after.text.value('sessmap_sessions')).toBe(N - D);
    for (const reason of ['expired', 'evicted', 'cleared', 'repaired']) expect(after.text.value('sessmap_removals_total', { reason }), reason).toBe(0);
    expect(after.text.value('sessmap_evictions_live_total')).toBe(0);
    expect(after.text.value('sessmap_lock_recoveries_total')).toBe(0);
    expect(after.text.value('sessmap_repairs_total')).toBe(0);
    // On the file, the Redis metrics are not there at all.
    expect(after.text.types.has('sessmap_redis_command_duration_seconds')).toBe(false);
  });

  it('answers /metrics only, for GET and HEAD, and stops listening when the handle closes', async () => {
    const c = await suite.start({ metrics: { port: 0 } });
    const { url, port } = await c.metricsEndpoint();
    const base = `http://127.0.0.1:${port}`;
    expect((await fetch(`${base}/`)).status).toBe(404);
    expect((await fetch(`${base}/metrics/x`)).status).toBe(404);
    expect((await fetch(`${base}/other?metrics`)).status).toBe(404);
    const post = await fetch(url, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    const head = await fetch(url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    expect((await fetch(`${url}?name=x`)).status, 'a query string is still /metrics').toBe(200);

    await c.ok({ cmd: 'close' });
    await expect(fetch(url), 'the port after handle.close()').rejects.toThrow();
  });

  it('reports a port it cannot listen on as SESSMAP_ERR_METRICS_LISTEN on handle.metrics and the error event', async () => {
    const first = await suite.start({ metrics: { port: 0 } });
    const { port } = await first.metricsEndpoint();
    const c = await suite.start({ path: suite.tmp.path('second.smap'), metrics: { port } });
    const r = await c.cmd({ cmd: 'metrics' });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error.code).toBe('SESSMAP_ERR_METRICS_LISTEN');
    const errors = (await c.waitForEvents('the error event', (es) => es.some((e) => e.name === 'error'))).filter((e) => e.name === 'error');
    expect(errors.map((e) => e.payload.error.code)).toEqual(['SESSMAP_ERR_METRICS_LISTEN']);
    // The sessions are served all the same.
    await c.fork(1);
    const id = sessionId('still');
    await c.callOk(0, 'setSession', id, { ok: true });
    expect((await c.callOk('primary', 'getSession', id)).data).toEqual({ ok: true });
  });

  it('runs examples/metrics.ts: its primary prints its own /metrics after the demo requests', async () => {
    const child = fork(join(REPO_ROOT, 'examples', 'metrics.ts'), ['--demo-only'], {
      execArgv: ['--import', 'tsx'],
      cwd: REPO_ROOT,
      env: { ...process.env, NODE_OPTIONS: '', XDG_RUNTIME_DIR: suite.tmp.dir, PORT: String(await freePort()), METRICS_PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    let output = '';
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    const [code] = await new Promise<[number | null, string | null]>((r) => child.on('exit', (c, sig) => r([c, sig])));
    clearTimeout(timer);
    expect(code, output).toBe(0);
    const lines = output.split('\n').map((l) => l.trim());
    // Three visitors of two visits each (3 sessions created, 6 updates), one logged out.
    expect(lines, output).toEqual(expect.arrayContaining(['sessmap_sessions 2', 'sessmap_sets_total 9', 'sessmap_removals_total{reason="deleted"} 1']));
  });
});
