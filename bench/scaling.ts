/**
 * Scenario `scaling`: how the cost of a get and of an update grows with the number of sessions a
 * store holds (10k to 4M, the file sized to hold them all without an eviction) and with the size of
 * a session (about 200 B, 2 KB and 16 KB at one count). sessmap with serializer 'structured' (what
 * session files use) next to lmdb-structs. One child per store and row; each row's files are
 * removed before the next row starts, and a row is skipped when its files would not fit.
 */
import { rmSync, statfsSync, statSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { open as lmdbOpen } from 'lmdb';
import { Packr } from 'msgpackr';
import type { SharedCache as SharedCacheClass } from '../src/index.js';
import { SEED, SET_RATIO, STOLEN_WARN, type Row, type RunContext, type Scenario, type ScenarioResult } from './lib/config.js';
import { runTask } from './lib/fork.js';
import { fmtOps, fmtRatio, fmtStolen, fmtUs, table } from './lib/format.js';
import { collectGarbage, timeOps, timeQuiet, timerFloorNs, warm, type Timing } from './lib/measure.js';
import { mulberry32, randBase64url, randIndices } from './lib/prng.js';
import { loadSessmap, openStore, rowLabel, txnUpdater } from './lib/stores.js';
import { bumpViews, makeWarmKeys, makeWorkload, type Session } from './lib/workload.js';

const MODULE = fileURLToPath(import.meta.url);
const MIB = 1024 * 1024;
/** The default page size of files over 16 MiB, used at every count so the geometry is the same. */
const PAGE_SIZE = 256 * 1024;
/** Pages of a file expected to get more entries than a page holds (keys fall on pages at random): see pagesFor. */
const OVERFILL_ODDS = 0.001;
/** Distinct values of a row, cycled over its keys (the workload's sessions; padded ones for the size axis). */
const POOL = 50_000;
const PADDED_POOL = 1_024;
/** Puts per lmdb write batch of the load. */
const LMDB_CHUNK = 10_000;

type Kind = 'sessmap' | 'lmdb-structs';
const SM_LABEL = rowLabel('sessmap', 'structured');
const label = (k: Kind): string => (k === 'sessmap' ? SM_LABEL : k);

/** The size axis: stored bytes of a value, about. */
const SIZES = [200, 2_048, 16_384] as const;

interface Plan {
  counts: readonly number[];
  gets: number;
  updates: number;
  /** Sessions of each step of the size axis (SIZES): fewer of the largest, so the file stays under ~1 GiB. */
  sizeSessions: readonly number[];
}
const FULL_PLAN: Plan = { counts: [10_000, 100_000, 1_000_000, 4_000_000], gets: 200_000, updates: 40_000, sizeSessions: [50_000, 50_000, 8_000] };
const QUICK_PLAN: Plan = { counts: [10_000, 50_000], gets: 20_000, updates: 5_000, sizeSessions: [5_000, 5_000, 2_000] };

interface TaskArgs {
  kind: Kind;
  path: string;
  sessions: number;
  /** Pad every value to about this many stored bytes; undefined: the workload's sessions as they are. */
  padTo: number | undefined;
  gets: number;
  updates: number;
  warmup: number;
  /** Whether `path` is on tmpfs, where a file takes memory as well as space. */
  tmpfs: boolean;
}

interface PhaseOut {
  op: 'get' | 'update';
  timing: Timing;
}

type TaskOut =
  | { skipped: string }
  | {
      phases: PhaseOut[];
      /** Mean stored bytes of a value (sessmap: inspect().size; lmdb: msgpackr with shared structures). */
      valueBytes: number;
      fileBytes: number;
      loadNs: number;
      /** sessmap: entries evicted by the end of the task (0 when the file was big enough). */
      evicted: number | undefined;
      /** sessmap: updates per page over the task (warm-up and every run of the update phase). */
      updatesPerPage: number | undefined;
      checks: string[];
      timerFloorNs: number;
      how: string;
    };

const fmtCount = (n: number): string => (n >= 1_000_000 ? `${String(n / 1_000_000)}M` : n >= 1_000 ? `${String(n / 1_000)}k` : String(n));
const fmtBytes = (n: number): string => (n >= 1_024 ? `${String(n / 1_024)} KB` : `${String(n)} B`);
const fmtMiB = (n: number): string => (n / MIB).toFixed(0);

// ------------------------------------------------------------------------------------ child

/** The values of a row: the workload's sessions, or a pool of them each padded to about `padTo` stored bytes. */
function valuePool(sessions: number, padTo: number | undefined): Session[] {
  const pool = makeWorkload(SEED, { entries: Math.min(sessions, padTo === undefined ? POOL : PADDED_POOL), ops: 0, setRatio: SET_RATIO }).sessions;
  if (padTo === undefined) return pool;
  // msgpackr with shared structures, as lmdb-structs and sessmap 'structured' store a value; the
  // pad (base64url text from the seeded stream) adds its str header (2 or 3 bytes): within a byte of padTo.
  const packr = new Packr({ structures: [] });
  const rng = mulberry32(SEED ^ padTo);
  return pool.map((s) => {
    const len = Math.max(0, padTo - packr.pack({ ...s, pad: '' }).length - 2);
    return { ...s, pad: randBase64url(rng, Math.ceil((len * 3) / 4)).slice(0, len) };
  });
}

/** Bytes free where `dir` is (and, on tmpfs, memory: its files live in RAM). */
function roomFor(dir: string, tmpfs: boolean): number {
  const fs = statfsSync(dir);
  const space = fs.bavail * fs.bsize;
  return tmpfs ? Math.min(space, os.freemem() - 512 * MIB) : space;
}

function tooBig(dir: string, tmpfs: boolean, need: number, what: string): string | undefined {
  const room = roomFor(dir, tmpfs);
  return need > room ? `${what} needs ~${fmtMiB(need)} MiB, ${fmtMiB(Math.max(0, room))} MiB free in ${dir}${tmpfs ? ' (tmpfs: space and memory)' : ''}` : undefined;
}

/** P(X > k) for X ~ Poisson(lambda <= k): the terms above k, summed directly (no cancellation). */
function poissonAbove(lambda: number, k: number): number {
  let logP = -lambda;
  for (let i = 1; i <= k + 1; i++) logP += Math.log(lambda / i);
  let sum = 0;
  for (let i = k + 1; i < k + 100_000; i++) {
    const p = Math.exp(logP);
    sum += p;
    if (p <= sum * 1e-12) break;
    logP += Math.log(lambda / (i + 1));
  }
  return sum;
}

/**
 * Pages for `n` entries when one page holds `perPage`: keys fall on pages at random, so a page's
 * count is about Poisson(n / pages); enough pages that fewer than OVERFILL_ODDS of them are expected
 * to get more than `perPage`.
 */
function pagesFor(n: number, perPage: number): number {
  let pages = Math.ceil(n / perPage);
  while (pages * poissonAbove(n / pages, perPage) > OVERFILL_ODDS) pages = Math.ceil(pages * 1.01);
  return pages;
}

/**
 * How many of these values one page holds while they are updated: a one-page file filled until
 * its first eviction, then its entries updated, round after round, until a round evicts nothing
 * (an update writes the new value before the old one goes, and a nearly full page evicts rather
 * than compacts).
 */
function entriesPerPage(SharedCache: typeof SharedCacheClass, path: string, keys: readonly string[], pool: readonly Session[]): number {
  const probe = SharedCache.create<Session>(path, { pageSize: PAGE_SIZE, pageCount: 1, serializer: 'structured', ifExists: 'reinit' });
  try {
    let set = 0;
    while (probe.stats().removals.evicted === 0) {
      if (set === keys.length) throw new Error(`no eviction in a one-page file after ${String(set)} sets`);
      probe.set(keys[set], pool[set % pool.length]);
      set++;
    }
    for (let evicted = -1; evicted !== probe.stats().removals.evicted; ) {
      evicted = probe.stats().removals.evicted;
      for (let j = 0; j < set; j++) if (probe.has(keys[j])) probe.update(keys[j], (s) => s && bumpViews(s));
    }
    return probe.stats().entries;
  } finally {
    probe.close();
    rmSync(path, { force: true });
  }
}

/** The keys of `idx`, in that order, as fresh strings (as a request's session id arrives), so reading them is sequential. */
function opKeys(keys: readonly string[], idx: Uint32Array): string[] {
  return Array.from(idx, (i) => Buffer.from(keys[i], 'latin1').toString('latin1'));
}

/** The timed phases of a loaded store: random gets, then read-modify-writes of `views`, each warmed up first. */
function runPhases(a: TaskArgs, keys: readonly string[], get: (k: string) => Session | undefined, update: (k: string, fn: (s: Session) => Session) => void): { phases: PhaseOut[]; checks: string[] } {
  const rng = mulberry32(SEED ^ a.sessions);
  const warmKeys = opKeys(keys, randIndices(rng, a.warmup, a.sessions));
  const getKeys = opKeys(keys, randIndices(rng, a.gets, a.sessions));
  const updKeys = opKeys(keys, randIndices(rng, a.updates, a.sessions));
  const phases: PhaseOut[] = [];
  const checks: string[] = [];

  warm(a.warmup, (i) => get(warmKeys[i]));
  collectGarbage();
  let misses = 0;
  const g = timeQuiet(a.gets, (i) => {
    if (get(getKeys[i]) === undefined) misses++;
  });
  phases.push({ op: 'get', timing: g });
  if (misses) checks.push(`get: ${String(misses)} of ${String(a.gets * g.attempts)} gets missed`);

  warm(a.warmup, (i) => update(warmKeys[i], bumpViews));
  collectGarbage();
  const probe = updKeys[0];
  const expected = updKeys.filter((k) => k === probe).length;
  const before = get(probe)?.views ?? NaN;
  const u = timeQuiet(a.updates, (i) => update(updKeys[i], bumpViews));
  phases.push({ op: 'update', timing: u });
  const after = get(probe)?.views ?? NaN;
  if (after !== before + expected * u.attempts) checks.push(`update: views of a probe key went ${String(before)} -> ${String(after)}, expected +${String(expected * u.attempts)}`);
  return { phases, checks };
}

/** Child task: one store, one row: load `sessions` entries, then the timed gets and updates. */
export async function scalingTask(a: TaskArgs): Promise<TaskOut> {
  const keys = makeWarmKeys(SEED ^ 0x5ca11e, a.sessions);
  const pool = valuePool(a.sessions, a.padTo);
  const dir = join(a.path, '..');
  const floor = timerFloorNs();
  if (a.kind === 'sessmap') {
    const SharedCache = (await loadSessmap()) as unknown as typeof SharedCacheClass;
    const perPage = entriesPerPage(SharedCache, `${a.path}.probe`, keys, pool);
    const pageCount = pagesFor(a.sessions, perPage);
    const skip = tooBig(dir, a.tmpfs, pageCount * PAGE_SIZE, `a file of ${fmtOps(pageCount)} pages`);
    if (skip) return { skipped: skip };
    const cache = SharedCache.create<Session>(a.path, { pageSize: PAGE_SIZE, pageCount, serializer: 'structured', ifExists: 'reinit' });
    const load = timeOps(a.sessions, (i) => cache.set(keys[i], pool[i % pool.length]));
    const checks: string[] = [];
    const loaded = cache.stats();
    if (loaded.removals.evicted > 0) checks.push(`load evicted ${fmtOps(loaded.removals.evicted)} entries: the file is too small`);
    let valueSum = 0;
    for (let i = 0; i < pool.length; i++) valueSum += cache.inspect(keys[i])?.size ?? NaN;
    const run = runPhases(a, keys, (k) => cache.get(k), (k, fn) => cache.update(k, (s) => s && fn(s)));
    const evicted = cache.stats().removals.evicted;
    const fileBytes = cache.geometry.fileSize;
    cache.close();
    return {
      ...run,
      checks: [...checks, ...run.checks],
      valueBytes: valueSum / pool.length,
      fileBytes,
      loadNs: load.totalNs,
      evicted,
      updatesPerPage: (a.warmup + a.updates * run.phases[1].timing.attempts!) / pageCount,
      timerFloorNs: floor,
      how: `${fmtOps(pageCount)} pages of ${String(PAGE_SIZE / 1024)} KiB (a page holds ${String(perPage)} of these values under updates); set`,
    };
  }
  const packr = new Packr({ structures: [] });
  const valueBytes = pool.reduce((s, v) => s + packr.pack(v).length, 0) / pool.length;
  // A guess, on the high side: B-tree pages about a third full after random inserts, large values on overflow pages.
  const skip = tooBig(dir, a.tmpfs, a.sessions * (keys[0].length + valueBytes + 64) * (valueBytes > 2_048 ? 1.5 : 3), 'an lmdb environment');
  if (skip) return { skipped: skip };
  // Load with lmdb's own batched async puts (a putSync each would take minutes at 4M); then the
  // store as bench/lib/stores.ts opens it for the timed phases.
  const t0 = process.hrtime.bigint();
  const db = lmdbOpen({ path: a.path, sharedStructuresKey: Symbol.for('structures') });
  for (let j = 0; j < a.sessions; j += LMDB_CHUNK) {
    let last: Promise<boolean> | undefined;
    for (let i = j; i < Math.min(a.sessions, j + LMDB_CHUNK); i++) last = db.put(keys[i], pool[i % pool.length]);
    await last;
  }
  await db.close();
  const loadNs = Number(process.hrtime.bigint() - t0);
  const store = await openStore<Session>({ kind: 'lmdb-structs', mode: 'json', path: a.path, how: 'attach' });
  const run = runPhases(a, keys, (k) => store.get(k), txnUpdater(store)!);
  store.close();
  return { ...run, valueBytes, fileBytes: statSync(join(a.path, 'data.mdb')).size, loadNs, evicted: undefined, updatesPerPage: undefined, timerFloorNs: floor, how: `async put in write batches of ${fmtOps(LMDB_CHUNK)}` };
}

// ----------------------------------------------------------------------------------- parent

interface RowOut {
  kind: Kind;
  sessions: number;
  padTo: number | undefined;
  out: TaskOut;
}

async function runRow(ctx: RunContext, plan: Plan, kind: Kind, sessions: number, padTo: number | undefined): Promise<RowOut> {
  const name = `scaling-${String(sessions)}-${padTo === undefined ? 'sessions' : String(padTo)}`;
  const path = join(ctx.dir, kind === 'sessmap' ? `${name}.sessmap` : `${name}-lmdb`);
  ctx.log(`scaling: ${label(kind)}, ${fmtOps(sessions)} ${padTo === undefined ? 'sessions' : `values of ~${fmtBytes(padTo)}`}`);
  const args: TaskArgs = { kind, path, sessions, padTo, gets: plan.gets, updates: plan.updates, warmup: Math.min(ctx.counts.warmup, plan.gets), tmpfs: ctx.dir.startsWith('/dev/shm') };
  try {
    return { kind, sessions, padTo, out: await runTask<TaskOut>({ module: MODULE, task: 'scalingTask', args }, ctx.taskTimeoutMs) };
  } catch (err) {
    ctx.log(`scaling: ${label(kind)} ${fmtOps(sessions)} failed: ${(err as Error).message}`);
    return { kind, sessions, padTo, out: { skipped: `failed: ${(err as Error).message}` } };
  } finally {
    rmSync(path, { recursive: true, force: true });
    rmSync(`${path}-lock`, { force: true });
  }
}

/** The phase name of a row (bench/lib/targets.ts reads 'get, 1M sessions' and 'get, 10k sessions'). */
function phaseName(r: RowOut, op: string): string {
  return r.padTo === undefined ? `${op}, ${fmtCount(r.sessions)} sessions` : `${op}, ${fmtBytes(r.padTo)} values`;
}

/** The table of one axis: a row per op, store and step, each with its cost against the axis's first step. */
function axisTable(results: readonly RowOut[], rows: Row[], notes: string[], step: (r: RowOut) => string, stepHeader: string, vsHeader: string): string {
  const lines: string[][] = [];
  for (const op of ['get', 'update'] as const) {
    for (const kind of ['sessmap', 'lmdb-structs'] as const) {
      let base: number | undefined;
      for (const r of results.filter((x) => x.kind === kind)) {
        if ('skipped' in r.out) {
          if (op === 'get') notes.push(`- ${label(kind)}, ${step(r)}: **skipped**: ${r.out.skipped}`);
          continue;
        }
        const t = r.out.phases.find((p) => p.op === op)!.timing;
        const row: Row = { scenario: 'scaling', store: label(kind), phase: phaseName(r, op), ops: t.n, opsPerSec: t.opsPerSec, p50Ns: t.p50Ns, p99Ns: t.p99Ns, stolen: t.stolen };
        rows.push(row);
        const us = 1e6 / t.opsPerSec;
        base ??= us;
        const perPage = op === 'update' && r.out.updatesPerPage !== undefined ? `${fmtOps(r.out.updatesPerPage)} updates a page` : '';
        const runs = (t.attempts ?? 1) > 1 ? `best of ${String(t.attempts)} runs` : '';
        lines.push([op, step(r), label(kind), fmtOps(t.n), fmtOps(t.opsPerSec), us.toFixed(2), fmtRatio(us / base), fmtUs(t.p50Ns), fmtUs(t.p99Ns), fmtStolen(t.stolen, STOLEN_WARN), [perPage, runs].filter(Boolean).join('; ')]);
      }
    }
  }
  return table(['op', stepHeader, 'store', 'ops', 'ops/s', 'µs / op', vsHeader, 'p50 µs', 'p99 µs', 'stolen', 'notes'], lines, 'lrlrrrrrrrl');
}

const countStep = (r: RowOut): string => fmtOps(r.sessions);
const sizeStep = (r: RowOut): string => `~${fmtBytes(r.padTo!)}`;

/** Files and loads of every row that ran. */
function loadTable(results: readonly RowOut[]): string {
  const lines: string[][] = [];
  for (const r of results) {
    if ('skipped' in r.out) continue;
    const o = r.out;
    lines.push([
      r.padTo === undefined ? 'sessions' : `~${fmtBytes(r.padTo)}`, label(r.kind), fmtOps(r.sessions), o.valueBytes.toFixed(0), fmtMiB(o.fileBytes), fmtOps(o.fileBytes / r.sessions),
      (o.loadNs / 1e9).toFixed(1), fmtUs(o.loadNs / r.sessions), o.evicted === undefined ? '-' : fmtOps(o.evicted), o.how,
    ]);
  }
  return table(['values', 'store', 'sessions', 'value bytes', 'file MiB', 'file bytes / session', 'load s', 'load µs / set', 'evicted', 'how loaded'], lines, 'llrrrrrrrl');
}

export const scenario: Scenario = {
  name: 'scaling',
  title: 'Scaling: the cost of a get and an update from 10k to 4M sessions, and with 200 B to 16 KB sessions',
  async run(ctx: RunContext): Promise<ScenarioResult> {
    const plan = ctx.quick ? QUICK_PLAN : FULL_PLAN;
    const kinds = (['sessmap', 'lmdb-structs'] as const).filter((k) => ctx.stores.includes(k));
    if (kinds.length === 0) return { rows: [], markdown: '- skipped: neither sessmap nor lmdb-structs selected' };
    const byCount: RowOut[] = [];
    const bySize: RowOut[] = [];
    for (const n of plan.counts) for (const k of kinds) byCount.push(await runRow(ctx, plan, k, n, undefined));
    for (const [i, bytes] of SIZES.entries()) for (const k of kinds) bySize.push(await runRow(ctx, plan, k, plan.sizeSessions[i], bytes));

    const rows: Row[] = [];
    const notes: string[] = [];
    const countTable = axisTable(byCount, rows, notes, countStep, 'sessions', `vs ${fmtCount(plan.counts[0])}`);
    const sizeTable = axisTable(bySize, rows, notes, sizeStep, 'value', `vs ~${fmtBytes(SIZES[0])}`);
    const all = [...byCount, ...bySize];
    let floor = NaN;
    const evicted: string[] = [];
    for (const r of all) {
      if ('skipped' in r.out) continue;
      floor = r.out.timerFloorNs;
      for (const c of r.out.checks) notes.push(`- **check failed** (${label(r.kind)}, ${fmtOps(r.sessions)}${r.padTo === undefined ? '' : `, ~${fmtBytes(r.padTo)}`}) ${c}`);
      if (r.out.evicted) evicted.push(`${fmtOps(r.sessions)}${r.padTo === undefined ? '' : ` of ~${fmtBytes(r.padTo)}`}: ${fmtOps(r.out.evicted)}`);
    }
    const smRan = all.some((r) => r.kind === 'sessmap' && !('skipped' in r.out));
    if (smRan) notes.push(evicted.length ? `- **sessmap evicted entries** (the file was too small): ${evicted.join('; ')}` : "- sessmap evicted nothing in any row (stats().removals.evicted 0 after the load and after the phases): every session stayed in the file.");
    const sizeCounts = SIZES.map((b, i) => `${fmtOps(plan.sizeSessions[i])} of ~${fmtBytes(b)}`).join(', ');
    const md = [
      `Per row, a fresh store in its own child: load the sessions (distinct keys; values cycled from ${fmtOps(POOL)} of the workload's sessions, or from ${fmtOps(PADDED_POOL)} of them padded with a \`pad\` string to a stored size), then ${fmtOps(plan.gets)} gets, uniform over the keys (seeded), and ${fmtOps(plan.updates)} read-modify-writes that increment \`views\` (sessmap \`update\`, under its page lock; lmdb-structs \`get\` + \`putSync\` in one \`transactionSync\`, the atomic variant). The keys of a phase are fresh strings in op order (as a request's session id is), so the harness's own memory traffic does not grow with the count. sessmap: serializer 'structured', ${String(PAGE_SIZE / 1024)} KiB pages, enough pages that fewer than ${String(OVERFILL_ODDS)} of them are expected to get more entries than a page holds (a page's count is Poisson; what a page holds, found by filling a one-page file and updating its entries until none is evicted). lmdb-structs: \`sharedStructuresKey\`, as in the session scenario. Each row's files are removed before the next starts.`,
      '',
      `By the number of sessions (the workload's, ${plan.counts.map(fmtCount).join(', ')}); "${`vs ${fmtCount(plan.counts[0])}`}" is the cost of an op (µs) over that at ${fmtCount(plan.counts[0])} for the same store and op:`,
      '',
      countTable,
      '',
      `By the size of a session (${sizeCounts}; fewer of the largest so the file stays under ~1 GiB); "vs ~${fmtBytes(SIZES[0])}" as above:`,
      '',
      sizeTable,
      '',
      'Files and loads (sessmap: its file; lmdb: data.mdb after the load). A load is not warmed up (the JIT\'s warm-up is in it, so the smallest rows read high) and is not comparable between the stores: one set at a time for sessmap, batched async puts for lmdb:',
      '',
      loadTable(all),
      '',
      "- sessmap's update rows say how many updates each page took in all (warm-up and runs): an update writes the new value at the page's free tail while there is one; once a page's tail is used up (a few hundred of the workload's sessions), writes go into holes left by old values and the page compacts. Where a page takes hundreds of updates or more (few pages: the smallest counts) the phase runs in that steady state; where it takes tens (the 1M and 4M rows of a full run) it stays in the free tails, so those rows measure a file still fresh from its load.",
      ...(Number.isFinite(floor) ? [`- timer floor (an empty hrtime.bigint() pair, included in every latency): ${floor.toFixed(0)} ns`] : []),
      ...notes,
    ].join('\n');
    return { rows, markdown: md };
  },
};
