/**
 * The metrics sessmap exports, as objects a prom-client registry serves: each has the `name`,
 * `help`, `type`, `aggregator`, `get()` and `reset()` that prom-client's Registry calls, and reads
 * its figures at scrape time from a snapshot: one `stats()` of the file (the counters every
 * process on the host shares, in the file's page headers) and one `backendMetrics()` of the
 * store (a Redis backend's counts in this process), taken once per scrape for all metrics
 * together. Nothing is counted here, so nothing here needs prom-client's own metric classes.
 *
 * Labels have a handful of fixed values each (`state`, `reason`, `kind`, `le`): none names a
 * session, a key, a page or a process.
 */
import type { CacheStats, RemovalReason } from '../core/types.js';
import type { BackendMetrics, HistogramSnapshot } from '../sessions/types.js';

type MetricType = 'counter' | 'gauge' | 'histogram';

/** One sample as prom-client's registry formats it. */
export interface Sample {
  value: number;
  labels?: Record<string, string>;
  /** For a histogram's `_bucket`, `_sum` and `_count` lines. */
  metricName?: string;
}

/** What prom-client's Registry needs of a metric (its own Counter, Gauge, ... have these too). */
export interface CollectedMetric {
  name: string;
  readonly help: string;
  readonly type: MetricType;
  /** How prom-client's AggregatorRegistry merges the workers' values. */
  readonly aggregator: 'first' | 'sum';
  get(): { name: string; help: string; type: MetricType; aggregator: string; values: Sample[] };
  /** prom-client's `resetMetrics()` calls this; the figures are the file's and the backend's, not the registry's to reset. */
  reset(): void;
}

/** A snapshot taken at most once per scrape (every metric of a scrape gets the same one). */
export function perScrape<T>(take: () => T): () => T {
  let snap: { value: T } | undefined;
  return () => {
    if (snap === undefined) {
      snap = { value: take() };
      // prom-client calls every metric's get() in one synchronous run of a scrape.
      queueMicrotask(() => (snap = undefined));
    }
    return snap.value;
  };
}

function metric<S>(name: string, help: string, type: MetricType, aggregator: 'first' | 'sum', source: () => S | undefined, samples: (s: S) => Sample[]): CollectedMetric {
  return {
    name,
    help,
    type,
    aggregator,
    get() {
      const s = source();
      // `this.name`: an OpenMetrics registry renames a counter (`_total` off, put back on each sample).
      return { name: this.name, help, type, aggregator, values: s === undefined ? [] : samples(s) };
    },
    reset() {},
  };
}

const REASONS: readonly RemovalReason[] = ['expired', 'evicted', 'deleted', 'cleared', 'repaired'];

/**
 * The file's metrics. Every process on the host counts into the file, so one process's registry
 * exports the host's figures; a prom-client AggregatorRegistry over several processes that each
 * register them takes one process's values (`aggregator: 'first'`), not their sum.
 */
