/**
 * Waiting, for tests and for the fixture processes they fork: {@link sleep}; {@link eventually},
 * a bounded poll of a check that only fails a run that never gets there; and {@link Wakeup}, a
 * wait on a condition that event handlers (a message, output, an exit) signal as they happen,
 * with a timer as the fallback. Free of vitest, so fixtures load it too.
 */

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A check's answer: `undefined` or `false` means "not yet", anything else is the result. */
export type Pending = undefined | false;

export interface EventuallyOptions {
  /** How long to keep checking. @default 10_000 */
  timeoutMs?: number;
  /** The pause after a check that said "not yet". @default 25 */
  intervalMs?: number;
  /** What the last check saw, appended to the failure (e.g. the events so far). */
  report?: () => string;
}

/**
 * Calls `check` until it returns something other than `undefined` or `false`, and returns that.
 * Throws `timed out after <timeoutMs> ms waiting for <what>` (with {@link EventuallyOptions.report})
 * when the deadline passes first. The check always runs once more after the last pause.
 */
export async function eventually<T>(what: string, check: () => T | Pending | Promise<T | Pending>, options: EventuallyOptions = {}): Promise<Exclude<T, Pending>> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v as Exclude<T, Pending>;
    if (Date.now() > deadline) {
      const seen = options.report === undefined ? '' : `; ${options.report()}`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${seen}`);
    }
    await sleep(options.intervalMs ?? 25);
  }
}

export interface UntilOptions {
  timeoutMs: number;
  /** Who is waited on, for the failure message (e.g. `cache-child.ts`, `worker #1 (pid 42)`). */
  who: string;
  /** How the awaited process ended, once it has; the wait then fails (after one last check). */
  gone?: () => unknown;
  /** Appended to a failure (e.g. the process's stderr). */
  detail?: () => string;
  /** The longest sleep between checks when nothing signals. @default 250 */
  pollMs?: number;
}

/** Waiters on conditions that the code seeing them change signals with {@link Wakeup.wake}. */
export class Wakeup {
  #waiters: Array<() => void> = [];

  /** Lets every pending {@link until} check again. */
  wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const f of waiters) f();
  }

  /**
   * Resolves with the first value of `check` other than `undefined`, checking after each
   * {@link wake} (and at least every `pollMs`). Fails when `gone()` says the process ended, after
   * letting pending I/O drain and checking once more, or when `timeoutMs` passes. A check may
   * throw to end the wait early.
   */
  async until<T>(what: string, check: () => T | undefined, o: UntilOptions): Promise<T> {
    const deadline = Date.now() + o.timeoutMs;
    const detail = (): string => (o.detail === undefined ? '' : o.detail());
    for (;;) {
      const v = check();
      if (v !== undefined) return v;
      const gone = o.gone?.();
      if (gone !== undefined) {
        // Messages and output sent just before the exit may still be on their way.
        await new Promise((r) => setImmediate(r));
        const again = check();
        if (again !== undefined) return again;
        throw new Error(`${o.who} exited (${JSON.stringify(gone)}) before ${what}${detail()}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${o.who}: timed out after ${o.timeoutMs} ms waiting for ${what}${detail()}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, o.pollMs ?? 250));
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
}
