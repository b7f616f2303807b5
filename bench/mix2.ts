/**
 * Scenario `mix2`: the 95/5 get/set mix from two processes at once, against one shared store
 * (lru-cache: one unshared cache per process). Compared with the same child code run alone, so the
 * ratio isolates what a second process adds (or costs: lock contention, cache-line sharing).
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SEED, SET_RATIO, STOLEN_WARN, type Counts, type Row, type RunContext, type Scenario, type ScenarioResult } from './lib/config.js';
import { runGroup, runTask, type TaskSpec } from './lib/fork.js';
import { fmtOps, fmtRatio, fmtStolen, fmtUs, table } from './lib/format.js';
import { collectGarbage, RETRY_STOLEN, retryUntil, timeOps, warm, type Timing } from './lib/measure.js';
import type { TaskContext } from './lib/protocol.js';
import { isShared, openStore, type StoreKind } from './lib/stores.js';
import { makeWorkload, type Session } from './lib/workload.js';

const MODULE = fileURLToPath(import.meta.url);

interface Mix2Args {
  store: StoreKind;
  path: string;
  counts: Counts;
  /** Which op stream this process uses (0, 1): different keys in a different order per process. */
  stream: number;
}

/** Child task: create the shared store and load every entry (untimed). */
export async function prepareTask(args: Mix2Args): Promise<null> {
  const w = makeWorkload(SEED, { entries: args.counts.entries, ops: 0, setRatio: SET_RATIO });
  const store = await openStore<Session>({ kind: args.store, mode: 'json', path: args.path, how: 'create' });
  for (let i = 0; i < w.keys.length; i++) store.set(w.keys[i], w.sessions[i]);
  store.close();
  return null;
}

/** Child task: attach (or, for lru-cache, build and load a private cache), warm up, wait for go, run the mix. */
export async function mixTask(args: Mix2Args, ctx: TaskContext): Promise<Timing> {
  const { counts } = args;
  const w = makeWorkload(SEED, { entries: counts.entries, ops: counts.mix2, setRatio: SET_RATIO }, args.stream + 1);
  const { keys, altSessions, idx, kind } = w;
  const shared = isShared(args.store);
  const store = await openStore<Session>({
    kind: args.store,
    mode: 'json',
    path: args.path,
    how: shared ? 'attach' : 'create',
  });
  if (!shared) for (let i = 0; i < keys.length; i++) store.set(keys[i], w.sessions[i]);
  const op = (i: number): void => {
    const k = keys[idx[i]];
    if (kind[i] === 1) store.set(k, altSessions[i & 1023]);
    else store.get(k);
  };
  warm(Math.min(counts.warmup, counts.mix2), op);
  collectGarbage();
  await ctx.barrier();
  const t = timeOps(counts.mix2, op);
  store.close();
  return t;
}

interface Mix2Result {
  single: Timing;
  pair: Timing[];
  sum: number;
  wall: number;
  overlap: number;
}

async function measure(ctx: RunContext, kind: StoreKind): Promise<Mix2Result> {
  const path = join(ctx.dir, kind === 'sessmap' ? 'mix2.sessmap' : `mix2-${kind}`);
  const spec = (stream: number): TaskSpec => ({
    module: MODULE,
    task: 'mixTask',
    args: { store: kind, path, counts: ctx.counts, stream } satisfies Mix2Args,
  });
  if (isShared(kind)) {
    await runTask({ module: MODULE, task: 'prepareTask', args: { store: kind, path, counts: ctx.counts, stream: 0 } }, ctx.taskTimeoutMs);
  }
  // Each run is repeated (three runs at most) while other processes took more than RETRY_STOLEN of
  // a child's time; the least disturbed run is kept.
  let single = (await runGroup<Timing>([spec(0)], ctx.taskTimeoutMs))[0];
  for (let n = 1; n < 3 && single.stolen > RETRY_STOLEN && Date.now() < retryUntil(); n++) {
    const again = (await runGroup<Timing>([spec(0)], ctx.taskTimeoutMs))[0];
    if (again.stolen < single.stolen) single = again;
  }
  const worst = (ts: Timing[]): number => Math.max(...ts.map((t) => (Number.isFinite(t.stolen) ? t.stolen : 0)));
  let pair = await runGroup<Timing>([spec(0), spec(1)], ctx.taskTimeoutMs);
  for (let n = 1; n < 3 && worst(pair) > RETRY_STOLEN && Date.now() < retryUntil(); n++) {
    const again = await runGroup<Timing>([spec(0), spec(1)], ctx.taskTimeoutMs);
    if (worst(again) < worst(pair)) pair = again;
  }
  const starts = pair.map((t) => BigInt(t.startNs));
  const ends = pair.map((t) => BigInt(t.endNs));
  const minStart = starts[0] < starts[1] ? starts[0] : starts[1];
  const maxStart = starts[0] < starts[1] ? starts[1] : starts[0];
  const minEnd = ends[0] < ends[1] ? ends[0] : ends[1];
  const maxEnd = ends[0] < ends[1] ? ends[1] : ends[0];
  const span = Number(maxEnd - minStart);
  return {
    single,
    pair,
    sum: pair[0].opsPerSec + pair[1].opsPerSec,
    wall: ((pair[0].n + pair[1].n) * 1e9) / span,
    overlap: Math.max(0, Number(minEnd - maxStart)) / span,
  };
}

