/**
 * `sessmap sizes FILE`: how big the entries are and what the file can hold, like `redis-cli
 * --bigkeys` / `--memkeys`: every page read under its lock in turn (metadata only, no values),
 * then the distribution of value sizes (a histogram in powers of 2, percentiles), what the
 * entries take in the pages (item header, key and value, 8-byte aligned), the largest entries,
 * entries and bytes by key prefix, and how many entries of this mix the geometry holds.
 */
import type { SharedCache } from '../core/index.js';
import { ITEM_ALIGN, ITEM_HEADER_SIZE, MAX_SLOT_LOAD } from '../core/layout.js';
import { dataStart } from '../core/options.js';
import { EXIT_OK, intOption, parse, say, sayJson, withFile, type Io } from './args.js';
import { Progress, bytes, columns, count, percent, printable, ratio } from './format.js';
import { shownKey } from './keys.js';

interface Entry {
  key: string;
  size: number;
  /** Bytes of the page the entry takes: its item, aligned. */
  footprint: number;
}

export interface SizesReport {
  file: string;
  entries: number;
  valueBytes: number;
  pageBytes: number;
  /** Value sizes in powers of 2: `below` is the bucket's exclusive upper bound. */
  histogram: Array<{ below: number; count: number }>;
  percentiles: Record<'p50' | 'p90' | 'p99' | 'max', number>;
  largest: Array<{ key: string; size: number; footprint: number }>;
  prefixes: Array<{ prefix: string; entries: number; pageBytes: number }>;
  capacity: { maxItemBytes: number; maxEntriesPerPage: number; meanFootprint: number | null; entriesPerPage: number | null; entries: number | null; fill: number | null };
}

/** The value at quantile `q` of sorted numbers. */
function at(sorted: number[], q: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** A key's prefix: up to and with its first ':' (or the whole key's kind when it has none). */
function prefixOf(key: string): string {
  const i = key.indexOf(':');
  return i < 0 ? '(no prefix)' : key.slice(0, i + 1);
}

/** Whether `a` takes more of its page than `b` (by its value's size when they take the same). */
function bigger(a: Entry, b: Entry): boolean {
  return a.footprint > b.footprint || (a.footprint === b.footprint && a.size > b.size);
}

/** The `top` largest entries seen so far, largest first (a short sorted list: no key kept beyond them). */
class Largest {
  readonly list: Entry[] = [];
  constructor(readonly top: number) {}
  offer(e: Entry): void {
    const l = this.list;
    if (l.length === this.top && !bigger(e, l[l.length - 1])) return;
    let i = l.length;
    while (i > 0 && bigger(e, l[i - 1])) i--;
    l.splice(i, 0, e);
    if (l.length > this.top) l.pop();
  }
}

/** Reads every page (under its lock, one at a time) and sums up what the entries take. */
export function sizesReport(cache: SharedCache, top: number, showIds: boolean, progress: Progress): SizesReport {
  const g = cache.geometry;
  const sizes: number[] = [];
  const largest = new Largest(top);
  const byPrefix = new Map<string, { entries: number; pageBytes: number }>();
  let pageBytes = 0;
  for (let p = 0; p < g.pageCount; p++) {
    for (const [key, info] of cache.inspectPage(p)) {
      const footprint = Math.ceil((ITEM_HEADER_SIZE + Buffer.byteLength(key) + info.size) / ITEM_ALIGN) * ITEM_ALIGN;
      sizes.push(info.size);
      pageBytes += footprint;
      largest.offer({ key, size: info.size, footprint });
      const k = prefixOf(key);
      const x = byPrefix.get(k) ?? { entries: 0, pageBytes: 0 };
      x.entries++;
      x.pageBytes += footprint;
      byPrefix.set(k, x);
    }
    progress.update(p + 1);
  }
  progress.end();
  sizes.sort((a, b) => a - b);
  const histogram: SizesReport['histogram'] = [];
  let i = 0;
  for (let below = 64; ; below *= 2) {
    let n = 0;
    while (i < sizes.length && sizes[i] < below) {
      i++;
      n++;
    }
    histogram.push({ below, count: n });
    if (i === sizes.length) break;
  }
  const maxEntriesPerPage = Math.max(1, Math.floor(g.slotsPerPage * MAX_SLOT_LOAD));
  const area = g.pageSize - dataStart(g.slotsPerPage);
  const mean = sizes.length > 0 ? pageBytes / sizes.length : null;
  const perPage = mean === null ? null : Math.min(maxEntriesPerPage, Math.floor(area / mean));
  const holds = perPage === null ? null : perPage * g.pageCount;
  return {
    file: cache.path,
    entries: sizes.length,
    valueBytes: sizes.reduce((a, b) => a + b, 0),
    pageBytes,
    histogram,
    percentiles: { p50: at(sizes, 0.5), p90: at(sizes, 0.9), p99: at(sizes, 0.99), max: sizes.at(-1) ?? 0 },
    largest: largest.list.map((e) => ({ key: shownKey(cache, e.key, showIds), size: e.size, footprint: e.footprint })),
    prefixes: [...byPrefix].map(([prefix, x]) => ({ prefix, ...x })).sort((a, b) => b.pageBytes - a.pageBytes),
    capacity: { maxItemBytes: cache.maxItemBytes, maxEntriesPerPage, meanFootprint: mean, entriesPerPage: perPage, entries: holds, fill: holds === null ? null : ratio(sizes.length, holds) },
  };
}

