/** Number formatting and markdown tables for the report. */

/** Ops per second with thousands separators, no decimals. */
export function fmtOps(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a';
}

/** Nanoseconds as microseconds with two decimals. */
export function fmtUs(ns: number): string {
  return Number.isFinite(ns) ? (ns / 1000).toFixed(2) : 'n/a';
}

/** Nanoseconds with no decimals. */
export function fmtNs(ns: number): string {
  return Number.isFinite(ns) ? Math.round(ns).toLocaleString('en-US') : 'n/a';
}

export function fmtRatio(r: number): string {
  return Number.isFinite(r) ? `${r.toFixed(2)}x` : 'n/a';
}

/** A markdown table; `align` per column: 'l' or 'r'. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[], align?: string): string {
  const al = align ?? headers.map((_, i) => (i === 0 ? 'l' : 'r')).join('');
  const sep = headers.map((_, i) => (al[i] === 'r' ? '---:' : '---'));
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  return [line(headers), line(sep), ...rows.map(line)].join('\n');
}

/** A stolen-time share as a percentage, with a dagger when it is high enough to distort the figure. */
export function fmtStolen(share: number, warnAt: number): string {
  if (!Number.isFinite(share)) return 'n/a';
  const pct = `${(share * 100).toFixed(1)}%`;
  return share > warnAt ? `${pct} †` : pct;
}
