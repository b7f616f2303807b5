/**
 * `sessmap stats FILE --watch`: the counters read again every `--interval` ms (default 1000)
 * with what changed per second, like `redis-cli --stat`. On a terminal the whole report is
 * redrawn in place with the rates beside the counters; otherwise (a pipe, a log) one line per
 * reading under a header, or with `--json` one JSON document per reading. It runs until Ctrl-C,
 * or for `--count` readings. Every reading is lock-free, as `stats()` is.
 */
import type { SharedCache } from '../core/index.js';
import { EXIT_OK, intOption, say, sayJson, type Io, type Parsed } from './args.js';
import { bytes, count, percent } from './format.js';
import { renderStats, statsReport, type Rates, type StatsReport } from './stats.js';

const COLUMNS = ['entries', 'used', 'fill', 'hits/s', 'misses/s', 'sets/s', 'expired/s', 'evicted/s', 'live/s', 'waits/s', 'processes'];

/** Cells right-aligned under the header's columns (each at least 9 wide). */
function row(cells: string[]): string {
  return cells.map((c, i) => c.padStart(Math.max(COLUMNS[i].length, 9))).join(' ');
}

/** What each counter did per second between two readings `seconds` apart. */
export function ratesBetween(a: StatsReport, b: StatsReport, seconds: number): Required<Rates> {
  const per = (x: number, y: number): number => (seconds > 0 ? (y - x) / seconds : 0);
  return {
    hits: per(a.hits, b.hits),
    misses: per(a.misses, b.misses),
    sets: per(a.sets, b.sets),
    expired: per(a.removals.expired, b.removals.expired),
    evicted: per(a.removals.evicted, b.removals.evicted),
    deleted: per(a.removals.deleted, b.removals.deleted),
    evictedLive: per(a.evictedLive, b.evictedLive),
    lockWaits: per(a.lockWaits, b.lockWaits),
    lockRecoveries: per(a.lockRecoveries, b.lockRecoveries),
    repairs: per(a.repairs, b.repairs),
  };
}

function rate(n: number): string {
  return n !== 0 && Math.abs(n) < 10 ? n.toFixed(1) : count(n);
}

/** One reading as a line of the table a pipe gets. */
function line(r: StatsReport, x: Required<Rates>): string[] {
  return [
    count(r.entries), bytes(r.bytesUsed), percent(r.fill),
    rate(x.hits), rate(x.misses), rate(x.sets), rate(x.expired), rate(x.evicted), rate(x.evictedLive), rate(x.lockWaits),
    count(r.processes.alive),
  ];
}

/** Resolves after `ms`, or at once when `stop` is called. */
function pause(ms: number): { done: Promise<void>; stop: () => void } {
  let stop = (): void => undefined;
  const done = new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    stop = () => {
      clearTimeout(t);
      resolve();
    };
  });
  return { done, stop };
}

/** Reads and writes until Ctrl-C or `--count` readings; returns the exit code. */
export async function watch(cache: SharedCache, values: Parsed['values'], io: Io): Promise<number> {
  const interval = intOption(values, 'interval', 1000, 10, 3_600_000);
  const limit = intOption(values, 'count', Infinity, 1, 1_000_000_000);
  const json = values.json === true;
  const tty = !json && io.out.isTTY === true;
  let stopped = false;
  let wait = pause(0);
  const onSigint = (): void => {
    stopped = true;
    wait.stop();
  };
  process.on('SIGINT', onSigint);
  try {
    let prev = statsReport(cache);
    let prevAt = performance.now();
    if (tty) io.out.write('\u001b[2J\u001b[H');
    if (!tty && !json) say(io.out, row(COLUMNS));
    for (let n = 0; n < limit && !stopped; n++) {
      wait = pause(interval);
      await wait.done;
      if (stopped) break;
      const cur = statsReport(cache);
      const at = performance.now();
      const rates = ratesBetween(prev, cur, (at - prevAt) / 1000);
      if (json) sayJson(io, { at: Date.now(), seconds: (at - prevAt) / 1000, ...cur, perSecond: rates });
      else if (tty) io.out.write(`\u001b[H${`${renderStats(cur, rates)}\n\n(every ${count(interval)} ms; Ctrl-C stops)`.replace(/\n/g, '\u001b[K\n')}\u001b[J\n`);
      else say(io.out, row(line(cur, rates)));
      prev = cur;
      prevAt = at;
    }
  } finally {
    process.off('SIGINT', onSigint);
  }
  return EXIT_OK;
}