/** The report as text. */
export function renderSizes(r: SizesReport): string {
  const out = [`sessmap sizes ${r.file}`, `  ${count(r.entries)} entries: ${bytes(r.valueBytes)} of values, ${bytes(r.pageBytes)} in the pages (with item headers and keys)`];
  if (r.entries > 0) {
    const widest = Math.max(...r.histogram.map((h) => h.count));
    const rows = r.histogram.map((h) => [`< ${bytes(h.below)}`, count(h.count), percent(ratio(h.count, r.entries)), '#'.repeat(Math.round((40 * h.count) / widest))]);
    out.push('', '  value size', columns(rows, new Set([0, 1, 2])).replace(/^/gm, '    '));
    const p = r.percentiles;
    out.push('', `  percentiles  p50 ${bytes(p.p50)} · p90 ${bytes(p.p90)} · p99 ${bytes(p.p99)} · max ${bytes(p.max)} (largest storable: ${bytes(r.capacity.maxItemBytes)})`);
    out.push('', '  largest', columns(r.largest.map((e) => [bytes(e.size), `${bytes(e.footprint)} in the page`, printable(e.key)]), new Set([0, 1])).replace(/^/gm, '    '));
    out.push('', '  by prefix', columns(r.prefixes.map((x) => [printable(x.prefix), `${count(x.entries)} entries`, bytes(x.pageBytes), percent(ratio(x.pageBytes, r.pageBytes))]), new Set([1, 2, 3])).replace(/^/gm, '    '));
  }
  const c = r.capacity;
  out.push('');
  if (c.entries === null) out.push(`  holds        up to ${count(c.maxEntriesPerPage)} entries a page (its slots); no entries to size them by yet`);
  else {
    out.push(`  holds        at this mix (${bytes(c.meanFootprint!)} an entry in the page), about ${count(c.entriesPerPage!)} entries a page (its slots allow ${count(c.maxEntriesPerPage)}):`);
    out.push(`               about ${count(c.entries)} entries in all; ${count(r.entries)} now (${percent(c.fill)}). Pages fill unevenly: the first live evictions come before 100%`);
  }
  return out.join('\n');
}

/** `sessmap sizes FILE [--limit N] [--show-ids] [--json]` */
export async function sizesCommand(argv: string[], io: Io): Promise<number> {
  const { positionals, values } = parse('sizes', argv, { limit: { type: 'string' }, 'show-ids': { type: 'boolean' }, json: { type: 'boolean' } }, ['file']);
  const top = intOption(values, 'limit', 10, 1, 1_000_000);
  return withFile(positionals[0], (cache) => {
    const progress = new Progress(io, 'sizes', cache.geometry.pageCount, 'pages', values.quiet === true);
    const r = sizesReport(cache, top, values['show-ids'] === true, progress);
    if (values.json === true) sayJson(io, r);
    else say(io.out, renderSizes(r));
    return EXIT_OK;
  });
}
