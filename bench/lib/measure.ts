/**
 * Timing. Throughput is the wall time of the whole timed loop. Latency is sampled: every
 * `2^sampleShift`-th op (default every 8th) is timed on its own with `process.hrtime.bigint()`,
 * so the timer pair (tens of ns) costs a few ns per op on average instead of dominating
 * sub-microsecond ops. Percentiles come from the sorted samples and include one timer pair
 * (`timerFloorNs`, reported alongside the figures).
 *
 * Each timed loop also records how much of its wall time the main thread was runnable but not
 * running (Linux `/proc/self/task/<tid>/schedstat`): on a 2-core machine, another busy process
 * shows up there, and the report flags the phases it touched.
 */
import { readFileSync } from 'node:fs';

export interface Timing {
  /** Ops in the timed loop. */
  n: number;
  /** Wall time of the whole loop, ns. */
  totalNs: number;
  opsPerSec: number;
  /** Median latency of the sampled ops, ns. */
  p50Ns: number;
  /** 99th percentile latency of the sampled ops, ns. */
  p99Ns: number;
  /** How many ops were timed individually. */
  samples: number;
  /** `process.hrtime.bigint()` at loop start and end, as decimal strings (cross-process comparable on Linux). */
  startNs: string;
  endNs: string;
  /** Runs of the phase (timeQuiet repeats disturbed ones; the least disturbed is reported). */
  attempts?: number;
  /**
   * Share of the loop's wall time the main thread spent runnable but waiting for a CPU (Linux
   * schedstat): time another process took. Near 0 on a quiet machine; NaN where unavailable.
   */
  stolen: number;
}

const SCHEDSTAT = `/proc/self/task/${String(process.pid)}/schedstat`;

/** Main thread's [ns on CPU, ns waiting on the run queue], or undefined without schedstat. */
export function schedstat(): [number, number] | undefined {
  try {
    const [run, wait] = readFileSync(SCHEDSTAT, 'utf8').split(' ');
    return [Number(run), Number(wait)];
  } catch {
    return undefined;
  }
}

/** Run `op(i)` for i in [0, n) and time it (see the module comment for the method). */
export function timeOps(n: number, op: (i: number) => void, sampleShift = 3): Timing {
  const mask = (1 << sampleShift) - 1;
  const lat = new Float64Array((n >>> sampleShift) + 1);
  let s = 0;
  const sched0 = schedstat();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    if ((i & mask) === 0) {
      const a = process.hrtime.bigint();
      op(i);
      lat[s++] = Number(process.hrtime.bigint() - a);
    } else {
      op(i);
    }
  }
  const t1 = process.hrtime.bigint();
  return timingOf(n, t0, t1, lat.subarray(0, s), sched0, schedstat());
}

/** A Timing from a loop's bounds, its latency samples (sorted here) and its schedstat readings. */
function timingOf(n: number, t0: bigint, t1: bigint, samples: Float64Array, sched0: [number, number] | undefined, sched1: [number, number] | undefined): Timing {
  const totalNs = Number(t1 - t0);
  const sorted = samples.sort();
  return {
    n,
    totalNs,
    opsPerSec: (n * 1e9) / totalNs,
    p50Ns: percentile(sorted, 0.5),
    p99Ns: percentile(sorted, 0.99),
    samples: sorted.length,
    startNs: t0.toString(),
    endNs: t1.toString(),
    stolen: sched0 && sched1 ? (sched1[1] - sched0[1]) / totalNs : NaN,
  };
}

/** Mean ns per op of `op(i)` over n calls, no per-op timing (for sub-microsecond codec work). */
export function nsPerOp(n: number, op: (i: number) => void): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) op(i);
  return Number(process.hrtime.bigint() - t0) / n;
}

/** Untimed iterations so the JIT has compiled the path before it is measured. */
export function warm(n: number, op: (i: number) => void): void {
  for (let i = 0; i < n; i++) op(i);
}

/** The value at quantile `q` of an ascending array (nearest rank). */
export function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank];
}

/** Median cost of an empty `hrtime.bigint()` pair: the floor under every sampled latency. */
export function timerFloorNs(): number {
  const n = 20_000;
  const lat = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const a = process.hrtime.bigint();
    lat[i] = Number(process.hrtime.bigint() - a);
  }
  return percentile(lat.sort(), 0.5);
}

