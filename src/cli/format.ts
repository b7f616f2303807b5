/**
 * How the `sessmap` command line writes what it reports: counts, bytes, durations and ratios
 * for people, aligned columns, text from the file made safe to print (a key is anything its
 * writer chose, terminal escapes included), and the progress of a long operation (a bar on a
 * terminal, plain lines otherwise, on stderr so stdout stays the report).
 */
import type { Io } from './args.js';

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** `1,234,567` */
export function count(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** `512 B`, `12.3 KiB`, `1.5 GiB` */
export function bytes(n: number): string {
  let v = n;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${count(v)} B` : `${v >= 100 || Number.isInteger(v) ? v.toFixed(0) : v.toFixed(1)} ${UNITS[u]}`;
}

/** `21.2%`; `-` when there is nothing to divide. */
export function percent(ratio: number | null): string {
  return ratio === null || !Number.isFinite(ratio) ? '-' : `${(ratio * 100).toFixed(1)}%`;
}

/** A ratio, or null when the whole is 0. */
export function ratio(part: number, whole: number): number | null {
  return whole > 0 ? part / whole : null;
}

/** `850ms`, `12s`, `4m16s`, `2h05m`, `3d04h`; `never` for Infinity. */
export function duration(ms: number): string {
  if (ms === Infinity) return 'never';
  if (!Number.isFinite(ms)) return '-';
  const neg = ms < 0 ? '-' : '';
  const a = Math.abs(ms);
  if (a < 1000) return `${neg}${Math.round(a)}ms`;
  const s = Math.floor(a / 1000);
  if (s < 60) return `${neg}${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${neg}${m}m${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${neg}${h}h${String(m % 60).padStart(2, '0')}m`;
  return `${neg}${Math.floor(h / 24)}d${String(h % 24).padStart(2, '0')}h`;
}

/** A time as `2026-01-31 12:34:56` (local time); `-` for 0 or nonsense. */
export function timestamp(ms: number): string {
  if (!Number.isFinite(ms) || ms <= 0) return '-';
  const d = new Date(ms);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/**
 * Text from the file, safe to print: control characters (C0, DEL, C1, which a terminal may take
 * as commands) and lone surrogates as escapes, backslashes doubled.
 */
export function printable(text: string): string {
  return text.replace(/[\\\u0000-\u001f\u007f-\u009f\u2028\u2029]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, (c) =>
    c === '\\' ? '\\\\' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** Rows as aligned columns; `right` names the columns aligned to the right (numbers). */
export function columns(rows: string[][], right: ReadonlySet<number> = new Set()): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows
    .map((r) => r.map((c, i) => (i === r.length - 1 && !right.has(i) ? c : right.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  '))
    .join('\n');
}

/** Units of work below which an operation is not long enough for progress lines in a log. */
const LONG = 50;

/**
 * The progress of a long operation over `total` units, on stderr: a bar redrawn in place on a
 * terminal, else (for LONG units or more) a plain line each time another tenth is done; nothing
 * with `quiet`.
 */
export class Progress {
  readonly #io: Io;
  readonly #label: string;
  readonly #total: number;
  readonly #unit: string;
  readonly #quiet: boolean;
  #shown = -1;

  constructor(io: Io, label: string, total: number, unit: string, quiet: boolean) {
    this.#io = io;
    this.#label = label;
    this.#total = total;
    this.#unit = unit;
    this.#quiet = quiet || total === 0 || (io.err.isTTY !== true && total < LONG);
  }

  /** `done` of the units are done. */
  update(done: number): void {
    if (this.#quiet) return;
    const tty = this.#io.err.isTTY === true;
    const pct = Math.floor((done * 100) / this.#total);
    const mark = tty ? pct : Math.floor(pct / 10) * 10;
    if (mark === this.#shown || (!tty && pct < 10)) return;
    this.#shown = mark;
    const what = `${count(done)}/${count(this.#total)} ${this.#unit}`;
    if (!tty) {
      this.#io.err.write(`${this.#label}: ${mark}% (${what})\n`);
      return;
    }
    const width = Math.max(10, Math.min(40, (this.#io.err.columns || 80) - this.#label.length - what.length - 12));
    const full = Math.round((width * done) / this.#total);
    this.#io.err.write(`\r${this.#label} [${'#'.repeat(full)}${'-'.repeat(width - full)}] ${String(pct).padStart(3)}% ${what}\u001b[K`);
  }

  /** The operation ended: the bar's line is cleared. */
  end(): void {
    if (this.#quiet || this.#io.err.isTTY !== true || this.#shown < 0) return;
    this.#io.err.write('\r\u001b[K');
  }
}
