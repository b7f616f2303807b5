/**
 * `sessmap stats FILE`: what the file's shared counters say, read without locks while its
 * processes work: geometry, fill (bytes and entries, in total and the fullest pages), hit ratio,
 * sets, removals by reason, live evictions with the TTL they still had (count, median and p99
 * estimated from the per-page histograms), lock waits and recoveries, repairs, and the attached
 * processes, alive and dead. The command itself is in main.ts; `--watch` is watch.ts.
 */
import { EVICTED_TTL_BOUNDS, type AttachedProcess, type CacheStats, type SharedCache } from '../core/index.js';
import { MAX_SLOT_LOAD } from '../core/layout.js';
import { bytes, columns, count, duration, percent, ratio, timestamp } from './format.js';

/** Pages named as the fullest. */
const FULLEST = 5;

/** The TTL live evictions still had, from the histogram: quantiles of those with an expiry, in ms. */
export interface TtlLeft {
  /** Live evictions the histogram counted (files older than it count from 0). */
  counted: number;
  /** Of those, entries without expiry. */
  noExpiry: number;
  /** Estimates within their bucket (a factor of 4); null without evictions of entries with an expiry. */
  medianMs: number | null;
  p99Ms: number | null;
}

export interface StatsReport {
  file: string;
  geometry: { pageCount: number; pageSize: number; slotsPerPage: number; maxKeyBytes: number; fileSize: number; maxItemBytes: number; maxEntriesPerPage: number };
  entries: number;
  bytesUsed: number;
  bytesFree: number;
  fill: number | null;
  fullestPages: Array<{ page: number; entries: number; bytesUsed: number; bytesFree: number; fill: number | null }>;
  hits: number;
  misses: number;
  hitRatio: number | null;
  sets: number;
  removals: CacheStats['removals'];
  evictedLive: number;
  evictedHigh: number;
  evictedLiveTtl: number[];
  evictedLiveTtlLeft: TtlLeft;
  lockWaits: number;
  lockRecoveries: number;
  repairs: number;
  processes: CacheStats['processes'];
  /** A resize under way: the pages of both layouts are counted above. */
  resize: CacheStats['resize'];
}

/** The quantile `q` of the evictions with an expiry, estimated within its bucket (geometric). */
function quantile(buckets: readonly number[], q: number): number | null {
  const finite = buckets.slice(0, EVICTED_TTL_BOUNDS.length);
  const n = finite.reduce((a, b) => a + b, 0);
  if (n === 0) return null;
  const target = q * n;
  let before = 0;
  for (let i = 0; i < finite.length; i++) {
    if (finite[i] === 0 || before + finite[i] < target) {
      before += finite[i];
      continue;
    }
    const f = Math.min(1, Math.max(0, (target - before) / finite[i]));
    const lo = i === 0 ? 0 : EVICTED_TTL_BOUNDS[i - 1];
    const hi = EVICTED_TTL_BOUNDS[i];
    if (i === 0) return Math.round(hi * f);
    return hi === Infinity ? lo : Math.round(lo * (hi / lo) ** f);
  }
  return EVICTED_TTL_BOUNDS[EVICTED_TTL_BOUNDS.length - 2];
}

export function ttlLeft(buckets: readonly number[]): TtlLeft {
  return {
    counted: buckets.reduce((a, b) => a + b, 0),
    noExpiry: buckets[EVICTED_TTL_BOUNDS.length] ?? 0,
    medianMs: quantile(buckets, 0.5),
    p99Ms: quantile(buckets, 0.99),
  };
}

/** The report of one reading of the counters. */
export function statsReport(cache: SharedCache): StatsReport {
  const s = cache.stats();
  const g = cache.geometry;
  const reads = s.hits + s.misses;
  const fullest = [...s.pages].sort((a, b) => b.bytesUsed - a.bytesUsed || b.entries - a.entries || a.page - b.page).slice(0, FULLEST);
  return {
    file: cache.path,
    geometry: { ...g, maxItemBytes: cache.maxItemBytes, maxEntriesPerPage: Math.max(1, Math.floor(g.slotsPerPage * MAX_SLOT_LOAD)) },
    entries: s.entries,
    bytesUsed: s.bytesUsed,
    bytesFree: s.bytesFree,
    fill: ratio(s.bytesUsed, s.bytesUsed + s.bytesFree),
    fullestPages: fullest.map((p) => ({ page: p.page, entries: p.entries, bytesUsed: p.bytesUsed, bytesFree: p.bytesFree, fill: ratio(p.bytesUsed, p.bytesUsed + p.bytesFree) })),
    hits: s.hits,
    misses: s.misses,
    hitRatio: ratio(s.hits, reads),
    sets: s.sets,
    removals: s.removals,
    evictedLive: s.evictedLive,
    evictedHigh: s.evictedHigh,
    evictedLiveTtl: s.evictedLiveTtl,
    evictedLiveTtlLeft: ttlLeft(s.evictedLiveTtl),
    lockWaits: s.lockWaits,
    lockRecoveries: s.lockRecoveries,
    repairs: s.repairs,
    processes: s.processes,
    resize: s.resize,
  };
}

