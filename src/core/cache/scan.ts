/**
 * Whole-cache operations, page by page, each page under its lock: iterating keys and entries
 * (a page's live entries are copied out under its lock, then yielded and decoded outside it),
 * a page's entries with their metadata, clearing, and purging expired entries (skipping pages a live process holds, so a sweeper never
 * blocks its event loop).
 */
import { I_TYPE_OFF, P_R_CLEARED_IDX } from '../layout.js';
import { expireAll } from '../page/evict.js';
import { isExpired, isLive, keyOf, report, resetPage, valueOf, walkLog } from '../page/log.js';
import { decode } from '../serializer.js';
import { validateInt } from '../options.js';
import { slotOffset, tickIdx } from '../page/slots.js';
import type { EntryInfo } from '../types.js';
import type { Handle } from './handle.js';
import { changing, lockIsFree, withPageLock } from './locking.js';
import { entryInfoAt } from './read.js';
import { removeStaleCopies, staleCopiesLikely } from './resize.js';

/**
 * Every live entry as [key, value] (value undefined unless `values`), page by page. Each key at
 * most once, across a resize too: while pages move, an entry met in its old page may be met
 * again in its new one, so the keys yielded are remembered, and when the layout changes under
 * the scan it starts again over the new one, skipping them.
 */
export function* scanEntries(h: Handle, values: boolean): IterableIterator<[string, unknown]> {
  h.enter();
  if (staleCopiesLikely(h)) removeStaleCopies(h);
  const seen = new Set<string>();
  let gen = h.layoutGen;
  for (let p = 0; p < h.pages.pageCount; p++) {
    h.enter();
    if (h.layoutGen !== gen) {
      gen = h.layoutGen;
      p = -1;
      continue;
    }
    const pages = h.pages;
    const now = h.clock();
    const batch = withPageLock(h, p, (s, b) => {
      const out: [string, number, string | Buffer | undefined][] = [];
      walkLog(pages, s, b, (a) => {
        if (!isLive(s, a) || isExpired(s, a, now)) return;
        out.push([keyOf(s, a), s.buf[a + I_TYPE_OFF], values ? valueOf(s, a) : undefined]);
      });
      return out;
    });
    for (const [k, type, raw] of batch) {
      if (seen.has(k)) continue;
      seen.add(k);
      yield [k, raw === undefined ? undefined : decode(type, raw, h.codec)];
    }
  }
}

/** The live entries of page `p` with their metadata (no values; not a use), read under its lock. */
export function inspectPageEntries(h: Handle, p: number): [string, EntryInfo][] {
  h.enter();
  const pages = h.pages;
  validateInt('page', p, 0, pages.pageCount - 1);
  const now = h.clock();
  return withPageLock(h, p, (s, b) => {
    const out: [string, EntryInfo][] = [];
    for (let si = 0; si < pages.slots; si++) {
      const off = slotOffset(s, b, si);
      if (off === 0) continue;
      const a = b + off;
      if (!isLive(s, a) || isExpired(s, a, now)) continue;
      out.push([keyOf(s, a), entryInfoAt(s, a, s.f64[tickIdx(b, si)])]);
    }
    return out;
  });
}

/** Removes every entry (reason 'cleared'); counters are kept. */
export function clearAll(h: Handle): void {
  h.enter();
  const pages = h.pages;
  for (let p = 0; p < pages.pageCount; p++) {
    withPageLock(h, p, (s, b) => changing(h, p, s, b, () => {
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
  h.hooks.maybeFlush();
}

/**
 * Removes the expired entries of `count` pages from `first` (wrapping around); returns how many.
 * A page a live process holds is skipped, unless `wait` (then its lock is waited for).
 */
export function purgeExpiredPages(h: Handle, first: number, count: number, wait = false): number {
  let n = 0;
  h.enter();
  const now = h.clock();
  const pages = h.pages;
  const pc = pages.pageCount;
  for (let i = 0; i < Math.min(count, pc); i++) {
    const p = (first + i) % pc;
    if (!wait && !lockIsFree(h, p)) continue;
    n += withPageLock(h, p, (s, b) => changing(h, p, s, b, () => expireAll(pages, p, s, b, now, -1)));
  }
  h.hooks.maybeFlush();
  return n;
}
