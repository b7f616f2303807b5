/** What the benchmark process (the cluster primary) and its HTTP workers say to each other over IPC. */

export const STORE_KINDS = ['sessmap', 'connect-redis', 'memory'] as const;
export type StoreKind = (typeof STORE_KINDS)[number];

export const STORE_LABELS: Record<StoreKind, string> = {
  sessmap: 'sessmap',
  'connect-redis': 'connect-redis',
  memory: 'MemoryStore',
};

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

export function isBenchMessage(m: unknown): m is { bench: 1; kind: string } {
  return typeof m === 'object' && m !== null && (m as { bench?: unknown }).bench === 1 && typeof (m as { kind?: unknown }).kind === 'string';
}

export function emptyCounters(): WorkerCounters {
  return { responses: {}, storeCalls: { get: 0, set: 0, touch: 0, destroy: 0 }, errors: [], cpuMicros: 0, elu: 0 };
}
