/**
 * Scrapes read back, for the metrics tests. `parsePromText` reads the Prometheus text exposition
 * format (version 0.0.4) strictly enough: every line a comment (`# HELP` / `# TYPE`), blank, or
 * one sample `name{label="value",...} number`; every sample of a family declared with `# TYPE`
 * first; a line that is none of these throws, so a malformed exposition fails the test that reads
 * it. `expectScrapeMatchesStats` says what a scrape of sessmap's file metrics must be from a
 * `stats()` of the same file: the mapping written out here on its own (not taken from
 * src/metrics), so a collector that reads the wrong counter, drops a label value or mislabels one
 * fails the tests that use it.
 */
import { expect } from 'vitest';
import type { CacheStats } from '../../src/core/types.js';

export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface PromText {
  samples: PromSample[];
  /** `# TYPE` of each family. */
  types: Map<string, string>;
  /** The one sample of `name` with exactly these labels; undefined when there is none. */
  value(name: string, labels?: Record<string, string>): number | undefined;
  /** Every sample of `name`, whatever its labels. */
  all(name: string): PromSample[];
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/g;

function number(s: string): number {
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  const n = Number(s);
  if (Number.isNaN(n) && s !== 'NaN') throw new Error(`not a sample value: ${s}`);
  return n;
}

/** The family a sample belongs to: a histogram's `_bucket`, `_sum` and `_count` are its own. */
function familyOf(name: string, types: Map<string, string>): string | undefined {
  if (types.has(name)) return name;
  const m = /^(.*)_(bucket|sum|count)$/.exec(name);
  return m !== null && types.get(m[1]) === 'histogram' ? m[1] : undefined;
}

export function parsePromText(text: string): PromText {
  const samples: PromSample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      const t = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line);
      if (t) types.set(t[1], t[2]);
      else if (!/^# HELP \S+ /.test(line)) throw new Error(`not a HELP or TYPE line: ${line}`);
      continue;
    }
    const m = SAMPLE.exec(line);
    if (m === null) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    if (m[2] !== undefined && m[2] !== '') {
      let consumed = 0;
      for (const l of m[2].matchAll(LABEL)) {
        labels[l[1]] = l[2].replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
        consumed += l[0].length;
      }
      if (consumed !== m[2].length) throw new Error(`malformed labels: ${line}`);
    }
    if (familyOf(m[1], types) === undefined) throw new Error(`sample of a family with no # TYPE before it: ${line}`);
    samples.push({ name: m[1], labels, value: number(m[3]) });
  }
  const same = (a: Record<string, string>, b: Record<string, string>): boolean =>
    Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([k, v]) => b[k] === v);
  return {
    samples,
    types,
    value(name, labels = {}) {
      const found = samples.filter((s) => s.name === name && same(s.labels, labels));
      if (found.length > 1) throw new Error(`${found.length} samples of ${name} ${JSON.stringify(labels)}`);
      return found[0]?.value;
    },
    all: (name) => samples.filter((s) => s.name === name),
  };
}

export const REMOVAL_REASONS = ['expired', 'evicted', 'deleted', 'cleared', 'repaired'] as const;

/** Each file metric sample, keyed `name` or `name{label="value"}`, as stats() says it must be. */
export function fileFigures(s: CacheStats): Record<string, number> {
  const out: Record<string, number> = {
    sessmap_sessions: s.entries,
    'sessmap_bytes{state="used"}': s.bytesUsed,
    'sessmap_bytes{state="free"}': s.bytesFree,
    sessmap_capacity_bytes: s.bytesUsed + s.bytesFree,
    sessmap_hits_total: s.hits,
    sessmap_misses_total: s.misses,
    sessmap_sets_total: s.sets,
    sessmap_evictions_live_total: s.evictedLive,
    sessmap_evictions_high_total: s.evictedHigh,
    sessmap_lock_waits_total: s.lockWaits,
    sessmap_lock_recoveries_total: s.lockRecoveries,
    sessmap_repairs_total: s.repairs,
    'sessmap_attached_processes{state="alive"}': s.processes.alive,
    'sessmap_attached_processes{state="dead"}': s.processes.dead,
  };
  for (const r of REMOVAL_REASONS) out[`sessmap_removals_total{reason="${r}"}`] = s.removals[r];
  return out;
}

/** The same samples read from a scrape (undefined where the scrape has none). */
export function scrapedFigures(text: PromText, keys: Iterable<string>): Record<string, number | undefined> {
  const out: Record<string, number | undefined> = {};
  for (const key of keys) {
    const m = /^([a-z_]+)(?:\{(\w+)="(\w+)"\})?$/.exec(key)!;
    out[key] = text.value(m[1], m[2] === undefined ? {} : { [m[2]]: m[3] });
  }
  return out;
}

/** Every file metric of the scrape is what stats() says, with its TYPE; nothing is missing. */
export function expectScrapeMatchesStats(text: PromText, stats: CacheStats): void {
  const want = fileFigures(stats);
  expect(scrapedFigures(text, Object.keys(want)), 'the scrape against stats()').toEqual(want);
  for (const key of Object.keys(want)) {
    const name = key.replace(/\{.*$/, '');
    expect(text.types.get(name), `# TYPE of ${name}`).toBe(name.endsWith('_total') ? 'counter' : 'gauge');
  }
}
