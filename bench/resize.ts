/**
 * Scenario `resize`: what an online resize costs the processes using the file, and how long it
 * takes. A 64 MiB file of 256 KiB pages, serializer 'structured', loaded with sessions; then two
 * processes at once: a reader-writer doing the session mix (95% get, 5% set of random sessions)
 * for the whole run, timing each op with its start time; and a resizer that, after a lead, grows
 * the file 4x (256 MiB), waits, and shrinks it back. The reader's ops are split by when they
 * started: before the first resize, while pages moved (either resize), and after. Reported: the
 * reader's ops/s, p50, p99 and worst op in each window, and each resize's time, pages and entries
 * moved per second; every session is checked present at the end.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SharedCache as SharedCacheClass } from '../src/index.js';
import { SEED, SET_RATIO, type Row, type RunContext, type Scenario, type ScenarioResult } from './lib/config.js';
import { runGroup, runTask } from './lib/fork.js';
import { fmtOps, fmtRatio, fmtUs, table } from './lib/format.js';
import { percentile } from './lib/measure.js';
import type { TaskContext } from './lib/protocol.js';
import { loadSessmap } from './lib/stores.js';
import { makeWorkload } from './lib/workload.js';

const MODULE = fileURLToPath(import.meta.url);
const MIB = 1024 * 1024;
const PAGE = 256 * 1024;

interface Sizes {
  fileBytes: number;
  sessions: number;
  /** The reader runs this long; the resizer starts after `leadMs` and pauses `gapMs` between its two resizes. */
  runMs: number;
  leadMs: number;
  gapMs: number;
}
const FULL_SIZES: Sizes = { fileBytes: 64 * MIB, sessions: 150_000, runMs: 9_000, leadMs: 2_000, gapMs: 1_500 };
const QUICK_SIZES: Sizes = { fileBytes: 16 * MIB, sessions: 20_000, runMs: 3_000, leadMs: 800, gapMs: 400 };

interface ResizeOut {
  phases: { what: string; startAt: number; movedAt: number; ms: number; pages: number; entries: number }[];
}
interface ReaderOut {
  /** Start time (ms since the epoch) and duration (ns) of each op. */
  at: Float64Array;
  ns: Float64Array;
  missing: number;
}

/** The most ops the reader records (preallocated: no array growth, and its GC, inside the timing). */
const MAX_OPS = 1 << 23;

function pages(size: number): number {
  return Math.floor((size - 20480) / PAGE);
}

/** Creates the file and loads the sessions. */
export async function loadTask(a: { path: string; sizes: Sizes }): Promise<{ entries: number; evicted: number }> {
  const SharedCache = (await loadSessmap()) as unknown as typeof SharedCacheClass;
  const { keys, sessions } = makeWorkload(SEED, { entries: a.sizes.sessions, ops: 0, setRatio: SET_RATIO });
  const c = SharedCache.create<unknown>(a.path, { size: a.sizes.fileBytes, pageSize: PAGE, serializer: 'structured', ifExists: 'reinit' });
  for (let i = 0; i < keys.length; i++) c.set(keys[i], sessions[i]);
  const s = c.stats();
  c.close();
  return { entries: s.entries, evicted: s.removals.evicted };
}

/** The session mix for `runMs`, each op timed. */
export async function readerTask(a: { path: string; sizes: Sizes }, ctx: TaskContext): Promise<ReaderOut> {
  const SharedCache = (await loadSessmap()) as unknown as typeof SharedCacheClass;
  const { keys, altSessions, idx, kind } = makeWorkload(SEED, { entries: a.sizes.sessions, ops: 1 << 20, setRatio: SET_RATIO });
  const c = SharedCache.open<unknown>(a.path);
  for (let i = 0; i < 50_000; i++) c.get(keys[idx[i & 0xfffff]]);
  await ctx.barrier();
  const at = new Float64Array(MAX_OPS);
  const ns = new Float64Array(MAX_OPS);
  let missing = 0;
  const end = Date.now() + a.sizes.runMs;
  let n = 0;
  for (let i = 0; i < MAX_OPS; i++) {
    if ((i & 255) === 0) {
      if (Date.now() >= end) break;
      if ((i & 0xffff) === 0) await new Promise((r) => setImmediate(r));
    }
    const j = i & 0xfffff;
    const t0 = process.hrtime.bigint();
    if (kind[j] === 1) c.set(keys[idx[j]], altSessions[j & 1023]);
    else if (c.get(keys[idx[j]]) === undefined) missing++;
    ns[n] = Number(process.hrtime.bigint() - t0);
    at[n++] = Date.now();
  }
  for (const k of keys) if (!c.has(k)) missing++;
  c.close();
  return { at: at.subarray(0, n), ns: ns.subarray(0, n), missing };
}

