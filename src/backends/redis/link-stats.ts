/**
 * What the link to Redis counts in this process, for `sessmap/metrics` (through the backend's
 * `metrics()`): the commands that failed, by kind, and how long the commands that got a reply
 * took, in fixed buckets. Counting costs two clock reads and a few additions per command; there
 * is no label per key or per session.
 *
 * The kinds are what the caller got: `reply` (Redis answered with an error: a script's own, OOM,
 * WRONGTYPE; not NOSCRIPT, which the link answers by loading the script), `timeout` (no reply
 * within commandTimeout), `unavailable` (SESSMAP_ERR_BACKEND_UNAVAILABLE for any other reason: no
 * connection, the breaker open after a timeout, too many commands in flight, the server loading,
 * busy or failing over).
 */
import type { BackendMetrics, HistogramSnapshot } from '../../sessions/types.js';

/** Upper bounds of the latency buckets, in seconds (a round trip on one host is ~0.1 ms; commandTimeout is 1 s by default). */
export const LATENCY_BUCKETS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export type CommandErrorKind = keyof BackendMetrics['commandErrors'];

export class LinkStats {
  readonly errors: Record<CommandErrorKind, number> = { reply: 0, timeout: 0, unavailable: 0 };
  /** Replies per bucket (not cumulative); the last is above every bound. */
  readonly #counts: number[] = new Array<number>(LATENCY_BUCKETS.length + 1).fill(0);
  #sum = 0;
  #count = 0;

  /** A command got a reply (an error reply included) after `seconds`. */
  replied(seconds: number): void {
    let i = 0;
    while (i < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[i]) i++;
    this.#counts[i]++;
    this.#sum += seconds;
    this.#count++;
  }

  failed(kind: CommandErrorKind): void {
    this.errors[kind]++;
  }

  /** A copy of the counts as they are now. */
  snapshot(): { commandErrors: Record<CommandErrorKind, number>; commandSeconds: HistogramSnapshot } {
    return {
      commandErrors: { ...this.errors },
      commandSeconds: { bounds: LATENCY_BUCKETS, counts: [...this.#counts], sum: this.#sum, count: this.#count },
    };
  }
}
