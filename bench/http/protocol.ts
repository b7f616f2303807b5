/**
 * What the benchmark process (the cluster primary) says over IPC to its HTTP workers and to the
 * load generator (a child of its own that runs autocannon).
 */
import type { LoadOptions, LoadResult } from './load.js';

export const STORE_KINDS = ['sessmap', 'sessmap-redis', 'sessmap-near', 'connect-redis', 'memory'] as const;
export type StoreKind = (typeof STORE_KINDS)[number];

export const STORE_LABELS: Record<StoreKind, string> = {
  sessmap: 'sessmap',
  'sessmap-redis': 'sessmap on Redis',
  'sessmap-near': 'sessmap on Redis + near-cache',
  'connect-redis': 'connect-redis',
  memory: 'MemoryStore',
};

/** The stores that run on the benchmark's redis-server. */
export const REDIS_KINDS: readonly StoreKind[] = ['sessmap-redis', 'sessmap-near', 'connect-redis'];

/** Environment variables a worker is forked with. */
export const ENV_STORE = 'SESSMAP_BENCH_HTTP_STORE';
export const ENV_REDIS_URL = 'SESSMAP_BENCH_HTTP_REDIS_URL';
export const ENV_SECRET = 'SESSMAP_BENCH_HTTP_SECRET';
/** When set: the directory where each worker writes a CPU profile of the measured phase. */
export const ENV_PROF_DIR = 'SESSMAP_BENCH_HTTP_PROF_DIR';

/** Request header that, with MemoryStore only, fixes the id `POST /login` gives the new session. */
export const SID_HEADER = 'x-bench-sid';

/** Counters a worker keeps; reset after the warm-up, read after the measurement. */
export interface WorkerCounters {
  /** Responses by route and status: `GET /read 200`. */
  responses: Record<string, number>;
  /** Calls express-session made to the store. */
  storeCalls: { get: number; set: number; touch: number; destroy: number };
  /** First few error messages passed to the error handler. */
  errors: string[];
  /** CPU time of the worker process (user + system, microseconds) and event-loop utilisation (0..1) since the reset. */
  cpuMicros: number;
  elu: number;
}

export type PrimaryMessage = { bench: 1; kind: 'reset' } | { bench: 1; kind: 'report' } | { bench: 1; kind: 'exit' };

export type WorkerMessage =
  | { bench: 1; kind: 'listening'; port: number; pid: number }
  | { bench: 1; kind: 'failed'; error: string; pid: number }
  | { bench: 1; kind: 'report'; pid: number; counters: WorkerCounters };

/** Primary to load generator: run autocannon once with these options; or exit. */
export type LoaderCommand = { bench: 1; kind: 'load'; id: number; options: LoadOptions } | { bench: 1; kind: 'exit' };

/** Load generator to primary. */
export type LoaderMessage =
  | { bench: 1; kind: 'ready'; pid: number }
  | { bench: 1; kind: 'result'; id: number; result: LoadResult }
  | { bench: 1; kind: 'load-failed'; id: number; error: string };

export function isBenchMessage(m: unknown): m is { bench: 1; kind: string } {
  return typeof m === 'object' && m !== null && (m as { bench?: unknown }).bench === 1 && typeof (m as { kind?: unknown }).kind === 'string';
}

export function emptyCounters(): WorkerCounters {
  return { responses: {}, storeCalls: { get: 0, set: 0, touch: 0, destroy: 0 }, errors: [], cpuMicros: 0, elu: 0 };
}
