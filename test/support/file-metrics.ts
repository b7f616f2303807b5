/**
 * What a scrape of sessmap's file metrics must say, from a `stats()` of the same file: the
 * mapping written out here on its own (not taken from src/metrics), so a collector that reads
 * the wrong counter, drops a label value or mislabels one fails the tests that use it.
 */
import { expect } from 'vitest';
import type { CacheStats } from '../../src/core/types.js';
import type { PromText } from './prom-text.js';

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
