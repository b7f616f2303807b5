/** A clock the tests move by hand, injected through the `clock` option. */
export interface ManualClock {
  /** Pass this as the `clock` option. */
  readonly fn: () => number;
  now(): number;
  advance(ms: number): number;
  set(ms: number): void;
}

/** Starts at an even, realistic epoch time so TTL arithmetic is exact. */
export function manualClock(start = 1_700_000_000_000): ManualClock {
  let t = start;
  return {
    fn: () => t,
    now: () => t,
    advance(ms: number): number {
      t += ms;
      return t;
    },
    set(ms: number): void {
      t = ms;
    },
  };
}
