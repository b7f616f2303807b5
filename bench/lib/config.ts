/** Sizes of a run, and what the runner hands every scenario. */
import type { StoreKind } from './stores.js';

export interface Counts {
  /** Entries loaded (the `load` phase). */
  entries: number;
  /** Random gets of the `get` phase. */
  gets: number;
  /** Read-modify-writes of the `update` phase. */
  updates: number;
  /** Ops of the one-process `mix` phase. */
  mix: number;
  /** Ops per process in mix2 (and in its one-process baseline). */
  mix2: number;
  /** Encode and decode calls per codec in the serializer scenario. */
  codec: number;
  /** Gets per serializer in the sessmap json-vs-v8 comparison. */
  serializerGets: number;
  /** Gets of the raw scenario. */
  rawGets: number;
  /**
   * Sessions of the redis-get scenario: at most 10,000, the sessions the service remembers (past
   * them every read costs more; docs/benchmarks.md); the near-cache, 16m by default, holds them all.
   */
  redisEntries: number;
  /** Gets of each redis-get phase (one per store and number in flight). */
  redisGets: number;
  /** Rounds of the redis-get scenario (stores alternate; each figure is the median round). */
  redisRounds: number;
  /** Untimed iterations before each timed phase (capped by the phase's own size). */
  warmup: number;
  /** Rounds of the session and raw scenarios (stores alternate; each figure is the best round). */
  rounds: number;
}

export const FULL: Counts = {
  entries: 50_000,
  gets: 500_000,
  updates: 100_000,
  mix: 500_000,
  mix2: 500_000,
  codec: 200_000,
  serializerGets: 200_000,
  rawGets: 1_000_000,
  redisEntries: 10_000,
  redisGets: 30_000,
  redisRounds: 3,
  warmup: 20_000,
  rounds: 2,
};

export const QUICK: Counts = {
  entries: 5_000,
  gets: 50_000,
  updates: 10_000,
  mix: 50_000,
  mix2: 50_000,
  codec: 20_000,
  serializerGets: 20_000,
  rawGets: 100_000,
  redisEntries: 2_000,
  redisGets: 5_000,
  redisRounds: 1,
  warmup: 2_000,
  rounds: 1,
};

/** Share of sets in the mixed phases (95/5 get/set). */
export const SET_RATIO = 0.05;
/** Seed of the workload generator: same keys and values on every run. */
export const SEED = 20_250_611;

export interface RunContext {
  counts: Counts;
  quick: boolean;
  /** Fresh temp directory for this run's store files (removed at the end). */
  dir: string;
  /** Stores available to this run (sessmap only when it imports). */
  stores: readonly StoreKind[];
  /** Why sessmap is not in `stores`, when it is not. */
  sessmapMissing: string | undefined;
  /** Logical CPUs of this machine. */
  cpuCount: number;
  /** Time limit of one child task, ms. */
  taskTimeoutMs: number;
  log(line: string): void;
}

/** One measured line of a report table. */
export interface Row {
  scenario: string;
  store: string;
  phase: string;
  ops: number;
  opsPerSec: number;
  p50Ns: number;
  p99Ns: number;
  /** Share of the phase's wall time taken by other processes (see measure.ts); NaN if unknown. */
  stolen: number;
  note?: string;
  /** Capacity rows (no timing): sessions stored per MiB of the store's file, disk or memory. */
  perMiB?: number;
}

/** Above this share of stolen time a figure is flagged as disturbed by other load. */
export const STOLEN_WARN = 0.03;

/** What a scenario returns: rows for target computation and markdown for the report. */
export interface ScenarioResult {
  rows: Row[];
  /** Markdown (tables and notes) for docs/benchmarks.md and the console. */
  markdown: string;
}

export interface Scenario {
  name: string;
  title: string;
  run(ctx: RunContext): Promise<ScenarioResult>;
}
