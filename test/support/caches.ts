/**
 * The cache opener of the core tests that work on handles in the test process: files in the
 * test's tmp dir, an injected manual clock, every removal event recorded, and every handle
 * closed after the test.
 */
import { afterEach, beforeEach } from 'vitest';
import { SharedCache } from '../../src/index.js';
import type { CreateOptions, RemovalEvent } from '../../src/core/types.js';
import { manualClock, type ManualClock } from '../helpers/clock.js';
import { useTmpDir, type TmpDir } from '../helpers/tmp.js';

/** Where the opener starts its clock before each test (manualClock's own start). */
const CLOCK_START = manualClock().now();

export interface CacheOpenerOptions {
  /** Merged under the options of each {@link CacheOpener.open}. */
  defaults?: CreateOptions;
  /** The file of the `index`-th handle opened in a test. @default `cache.smap` for every one */
  fileName?: (index: number) => string;
}

export interface CacheOpener {
  readonly tmp: TmpDir;
  /** Every removal event of the handles {@link open} made, in order; emptied before each test. */
  readonly events: RemovalEvent[];
  /** Passed as `clock` by {@link open}; set back to its start before each test. */
  readonly clock: ManualClock;
  /** The handles to close after the test: {@link open} adds its own; a test may push others. */
  readonly caches: SharedCache[];
  /** SharedCache.create in the test's tmp dir, with the clock, the event recorder, the defaults and `opts`. */
  open(opts?: CreateOptions): SharedCache;
}

/** Call once per describe block: a tmp dir per test and the {@link CacheOpener} over it. */
export function useCacheOpener(options: CacheOpenerOptions = {}): CacheOpener {
  const tmp = useTmpDir();
  const events: RemovalEvent[] = [];
  const clock = manualClock(CLOCK_START);
  const caches: SharedCache[] = [];
  beforeEach(() => {
    events.length = 0;
    clock.set(CLOCK_START);
  });
  afterEach(() => {
    for (const c of caches.splice(0)) c.close();
  });
  return {
    tmp,
    events,
    clock,
    caches,
    open(opts: CreateOptions = {}): SharedCache {
      const name = options.fileName?.(caches.length) ?? 'cache.smap';
      const c = SharedCache.create(tmp.path(name), { ...options.defaults, clock: clock.fn, onRemove: (e) => events.push(e), ...opts });
      caches.push(c);
      return c;
    },
  };
}
