/**
 * Scenario `raw`: gets of 400-byte Buffer values, no serializer: the cost of the cache itself
 * (hash, lock, key compare, recency write, copy out). sessmap with serializer 'raw'; for reference
 * lru-cache holding the Buffers (returns the stored Buffer, no copy) and lmdb with encoding 'binary'.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SEED, SET_RATIO, STOLEN_WARN, type Counts, type Row, type RunContext, type Scenario, type ScenarioResult } from './lib/config.js';
import { runTask } from './lib/fork.js';
import { fmtOps, fmtStolen, fmtUs, table } from './lib/format.js';
import { collectGarbage, timeOps, warm, type Timing } from './lib/measure.js';
import { mulberry32, randBytes } from './lib/prng.js';
import { openStore, type StoreKind } from './lib/stores.js';
import { makeWorkload } from './lib/workload.js';

const MODULE = fileURLToPath(import.meta.url);
const VALUE_BYTES = 400;
const RAW_STORES: readonly StoreKind[] = ['sessmap', 'lru-cache', 'lmdb'];

interface RawOut {
  get: Timing;
  check: string | undefined;
}

/** Child task: load 400-byte Buffers, then time random gets. */
export async function rawTask(args: { store: StoreKind; path: string; counts: Counts }): Promise<RawOut> {
  const { counts } = args;
  const { keys, idx } = makeWorkload(SEED, { entries: counts.entries, ops: counts.rawGets, setRatio: SET_RATIO });
  const rng = mulberry32(SEED + 1);
  const values = keys.map(() => randBytes(rng, VALUE_BYTES));
  const store = await openStore<Buffer>({ kind: args.store, mode: 'raw', path: args.path, how: 'create' });
  for (let i = 0; i < keys.length; i++) store.set(keys[i], values[i]);
  const got = store.get(keys[0]);
  const check = got && Buffer.compare(got, values[0]) === 0 ? undefined : 'get(keys[0]) differs from what was set';
  warm(Math.min(counts.warmup * 5, counts.rawGets), (i) => store.get(keys[idx[i]]));
  collectGarbage();
  const get = timeOps(counts.rawGets, (i) => store.get(keys[idx[i]]), 4);
  store.close();
  return { get, check };
}

export const scenario: Scenario = {
  name: 'raw',
  title: 'Raw 400-byte Buffer values',
  async run(ctx: RunContext): Promise<ScenarioResult> {
    const rows: Row[] = [];
    const notes: string[] = [];
    for (const kind of RAW_STORES) {
      if (!ctx.stores.includes(kind)) continue;
      ctx.log(`raw: ${kind}`);
      try {
        const r = await runTask<RawOut>(
          { module: MODULE, task: 'rawTask', args: { store: kind, path: join(ctx.dir, kind === 'sessmap' ? 'raw.sessmap' : `raw-${kind}`), counts: ctx.counts } },
          ctx.taskTimeoutMs,
        );
        rows.push({ scenario: 'raw', store: kind, phase: 'get', ops: r.get.n, opsPerSec: r.get.opsPerSec, p50Ns: r.get.p50Ns, p99Ns: r.get.p99Ns, stolen: r.get.stolen });
        if (r.check) notes.push(`- **check failed** (${kind}): ${r.check}`);
      } catch (err) {
        ctx.log(`raw: ${kind} failed: ${(err as Error).message}`);
        notes.push(`- **${kind} failed**: ${(err as Error).message}`);
      }
    }
    const label: Record<string, string> = {
      sessmap: "sessmap (serializer 'raw')",
      'lru-cache': 'lru-cache (stored Buffer returned, no copy)',
      lmdb: "lmdb (encoding 'binary')",
    };
    const md = [
      `${fmtOps(ctx.counts.entries)} entries of ${String(VALUE_BYTES)}-byte Buffers, ${fmtOps(ctx.counts.rawGets)} random gets, one process (latency sampled every 16th op).`,
      '',
      table(
        ['store', 'get ops/s', 'p50 µs', 'p99 µs', 'stolen'],
        rows.map((r) => [label[r.store] ?? r.store, fmtOps(r.opsPerSec), fmtUs(r.p50Ns), fmtUs(r.p99Ns), fmtStolen(r.stolen, STOLEN_WARN)]),
      ),
      ...notes,
    ].join('\n');
    return { rows, markdown: md };
  },
};
