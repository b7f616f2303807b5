/**
 * Whole-cache operations, page by page, each page under its lock: iterating keys and entries
 * (a page's live entries are copied out under its lock, then yielded and decoded outside it),
 * clearing, and purging expired entries (skipping pages a live process holds, so a sweeper never
 * blocks its event loop).
 */
import { I_TYPE_OFF, P_R_CLEARED_IDX } from '../layout.js';
import { expireAll } from '../page/evict.js';
import { isExpired, isLive, keyOf, report, resetPage, valueOf, walkLog } from '../page/log.js';
import type { Pages } from '../page/pages.js';
import { decode } from '../serializer.js';
import type { Hooks } from './hooks.js';
import type { PageLocks } from './locking.js';
import type { HandleState } from './state.js';

export class Scanner {
  readonly #state: HandleState;
  readonly #pages: Pages;
  readonly #locks: PageLocks;
  readonly #hooks: Hooks;
  readonly #clock: () => number;

  constructor(state: HandleState, pages: Pages, locks: PageLocks, hooks: Hooks, clock: () => number) {
    this.#state = state;
    this.#pages = pages;
    this.#locks = locks;
    this.#hooks = hooks;
    this.#clock = clock;
  }

  /** Every live entry as [key, value] (value undefined unless `values`), page by page. */
  *scan(values: boolean): IterableIterator<[string, unknown]> {
    const pages = this.#pages;
    for (let p = 0; p < pages.pageCount; p++) {
      this.#state.enter();
      const now = this.#clock();
      const batch = this.#locks.withPageLock(p, (s, b) => {
        const out: [string, number, string | Buffer | undefined][] = [];
        walkLog(pages, s, b, (a) => {
          if (!isLive(s, a) || isExpired(s, a, now)) return;
          out.push([keyOf(s, a), s.buf[a + I_TYPE_OFF], values ? valueOf(s, a) : undefined]);
        });
        return out;
      });
      for (const [k, type, raw] of batch) yield [k, raw === undefined ? undefined : decode(type, raw)];
    }
  }

  /** Removes every entry (reason 'cleared'); counters are kept. */
  clear(): void {
    this.#state.enter();
    const pages = this.#pages;
    const locks = this.#locks;
    for (let p = 0; p < pages.pageCount; p++) {
      locks.withPageLock(p, (s, b) => locks.changing(p, s, b, () => {
        let n = 0;
        walkLog(pages, s, b, (a) => {
          if (!isLive(s, a)) return;
          report(pages, s, a, p, 'cleared', undefined);
          n++;
        });
        resetPage(pages, s, b);
        s.f64[(b >> 3) + P_R_CLEARED_IDX] += n;
      }));
    }
    this.#hooks.maybeFlush();
  }

  /** Removes the expired entries of `count` pages from `first` (wrapping around); returns how many. */
  purgeExpiredPages(first: number, count: number): number {
    let n = 0;
    this.#state.enter();
    const now = this.#clock();
    const pages = this.#pages;
    const locks = this.#locks;
    const pc = pages.pageCount;
    for (let i = 0; i < Math.min(count, pc); i++) {
      const p = (first + i) % pc;
      if (!locks.isFree(p)) continue;
      n += locks.withPageLock(p, (s, b) => locks.changing(p, s, b, () => expireAll(pages, p, s, b, now, -1)));
    }
    this.#hooks.maybeFlush();
    return n;
  }
}