export function fileMetrics(stats: () => CacheStats): CollectedMetric[] {
  const m = (name: string, help: string, type: MetricType, samples: (s: CacheStats) => Sample[]): CollectedMetric => metric(name, help, type, 'first', stats, samples);
  const one = (pick: (s: CacheStats) => number) => (s: CacheStats): Sample[] => [{ value: pick(s) }];
  return [
    m('sessmap_sessions', 'Entries in the file: sessions (and, in a session file, the per-user indexes).', 'gauge', one((s) => s.entries)),
    m('sessmap_bytes', 'Bytes of the pages\' item space: used by live entries, or free (dead entries and the free tail).', 'gauge', (s) => [
      { value: s.bytesUsed, labels: { state: 'used' } },
      { value: s.bytesFree, labels: { state: 'free' } },
    ]),
    m('sessmap_capacity_bytes', 'Bytes the pages hold for entries (used + free): the fill is sessmap_bytes{state="used"} / this.', 'gauge', one((s) => s.bytesUsed + s.bytesFree)),
    m('sessmap_hits_total', 'Reads that found a live entry, by every process on the host.', 'counter', one((s) => s.hits)),
    m('sessmap_misses_total', 'Reads that found no live entry, by every process on the host.', 'counter', one((s) => s.misses)),
    m('sessmap_sets_total', 'Entries written (set, add, replace, update), by every process on the host.', 'counter', one((s) => s.sets)),
    m('sessmap_removals_total', 'Entries removed, by reason.', 'counter', (s) => REASONS.map((reason) => ({ value: s.removals[reason], labels: { reason } }))),
    m('sessmap_evictions_live_total', 'Entries evicted before they expired: live sessions lost to capacity (users logged out).', 'counter', one((s) => s.evictedLive)),
    m('sessmap_evictions_high_total', "Evictions of 'high' priority entries (per-user indexes): a page held nothing else to evict.", 'counter', one((s) => s.evictedHigh)),
    m('sessmap_lock_waits_total', 'Page lock acquisitions that had to wait.', 'counter', one((s) => s.lockWaits)),
    m('sessmap_lock_recoveries_total', 'Page locks taken over from processes that died holding them.', 'counter', one((s) => s.lockRecoveries)),
    m('sessmap_repairs_total', 'Pages found damaged or half-changed and rebuilt.', 'counter', one((s) => s.repairs)),
    m('sessmap_attached_processes', 'Threads listed as attached to the file: alive, or dead (gone without closing; reclaimed by the next open).', 'gauge', (s) => [
      { value: s.processes.alive, labels: { state: 'alive' } },
      { value: s.processes.dead, labels: { state: 'dead' } },
    ]),
    m('sessmap_resize_pages', "A resize under way (0 when none): the old layout's pages, and those of them moved so far.", 'gauge', (s) => [
      { value: s.resize?.fromPages ?? 0, labels: { state: 'total' } },
      { value: s.resize?.movedPages ?? 0, labels: { state: 'moved' } },
    ]),
  ];
}

const ERROR_KINDS: ReadonlyArray<keyof BackendMetrics['commandErrors']> = ['reply', 'timeout', 'unavailable'];

/** A histogram's lines from per-bucket counts: cumulative `_bucket{le}`, then `_sum` and `_count`. */
export function histogramSamples(name: string, h: HistogramSnapshot): Sample[] {
  const out: Sample[] = [];
  let seen = 0;
  h.bounds.forEach((bound, i) => {
    seen += h.counts[i];
    out.push({ metricName: `${name}_bucket`, labels: { le: String(bound) }, value: seen });
  });
  out.push({ metricName: `${name}_bucket`, labels: { le: '+Inf' }, value: h.count });
  out.push({ metricName: `${name}_sum`, value: h.sum });
  out.push({ metricName: `${name}_count`, value: h.count });
  return out;
}

/** The backend's metrics (Redis: this process's commands and near-cache); no samples on a backend that counts none. */
export function backendMetrics(source: () => BackendMetrics | undefined): CollectedMetric[] {
  const m = (name: string, help: string, type: MetricType, samples: (b: BackendMetrics) => Sample[]): CollectedMetric => metric(name, help, type, 'sum', source, samples);
  const near = (name: string, help: string, pick: (n: NonNullable<BackendMetrics['nearCache']>) => number): CollectedMetric =>
    m(name, help, 'counter', (b) => (b.nearCache === undefined ? [] : [{ value: pick(b.nearCache) }]));
  const duration = 'sessmap_redis_command_duration_seconds';
  return [
    m('sessmap_redis_command_errors_total', 'Redis commands of this process that failed, by kind: reply (an error reply), timeout (no reply within commandTimeout), unavailable.', 'counter', (b) =>
      ERROR_KINDS.map((kind) => ({ value: b.commandErrors[kind], labels: { kind } })),
    ),
    m(duration, 'How long the Redis commands of this process that got a reply took.', 'histogram', (b) => histogramSamples(duration, b.commandSeconds)),
    near('sessmap_near_cache_hits_total', 'Session reads of this process answered by the near-cache.', (n) => n.hits),
    near('sessmap_near_cache_misses_total', 'Session reads of this process the near-cache could not answer (sent to Redis).', (n) => n.misses),
    near('sessmap_near_cache_invalidations_total', 'Near-cache copies this process replaced because Redis said the session changed.', (n) => n.invalidations),
    near('sessmap_near_cache_flushes_total', 'Times this process emptied the near-cache (the invalidation channel lost, or Redis flushed).', (n) => n.flushes),
  ];
}
