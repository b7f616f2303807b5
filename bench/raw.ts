/**
 * Scenario `raw`: gets of 400-byte Buffer values, no serializer: the cost of the cache itself
 * (hash, lock, key compare, recency write, copy out). sessmap with serializer 'raw', with get and
 * with getInto (into one reused buffer); for reference lru-cache holding the Buffers (returns the
 * stored Buffer, no copy; and a private copy of it) and lmdb with encoding 'binary'.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SEED, SET_RATIO, STOLEN_WARN, type Counts, type Row, type RunContext, type Scenario, type ScenarioResult } from './lib/config.js';
import { runTask } from './lib/fork.js';
import { fmtOps, fmtStolen, fmtUs, table } from './lib/format.js';
import { collectGarbage, timeQuiet, warm, type Timing } from './lib/measure.js';
import { mulberry32, randBytes } from './lib/prng.js';
import { openStore, type StoreKind } from './lib/stores.js';
import { makeWorkload } from './lib/workload.js';

const MODULE = fileURLToPath(import.meta.url);
const VALUE_BYTES = 400;
const RAW_STORES: readonly StoreKind[] = ['sessmap', 'lru-cache', 'lmdb'];

interface RawOut {
  get: Timing & { attempts: number };
  /** lru-cache only: the same gets, each returning a private copy (what sessmap must return). */
  getCopy?: Timing & { attempts: number };
  /** sessmap only: the same reads with getInto, into one buffer reused by every read. */
  getInto?: Timing & { attempts: number };
  check: string | undefined;
}

/** Child task: load 400-byte Buffers (`entries` of them, default the workload's), then time random gets. */
export async function rawTask(args: { store: StoreKind; path: string; counts: Counts; entries?: number }): Promise<RawOut> {
  const { counts } = args;
  const { keys, idx } = makeWorkload(SEED, { entries: args.entries ?? counts.entries, ops: counts.rawGets, setRatio: SET_RATIO });
  const rng = mulberry32(SEED + 1);
  const values = keys.map(() => randBytes(rng, VALUE_BYTES));
  const store = await openStore<Buffer>({ kind: args.store, mode: 'raw', path: args.path, how: 'create' });
  for (let i = 0; i < keys.length; i++) store.set(keys[i], values[i]);
  const got = store.get(keys[0]);
  const check = got && Buffer.compare(got, values[0]) === 0 ? undefined : 'get(keys[0]) differs from what was set';
  warm(Math.min(counts.warmup * 5, counts.rawGets), (i) => store.get(keys[idx[i]]));
  collectGarbage();
  const get = timeQuiet(counts.rawGets, (i) => store.get(keys[idx[i]]), 4);
  let getCopy: RawOut['getCopy'];
  let getInto: RawOut['getInto'];
  const into = (store as { getInto?: (key: string, target: Uint8Array) => number }).getInto?.bind(store);
  if (into && args.entries === undefined) {
    const target = Buffer.allocUnsafe(VALUE_BYTES);
    const read = (i: number): number => into(keys[idx[i]], target);
    if (read(0) !== VALUE_BYTES || Buffer.compare(target, values[idx[0]]) !== 0) throw new Error('getInto(keys[idx[0]]) differs from what was set');
    warm(Math.min(counts.warmup * 5, counts.rawGets), read);
    collectGarbage();
    getInto = timeQuiet(counts.rawGets, read, 4);
  }
  if (args.store === 'lru-cache') {
    const copy = (i: number): Buffer => {
      const v = store.get(keys[idx[i]])!;
      const c = Buffer.allocUnsafe(v.length);
      c.set(v);
      return c;
    };
    warm(Math.min(counts.warmup * 5, counts.rawGets), copy);
    collectGarbage();
    getCopy = timeQuiet(counts.rawGets, copy, 4);
  }
  store.close();
  return { get, getCopy, getInto, check };
}