/** Grows the file 4x, then shrinks it back. */
export async function resizerTask(a: { path: string; sizes: Sizes }, ctx: TaskContext): Promise<ResizeOut> {
  const SharedCache = (await loadSessmap()) as unknown as typeof SharedCacheClass;
  const c = SharedCache.open<unknown>(a.path);
  await ctx.barrier();
  await new Promise((r) => setTimeout(r, a.sizes.leadMs));
  const phases: ResizeOut['phases'] = [];
  for (const [what, size] of [['grow 4x', a.sizes.fileBytes * 4], ['shrink back', a.sizes.fileBytes]] as const) {
    const startAt = Date.now();
    let movedAt = 0;
    const r = await c.resize({ size, graceMs: 500, onProgress: (p) => {
      if (p.phase === 'moving' && p.done === p.total) movedAt = Date.now();
    } });
    phases.push({ what, startAt, movedAt, ms: movedAt - startAt, pages: r.pagesMoved, entries: r.entriesMoved });
    await new Promise((res) => setTimeout(res, a.sizes.gapMs));
  }
  c.close();
  return { phases };
}

interface Window {
  name: string;
  ops: number;
  opsPerSec: number;
  p50: number;
  p99: number;
  max: number;
}

/** The reader's ops that started in `spans` ([from, to] ms since the epoch). */
function windowOf(name: string, r: ReaderOut, spans: readonly [number, number][]): Window {
  const picked: number[] = [];
  for (let i = 0; i < r.at.length; i++) if (spans.some(([a, b]) => r.at[i] >= a && r.at[i] <= b)) picked.push(r.ns[i]);
  const sorted = Float64Array.from(picked).sort();
  const secs = Math.max(1, spans.reduce((t, [a, b]) => t + (b - a), 0)) / 1000;
  return { name, ops: picked.length, opsPerSec: picked.length / secs, p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), max: sorted[sorted.length - 1] ?? 0 };
}

export const scenario: Scenario = {
  name: 'resize',
  title: 'Online resize: its cost to a process using the file, and its speed',
  async run(ctx: RunContext): Promise<ScenarioResult> {
    const sizes = ctx.quick ? QUICK_SIZES : FULL_SIZES;
    if (!ctx.stores.includes('sessmap')) return { rows: [], markdown: `- skipped: sessmap ${ctx.sessmapMissing ?? 'not selected'}` };
    ctx.log('resize: load');
    const path = join(ctx.dir, 'resize.sessmap');
    const loaded = await runTask<{ entries: number; evicted: number }>({ module: MODULE, task: 'loadTask', args: { path, sizes } }, ctx.taskTimeoutMs);
    ctx.log('resize: reader and resizer');
    const [reader, resizer] = await runGroup<ReaderOut | ResizeOut>([
      { module: MODULE, task: 'readerTask', args: { path, sizes } },
      { module: MODULE, task: 'resizerTask', args: { path, sizes } },
    ], ctx.taskTimeoutMs) as [ReaderOut, ResizeOut];
    // The child's arrays come back over IPC as plain objects of numbers.
    reader.at = Float64Array.from(Object.values(reader.at));
    reader.ns = Float64Array.from(Object.values(reader.ns));
    const first = resizer.phases[0].startAt;
    const last = resizer.phases[resizer.phases.length - 1].movedAt;
    const windows = [
      windowOf('before', reader, [[reader.at[0], first]]),
      windowOf('while pages move', reader, resizer.phases.map((p) => [p.startAt, p.movedAt])),
      windowOf('after', reader, [[last + 600, reader.at[reader.at.length - 1]]]),
    ];
    const base = windows[0];
    const rows: Row[] = windows.map((w) => ({ scenario: 'resize', store: 'sessmap', phase: `mix ${w.name}`, ops: w.ops, opsPerSec: w.opsPerSec, p50Ns: w.p50, p99Ns: w.p99, stolen: 0 }));
    const md = [
      `A ${String(sizes.fileBytes / MIB)} MiB file of ${String(PAGE / 1024)} KiB pages (${fmtOps(pages(sizes.fileBytes))} pages), serializer 'structured', loaded with ${fmtOps(loaded.entries)} sessions (${fmtOps(loaded.evicted)} evicted). One process runs the session mix (95% get, 5% set of random sessions) for ${String(sizes.runMs / 1000)} s; another grows the file 4x after ${String(sizes.leadMs / 1000)} s and shrinks it back ${String(sizes.gapMs / 1000)} s later. Sessions missing at any read or at the end: ${fmtOps(reader.missing)}.`,
      '',
      table(['reader', 'ops', 'ops/s', 'vs before', 'p50 µs', 'p99 µs', 'worst µs'], windows.map((w) => [
        w.name, fmtOps(w.ops), fmtOps(w.opsPerSec), fmtRatio(base.opsPerSec / w.opsPerSec), fmtUs(w.p50), fmtUs(w.p99), fmtUs(w.max),
      ]), 'lrrrrrr'),
      '',
      table(['resize', 'pages moved', 'entries moved', 'ms', 'pages/s', 'entries/s'], resizer.phases.map((p) => [
        p.what, fmtOps(p.pages), fmtOps(p.entries), fmtOps(p.ms), fmtOps((p.pages * 1000) / Math.max(1, p.ms)), fmtOps((p.entries * 1000) / Math.max(1, p.ms)),
      ]), 'lrrrrr'),
    ].join('\n');
    return { rows, markdown: md };
  },
};
