/**
 * Scenario `full`: sets into a file that is already full, the steady state of a busy site, where
 * every new session evicts an old one. One child, one file (64 MiB, serializer 'json', every
 * session set with a 30-minute TTL): `load` sets new sessions while there is room; a fill then
 * sets more until every page has evicted; `full-set` sets new sessions into the full file; `flood`
 * is 90% anonymous creates (new keys, small values: a bot flood) and 10% reads of a fixed set of
 * authenticated sessions. All at the SharedCache level, with one priority ('normal'): what the
 * session layer's evictionPolicy would protect is reported, not arranged.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CacheStats, SharedCache as SharedCacheClass } from '../src/index.js';
import { SEED, SET_RATIO, STOLEN_WARN, type Counts, type Row, type RunContext, type Scenario, type ScenarioResult } from './lib/config.js';
import { runTask } from './lib/fork.js';
import { fmtOps, fmtRatio, fmtStolen, fmtUs, table } from './lib/format.js';
import { collectGarbage, timeOps, warm, type Timing } from './lib/measure.js';
import { mulberry32, randIndices } from './lib/prng.js';
import { loadSessmap } from './lib/stores.js';
import { makeWarmKeys, makeWorkload } from './lib/workload.js';

const MODULE = fileURLToPath(import.meta.url);
const MIB = 1024 * 1024;
const TTL_MS = 30 * 60_000;
/** Share of the flood's ops that read an authenticated session (the rest create anonymous ones). */
const READ_SHARE = 0.1;

interface FullSizes {
  fileBytes: number;
  pageSize: number;
  /** New sessions set into the full file. */
  fullSets: number;
  /** Ops of the flood. */
  flood: number;
  /** Authenticated sessions the flood reads. */
  authenticated: number;
}
const FULL_SIZES: FullSizes = { fileBytes: 64 * MIB, pageSize: 256 * 1024, fullSets: 100_000, flood: 100_000, authenticated: 1_000 };
const QUICK_SIZES: FullSizes = { fileBytes: 16 * MIB, pageSize: 256 * 1024, fullSets: 10_000, flood: 20_000, authenticated: 200 };

interface PhaseOut {
  phase: string;
  timing: Timing;
  note: string;
}

interface FullOut {
  phases: PhaseOut[];
  checks: string[];
  /** What the file held and how it got full. */
  fill: { sets: number; entries: number; pageCount: number };
}

/** Distinct session keys from their own stream (`s:` + 32 characters, as the session backend keys them). */
function sessionKeys(stream: number, n: number): string[] {
  return makeWarmKeys(SEED + 0x100 * stream, n).map((k) => `s:${k}`);
}

const removed = (a: CacheStats, b: CacheStats): string =>
  `${fmtOps(b.removals.evicted - a.removals.evicted)} evicted (${fmtOps(b.evictedLive - a.evictedLive)} of them live), ${fmtOps(b.removals.expired - a.removals.expired)} expired`;