export const scenario: Scenario = {
  name: 'raw',
  title: 'Raw 400-byte Buffer values',
  async run(ctx: RunContext): Promise<ScenarioResult> {
    const rows: Row[] = [];
    const notes = new Set<string>();
    // sessmap also with a tenth of the entries: the same gets over a working set that fits in the
    // CPU caches, which shows how much of a get is memory traffic.
    const small = Math.round(ctx.counts.entries / 10);
    const runs: { kind: StoreKind; entries: number | undefined; phase: string }[] = [
      ...RAW_STORES.map((kind) => ({ kind, entries: undefined, phase: 'get' })),
      { kind: 'sessmap', entries: small, phase: 'get (small working set)' },
    ];
    // Rounds alternate the stores like the session scenario; each row is its best round.
    const rounds = ctx.counts.rounds;
    const all = new Map<string, number[]>();
    for (let round = 1; round <= rounds; round++) {
      for (const { kind, entries, phase } of runs) {
        if (!ctx.stores.includes(kind)) continue;
        ctx.log(`raw: ${kind}${entries ? ` (${String(entries)} entries)` : ''}${rounds > 1 ? ` (round ${String(round)} of ${String(rounds)})` : ''}`);
        try {
          const r = await runTask<RawOut>(
            { module: MODULE, task: 'rawTask', args: { store: kind, path: join(ctx.dir, kind === 'sessmap' ? `raw-${String(entries ?? 0)}.sessmap` : `raw-${kind}`), counts: ctx.counts, entries } },
            ctx.taskTimeoutMs,
          );
          const measured: [string, Timing & { attempts: number }][] = [[phase, r.get]];
          if (r.getCopy) measured.push(['get + copy', r.getCopy]);
          if (r.getInto) measured.push(['getInto', r.getInto]);
          for (const [ph, t] of measured) {
            const row: Row = { scenario: 'raw', store: kind, phase: ph, ops: t.n, opsPerSec: t.opsPerSec, p50Ns: t.p50Ns, p99Ns: t.p99Ns, stolen: t.stolen, note: t.attempts > 1 ? `best of ${String(t.attempts)} runs` : undefined };
            const key = `${kind}|${ph}`;
            all.set(key, [...(all.get(key) ?? []), row.opsPerSec]);
            const i = rows.findIndex((x) => x.store === kind && x.phase === ph);
            if (i < 0) rows.push(row);
            else if (row.opsPerSec > rows[i].opsPerSec) rows[i] = row;
          }
          if (r.check) notes.add(`- **check failed** (${kind}): ${r.check}`);
        } catch (err) {
          ctx.log(`raw: ${kind} failed: ${(err as Error).message}`);
          notes.add(`- **${kind} failed**: ${(err as Error).message}`);
        }
      }
    }
    for (const r of rows) {
      const seen = all.get(`${r.store}|${r.phase}`) ?? [];
      if (seen.length > 1) {
        const others = seen.filter((v) => v !== r.opsPerSec).map(fmtOps);
        r.note = [`best of ${String(seen.length)} rounds (other: ${others.join(', ') || fmtOps(r.opsPerSec)})`, r.note].filter(Boolean).join('; ');
      }
    }
    const label = (r: Row): string =>
      r.store === 'sessmap' ? (r.phase === 'getInto' ? "sessmap getInto (serializer 'raw', into one reused buffer)" : "sessmap (serializer 'raw')")
        : r.store === 'lru-cache' ? (r.phase === 'get + copy' ? 'lru-cache (a private copy returned, as sessmap returns)' : 'lru-cache (stored Buffer returned, no copy)')
          : r.store === 'lmdb' ? "lmdb (encoding 'binary')" : r.store;
    const md = [
      `${String(VALUE_BYTES)}-byte Buffer values, ${fmtOps(ctx.counts.rawGets)} random gets, one process (latency sampled every 16th op). The target applies to the ${fmtOps(ctx.counts.entries)}-entry row; the ${fmtOps(small)}-entry row is the same test on a working set that fits in the CPU caches.`,
      '',
      table(
        ['store', 'entries', 'get ops/s', 'p50 µs', 'p99 µs', 'stolen', 'notes'],
        rows.map((r) => [
          label(r),
          fmtOps(r.phase === 'get (small working set)' ? small : ctx.counts.entries),
          fmtOps(r.opsPerSec),
          fmtUs(r.p50Ns),
          fmtUs(r.p99Ns),
          fmtStolen(r.stolen, STOLEN_WARN),
          r.note ?? '',
        ]),
        'lrrrrrl',
      ),
      ...notes,
    ].join('\n');
    return { rows, markdown: md };
  },
};