export const scenario: Scenario = {
  name: 'mix2',
  title: 'Mix from two processes at once',
  async run(ctx: RunContext): Promise<ScenarioResult> {
    const rows: Row[] = [];
    const lines: string[][] = [];
    const notes: string[] = [];
    for (const kind of ctx.stores) {
      ctx.log(`mix2: ${kind}`);
      try {
        const r = await measure(ctx, kind);
        const label = isShared(kind) ? kind : `${kind} (one unshared cache per process)`;
        rows.push(
          { scenario: 'mix2', store: kind, phase: 'mix (1 proc)', ops: r.single.n, opsPerSec: r.single.opsPerSec, p50Ns: r.single.p50Ns, p99Ns: r.single.p99Ns, stolen: r.single.stolen },
          {
            scenario: 'mix2',
            store: kind,
            phase: 'mix2 (2 procs)',
            ops: r.pair[0].n + r.pair[1].n,
            opsPerSec: r.sum,
            p50Ns: Math.max(r.pair[0].p50Ns, r.pair[1].p50Ns),
            p99Ns: Math.max(r.pair[0].p99Ns, r.pair[1].p99Ns),
            stolen: Math.max(r.pair[0].stolen, r.pair[1].stolen),
            note: `wall ${fmtOps(r.wall)}`,
          },
        );
        lines.push([
          label,
          fmtOps(r.single.opsPerSec),
          `${fmtOps(r.pair[0].opsPerSec)} + ${fmtOps(r.pair[1].opsPerSec)}`,
          fmtOps(r.sum),
          fmtOps(r.wall),
          `${(r.overlap * 100).toFixed(0)}%`,
          fmtRatio(r.sum / r.single.opsPerSec),
          `${fmtUs(r.pair[0].p50Ns)} / ${fmtUs(r.pair[1].p50Ns)}`,
          `${fmtUs(r.pair[0].p99Ns)} / ${fmtUs(r.pair[1].p99Ns)}`,
          `${fmtStolen(r.single.stolen, STOLEN_WARN)}; ${fmtStolen(r.pair[0].stolen, STOLEN_WARN)} / ${fmtStolen(r.pair[1].stolen, STOLEN_WARN)}`,
        ]);
      } catch (err) {
        ctx.log(`mix2: ${kind} failed: ${(err as Error).message}`);
        notes.push(`- **${kind} failed**: ${(err as Error).message}`);
      }
    }
    const md = [
      `Each process runs ${fmtOps(ctx.counts.mix2)} ops (95% get / 5% set) on its own random key stream; both are released by one barrier message. "1 proc" is the same child code run alone.`,
      '',
      table(
        ['store', '1 proc ops/s', 'per process ops/s', 'sum ops/s', 'wall-clock ops/s', 'overlap', 'sum / 1 proc', 'p50 µs (a / b)', 'p99 µs (a / b)', 'stolen (1 proc; a / b)'],
        lines,
      ),
      '',
      '- sum = the two processes\' own ops/s added; wall-clock = all ops / (last end - first start); overlap = share of that span both were running.',
      '- This machine has ' + String(ctx.cpuCount) + ' cores: two busy processes use all of them, so the ideal ratio is 2x minus whatever the OS takes.',
      ...notes,
    ].join('\n');
    return { rows, markdown: md };
  },
};