/** Per-second rates of the counters between two readings, for --watch. */
export type Rates = Partial<Record<'hits' | 'misses' | 'sets' | 'expired' | 'evicted' | 'deleted' | 'evictedLive' | 'lockWaits' | 'lockRecoveries' | 'repairs', number>>;

function withRate(n: number, rate: number | undefined): string {
  return rate === undefined ? count(n) : `${count(n)} (${rate >= 0 ? '+' : ''}${rate.toFixed(rate !== 0 && Math.abs(rate) < 10 ? 1 : 0)}/s)`;
}

function processLine(p: AttachedProcess): string[] {
  return [`pid ${p.pid}`, p.thread === 0 ? 'main thread' : `thread ${p.thread}`, `since ${timestamp(p.attachedAt)}`, `${count(p.handles)} handle${p.handles === 1 ? '' : 's'}`, p.alive ? 'alive' : 'dead'];
}

/** The report as text: one line a subject, rates per second after the counters when given. */
export function renderStats(r: StatsReport, rates: Rates = {}): string {
  const g = r.geometry;
  const t = r.evictedLiveTtlLeft;
  const left = t.medianMs === null ? '' : `: TTL they still had median ~${duration(t.medianMs)}, p99 ~${duration(t.p99Ms!)}`;
  const older = r.evictedLive > t.counted ? `; ${count(r.evictedLive - t.counted)} before the file counted TTLs` : '';
  const rows: string[][] = [
    ['geometry', `${count(g.pageCount)} pages of ${bytes(g.pageSize)}, ${count(g.slotsPerPage)} slots each (at most ${count(g.maxEntriesPerPage)} entries a page); file ${bytes(g.fileSize)}; largest item ${bytes(g.maxItemBytes)}`],
    ['fill', `${bytes(r.bytesUsed)} of ${bytes(r.bytesUsed + r.bytesFree)} used (${percent(r.fill)}), ${count(r.entries)} entries`],
    ['fullest', r.fullestPages.map((p) => `page ${p.page} ${percent(p.fill)} (${bytes(p.bytesUsed)}, ${count(p.entries)} entries)`).join(' · ')],
    ['reads', `hits ${withRate(r.hits, rates.hits)} · misses ${withRate(r.misses, rates.misses)} · hit ratio ${percent(r.hitRatio)}`],
    ['writes', `sets ${withRate(r.sets, rates.sets)}`],
    ['removals', `expired ${withRate(r.removals.expired, rates.expired)} · evicted ${withRate(r.removals.evicted, rates.evicted)} · deleted ${withRate(r.removals.deleted, rates.deleted)} · cleared ${count(r.removals.cleared)} · repaired ${count(r.removals.repaired)}`],
    ['evictions', `live ${withRate(r.evictedLive, rates.evictedLive)}${left}${t.noExpiry > 0 ? ` (${count(t.noExpiry)} without expiry)` : ''}${older}; of high priority ${count(r.evictedHigh)}`],
    ['locks', `waits ${withRate(r.lockWaits, rates.lockWaits)} · recoveries ${withRate(r.lockRecoveries, rates.lockRecoveries)} · repairs ${withRate(r.repairs, rates.repairs)}`],
    ['processes', `${count(r.processes.alive)} alive, ${count(r.processes.dead)} dead${r.processes.full ? ' (the table is full: processes attached since are not listed)' : ''}`],
  ];
  const z = r.resize;
  if (z !== undefined) {
    rows.push(['resize', `${count(z.fromPages)} pages -> ${count(z.toPages)}: ${count(z.movedPages)} of ${count(z.fromPages)} moved, since ${timestamp(z.startedAt)} by pid ${z.pid}` +
      (z.resizerAlive ? '' : ' (its resizer is gone: sessmap resize FILE --size S finishes it)')]);
  }
  const head = columns(rows);
  const procs = r.processes.list.length === 0 ? '' : `\n${columns(r.processes.list.map(processLine)).replace(/^/gm, ' '.repeat(11))}`;
  return `sessmap stats ${r.file}\n${head.replace(/^/gm, '  ')}${procs}`;
}
