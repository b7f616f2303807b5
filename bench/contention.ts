/**
 * `npm run bench:contention`: processes on ONE hot key, the case the session workload spreads
 * out and an HTTP benchmark with one logged-in cookie concentrates. Reports ns per op and the
 * cache's lock waits, for:
 *
 *   touch      2 processes x 300,000 touches of one entry: `expireAt` every time, against a
 *              lock-free look first that skips a move under 600 ms (what touchSession does with
 *              a 60 s idle timeout: min(1 s, 1% of idle))
 *   hot        2 and 4 processes x 200,000 ops on one entry, 90% get / 10% set
 *
 * Not part of `npm run bench` (its figures are not ratios against other stores, and they depend on
 * how many cores the processes share). Writes nothing.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SharedCache } from '../src/index.js';

const MODULE = fileURLToPath(import.meta.url);
const SESSION = { cookie: { originalMaxAge: 86_400_000, expires: '2026-11-26T10:00:00.000Z', httpOnly: true, path: '/' }, user: 'u-1001', views: 1, cart: [{ sku: 'a', qty: 1 }] };
const SLACK = 600;

type Mode = 'touch-always' | 'touch-slack' | 'hot';

/** Child: attach, run `n` ops of `mode` on the hot key, report ns/op. */
function child(path: string, mode: Mode, n: number): void {
  const c = SharedCache.open(path);
  const op = (i: number): void => {
    if (mode === 'hot') {
      if (i % 10 === 0) c.set('s:hot', SESSION);
      else c.get('s:hot');
      return;
    }
    const until = Date.now() + 60_000;
    if (mode === 'touch-slack') {
      const info = c.inspect('s:hot');
      if (info !== undefined && Math.abs(info.expiresAt - until) <= SLACK) return;
    }
    c.expireAt('s:hot', until);
  };
  for (let i = 0; i < 20_000; i++) op(i);
  process.send!({ type: 'ready' });
  process.once('message', () => {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) op(i);
    const ns = ((performance.now() - t0) * 1e6) / n;
    c.close();
    process.send!({ type: 'done', ns }, () => process.exit(0));
  });
}

async function run(dir: string, mode: Mode, procs: number, n: number): Promise<string> {
  const path = join(dir, `${mode}-${procs}.smap`);
  const cache = SharedCache.create(path, { size: '16m', ifExists: 'reinit' });
  cache.set('s:hot', SESSION, { ttl: 60_000 });
  const kids = Array.from({ length: procs }, () => fork(MODULE, ['child', path, mode, String(n)], { execArgv: ['--import', 'tsx'] }));
  const next = (k: (typeof kids)[number], type: string): Promise<{ ns?: number }> =>
    new Promise((resolve) => {
      const on = (m: { type: string; ns?: number }): void => {
        if (m.type !== type) return;
        k.off('message', on);
        resolve(m);
      };
      k.on('message', on);
    });
  await Promise.all(kids.map((k) => next(k, 'ready')));
  const waits0 = cache.stats().lockWaits; // after the warm-ups
  const done = kids.map((k) => next(k, 'done'));
  for (const k of kids) k.send('go');
  const ns = (await Promise.all(done)).map((m) => m.ns!);
  const waits = cache.stats().lockWaits - waits0;
  cache.close();
  return `| ${mode} | ${procs} | ${ns.map((x) => x.toFixed(0)).join(' / ')} | ${waits.toLocaleString('en-US')} of ${(procs * n).toLocaleString('en-US')} |`;
}

if (process.argv[2] === 'child') {
  child(process.argv[3], process.argv[4] as Mode, Number(process.argv[5]));
} else {
  const dir = mkdtempSync(join(process.platform === 'linux' ? '/dev/shm' : tmpdir(), 'sessmap-contention-'));
  try {
    const rows = [
      await run(dir, 'touch-always', 2, 300_000),
      await run(dir, 'touch-slack', 2, 300_000),
      await run(dir, 'hot', 2, 200_000),
      await run(dir, 'hot', 4, 200_000),
    ];
    console.log(['| scenario | processes | ns/op per process | lock waits |', '| --- | ---: | ---: | ---: |', ...rows].join('\n'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