/** Collect garbage between phases when the process runs with --expose-gc (the bench children do). */
export function collectGarbage(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    gc();
    gc();
  }
}

/** Retries stop at BENCH_RETRY_UNTIL (ms since the epoch, set by the runner) so they cannot stretch a run forever. */
export function retryUntil(): number {
  return Number(process.env.BENCH_RETRY_UNTIL ?? Infinity);
}

/** Above this share of stolen time a repeatable phase is run again (see `timeQuiet`). */
export const RETRY_STOLEN = 0.05;

/**
 * `timeOps`, repeated (up to `maxAttempts` in all) while other processes took more than
 * RETRY_STOLEN of the loop's time; returns the least disturbed attempt and how many ran. Only for
 * phases that can run twice and measure the same thing (reads, overwrites, increments).
 */
export function timeQuiet(n: number, op: (i: number) => void, sampleShift = 3, maxAttempts = 3): Timing & { attempts: number } {
  let best = timeOps(n, op, sampleShift);
  let attempts = 1;
  while (attempts < maxAttempts && best.stolen > RETRY_STOLEN && Date.now() < retryUntil()) {
    collectGarbage();
    const t = timeOps(n, op, sampleShift);
    attempts++;
    if (t.stolen < best.stolen) best = t;
  }
  return { ...best, attempts };
}

/**
 * `timeOps` for an op that returns a Promise, with `inFlight` of them under way at once: that
 * many loops, each awaiting one op before it takes the next index. Throughput is all n ops over
 * the wall time; every `2^sampleShift`-th op is timed from its call until it settles, so with
 * more than one in flight its latency includes waiting behind the others (in the event loop, on
 * the connection), as an app's requests do.
 */
export async function timeOpsAsync(n: number, inFlight: number, op: (i: number) => Promise<unknown>, sampleShift = 3): Promise<Timing> {
  const mask = (1 << sampleShift) - 1;
  const lat = new Float64Array((n >>> sampleShift) + 1);
  let s = 0;
  let next = 0;
  const loop = async (): Promise<void> => {
    for (let i = next++; i < n; i = next++) {
      if ((i & mask) === 0) {
        const a = process.hrtime.bigint();
        await op(i);
        lat[s++] = Number(process.hrtime.bigint() - a);
      } else {
        await op(i);
      }
    }
  };
  const sched0 = schedstat();
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: inFlight }, loop));
  const t1 = process.hrtime.bigint();
  return timingOf(n, t0, t1, lat.subarray(0, s), sched0, schedstat());
}

/** `warm` for an op that returns a Promise: i in [0, n), `inFlight` at a time, untimed. */
export async function warmAsync(n: number, inFlight: number, op: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const loop = async (): Promise<void> => {
    for (let i = next++; i < n; i = next++) await op(i);
  };
  await Promise.all(Array.from({ length: inFlight }, loop));
}

/**
 * `timeQuiet` for `timeOpsAsync`. `counters` (CPU times, a store's hit counts) is read before and
 * after each attempt; `used` is what they moved by over the attempt reported. `disturbance` says
 * how disturbed an attempt was (default: its stolen share); the least disturbed one is reported.
 */
export async function timeQuietAsync(
  n: number,
  inFlight: number,
  op: (i: number) => Promise<unknown>,
  counters: () => readonly number[] = () => [],
  disturbance: (t: Timing & { used: number[] }) => number = (t) => t.stolen,
  maxAttempts = 3,
): Promise<Timing & { attempts: number; used: number[]; disturbance: number }> {
  const once = async (): Promise<Timing & { used: number[]; disturbance: number }> => {
    const c0 = counters();
    const t = await timeOpsAsync(n, inFlight, op);
    const c1 = counters();
    const m = { ...t, used: c1.map((x, k) => x - c0[k]) };
    return { ...m, disturbance: disturbance(m) };
  };
  let best = await once();
  let attempts = 1;
  while (attempts < maxAttempts && best.disturbance > RETRY_STOLEN && Date.now() < retryUntil()) {
    collectGarbage();
    const t = await once();
    attempts++;
    if (t.disturbance < best.disturbance) best = t;
  }
  return { ...best, attempts };
}