/** Child task: load, fill, full-set and flood on one file. */
export async function fullTask(a: { path: string; counts: Counts; sizes: FullSizes }): Promise<FullOut> {
  const { counts, sizes } = a;
  const SharedCache = (await loadSessmap()) as unknown as typeof SharedCacheClass;
  const { sessions } = makeWorkload(SEED, { entries: counts.entries, ops: 0, setRatio: SET_RATIO });
  const m = sessions.length;
  // An anonymous session: the cookie and nothing else (about 140 bytes of JSON).
  const anonymous = sessions.map((s) => ({ cookie: s.cookie }));
  const cache = SharedCache.create<unknown>(a.path, { size: sizes.fileBytes, pageSize: sizes.pageSize, serializer: 'json', ifExists: 'reinit' });
  const set = (key: string, value: unknown): void => cache.set(key, value, { ttl: TTL_MS });
  const phases: PhaseOut[] = [];
  const checks: string[] = [];

  // load: sets with room, warmed up on keys of their own as the session scenario does.
  const warmKeys = sessionKeys(0, Math.min(5_000, counts.warmup));
  warm(warmKeys.length, (i) => set(warmKeys[i], sessions[i % m]));
  const loadKeys = sessionKeys(1, counts.entries);
  collectGarbage();
  const s0 = cache.stats();
  const load = timeOps(counts.entries, (i) => set(loadKeys[i], sessions[i]));
  const s1 = cache.stats();
  phases.push({ phase: 'load', timing: load, note: `into an empty file: ${removed(s0, s1)}` });
  if (s1.removals.evicted > s0.removals.evicted) checks.push(`load evicted ${String(s1.removals.evicted - s0.removals.evicted)}: the file is too small for a load with room`);

  // Fill: new sessions in chunks until every page has evicted (so every further set evicts).
  const chunk = 10_000;
  const limit = Math.ceil((20 * sizes.fileBytes) / 400);
  let filled = 0;
  let st = s1;
  for (let round = 0; !st.pages.every((p) => p.removals.evicted > 0); round++) {
    if (filled >= limit) throw new Error(`pages still without an eviction after ${String(filled)} sets`);
    const keys = sessionKeys(10 + round, chunk);
    for (let i = 0; i < chunk; i++) set(keys[i], sessions[(filled + i) % m]);
    filled += chunk;
    st = cache.stats();
  }

  // full-set: new sessions into the full file.
  const fullKeys = sessionKeys(2, sizes.fullSets);
  collectGarbage();
  const f0 = cache.stats();
  const fullSet = timeOps(sizes.fullSets, (i) => set(fullKeys[i], sessions[(filled + i) % m]));
  const f1 = cache.stats();
  phases.push({ phase: 'full-set', timing: fullSet, note: `${removed(f0, f1)}; entries ${fmtOps(f0.entries)} -> ${fmtOps(f1.entries)}` });
  const evicted = f1.removals.evicted - f0.removals.evicted;
  if (evicted < 0.9 * sizes.fullSets) checks.push(`full-set: ${String(evicted)} evictions in ${String(sizes.fullSets)} sets: the file was not full`);

  // flood: 90% anonymous creates, 10% reads of authenticated sessions set just before it.
  const authKeys = sessionKeys(3, sizes.authenticated);
  for (let i = 0; i < authKeys.length; i++) set(authKeys[i], sessions[i % m]);
  const floodKeys = sessionKeys(4, sizes.flood);
  const rng = mulberry32(SEED + 5);
  const isRead = new Uint8Array(sizes.flood);
  for (let i = 0; i < sizes.flood; i++) isRead[i] = rng() < READ_SHARE ? 1 : 0;
  const which = randIndices(rng, sizes.flood, sizes.authenticated);
  let reads = 0;
  let misses = 0;
  collectGarbage();
  const g0 = cache.stats();
  const flood = timeOps(sizes.flood, (i) => {
    if (isRead[i] === 1) {
      reads++;
      if (cache.get(authKeys[which[i]]) === undefined) misses++;
    } else set(floodKeys[i], anonymous[i % m]);
  });
  const g1 = cache.stats();
  let survivors = 0;
  for (const k of authKeys) if (cache.has(k)) survivors++;
  phases.push({
    phase: 'flood',
    timing: flood,
    note: `${fmtOps(sizes.flood - reads)} creates, ${fmtOps(reads)} reads (${fmtOps(misses)} missed); ${removed(g0, g1)}; authenticated sessions left: ${fmtOps(survivors)} of ${fmtOps(sizes.authenticated)}`,
  });
  const fill = { sets: filled, entries: f0.entries, pageCount: f0.pageCount };
  cache.close();
  return { phases, checks, fill };
}

export const scenario: Scenario = {
  name: 'full',
  title: 'A full cache: sets that evict, and a flood of anonymous sessions',
  async run(ctx: RunContext): Promise<ScenarioResult> {
    const sizes = ctx.quick ? QUICK_SIZES : FULL_SIZES;
    if (!ctx.stores.includes('sessmap')) return { rows: [], markdown: `- skipped: sessmap ${ctx.sessmapMissing ?? 'not selected'}` };
    ctx.log('full: sessmap json');
    const out = await runTask<FullOut>({ module: MODULE, task: 'fullTask', args: { path: join(ctx.dir, 'full.sessmap'), counts: ctx.counts, sizes } }, ctx.taskTimeoutMs);
    const rows: Row[] = out.phases.map((p) => ({
      scenario: 'full', store: 'sessmap', phase: p.phase, ops: p.timing.n, opsPerSec: p.timing.opsPerSec,
      p50Ns: p.timing.p50Ns, p99Ns: p.timing.p99Ns, stolen: p.timing.stolen, note: p.note,
    }));
    const load = rows.find((r) => r.phase === 'load');
    const md = [
      `One process, serializer 'json', a ${String(sizes.fileBytes / MIB)} MiB file of ${String(sizes.pageSize / 1024)} KiB pages, every session set with a ${String(TTL_MS / 60_000)}-minute TTL. load: ${fmtOps(ctx.counts.entries)} new sessions into the empty file; then ${fmtOps(out.fill.sets)} more until every one of its ${fmtOps(out.fill.pageCount)} pages had evicted (it then held ${fmtOps(out.fill.entries)}); full-set: ${fmtOps(sizes.fullSets)} new sessions; flood: ${fmtOps(sizes.flood)} ops, ${String(100 - READ_SHARE * 100)}% creates of anonymous sessions (new keys, the cookie only: ~140 bytes of JSON) and ${String(READ_SHARE * 100)}% reads of ${fmtOps(sizes.authenticated)} authenticated sessions set just before it. All entries have priority 'normal' (the session layer's protect-authenticated would write anonymous ones 'low').`,
      '',
      table(
        ['phase', 'ops', 'µs / op', 'ops/s', 'vs load', 'p50 µs', 'p99 µs', 'stolen', 'notes'],
        rows.map((r) => [
          r.phase, fmtOps(r.ops), (1e6 / r.opsPerSec).toFixed(2), fmtOps(r.opsPerSec), load ? fmtRatio(load.opsPerSec / r.opsPerSec) : 'n/a',
          fmtUs(r.p50Ns), fmtUs(r.p99Ns), fmtStolen(r.stolen, STOLEN_WARN), r.note ?? '',
        ]),
        'lrrrrrrrl',
      ),
      ...out.checks.map((c) => `- **check failed**: ${c}`),
    ].join('\n');
    return { rows, markdown: md };
  },
};
