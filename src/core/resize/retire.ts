/**
 * What a resize leaves behind: a moved page's counters go to a page of the new layout (so the
 * file's totals, stats() and the metrics built on them, never go down), and the run of pages the
 * old layout took is released once no handle can still be inside an operation there.
 *
 * Release: the old run's memory (on tmpfs) or blocks are given back with MADV_REMOVE, which
 * punches a hole in the file under the mapping: the file keeps its length (a process that has
 * not followed the new layout yet maps it, and a mapping past a file's end is SIGBUS), and its
 * bytes read as zeros. Only after the grace period: every operation checks the layout at its
 * start and again once it holds a page's lock, so what could still touch the old run is an
 * operation begun before the resize finished, and none lasts that long (a lock wait ends at
 * lockTimeout). The next resize that puts pages there allocates them again (resize.ts, begin).
 */
import type { Handle } from '../cache/handle.js';
import { lock, unlock } from '../cache/locking.js';
import type { Segment } from '../file.js';
import { EVICTED_TTL_BUCKETS, P_EVICTED_HIGH_IDX, P_EVICTED_TTL_IDX, P_REPAIRS_IDX } from '../layout.js';
import { loadBinding } from '../native.js';
import type { ResizeProgress } from '../types.js';

/** madvise(2): free the range and its backing store (a hole punched in the file). */
const MADV_REMOVE = 9;

type Advise = (buffer: Buffer, offset: number, length: number, advice: number) => void;

/**
 * Adds the counters of moved page `p` (old layout, locked, at `s`/`b`) to a page of the new
 * layout, then zeroes them. A resizer killed between the two counts that page's figures twice
 * in the totals; never fewer.
 */
export function transferCounters(h: Handle, p: number, s: Segment, b: number): void {
  const pages = h.pages;
  const t = pages.count + (p % pages.toCount);
  const ts = pages.segs[pages.segOf[t]];
  const tb = pages.baseOf[t];
  lock(h, t, ts, tb);
  try {
    for (let i = P_EVICTED_HIGH_IDX; i <= P_REPAIRS_IDX; i++) ts.f64[(tb >> 3) + i] += s.f64[(b >> 3) + i];
    for (let i = 0; i < EVICTED_TTL_BUCKETS; i++) ts.u32[(tb >> 2) + P_EVICTED_TTL_IDX + i] += s.u32[(b >> 2) + P_EVICTED_TTL_IDX + i];
  } finally {
    unlock(ts, tb);
  }
  for (let i = P_EVICTED_HIGH_IDX; i <= P_REPAIRS_IDX; i++) s.f64[(b >> 3) + i] = 0;
  s.u32.fill(0, (b >> 2) + P_EVICTED_TTL_IDX, (b >> 2) + P_EVICTED_TTL_IDX + EVICTED_TTL_BUCKETS);
}

/**
 * Releases the run the last resize retired (the part the current layout does not use), once
 * `grace` ms have passed since it was retired; returns the bytes released (0 where the
 * filesystem or the kernel cannot punch holes: the run then stays allocated, and is reused).
 */
export async function releaseRun(h: Handle, grace: number, progress: ((p: ResizeProgress) => void) | undefined): Promise<number> {
  h.enter();
  const l = h.layout;
  if (l.moving || l.retiredCount === 0) return 0;
  const wait = l.retiredAt + grace - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  h.enter();
  const advise = (loadBinding() as { advise?: Advise }).advise;
  if (typeof advise !== 'function') return 0;
  const pageSize = h.pages.pageSize;
  const inUse = (slot: number): boolean => slot >= h.layout.first && slot < h.layout.first + h.layout.count;
  let released = 0;
  const total = l.retiredCount;
  for (let i = 0; i < total; i++) {
    const slot = l.retiredFirst + i;
    if (inUse(slot)) continue;
    const plan = h.att.plans.findIndex((pl) => slot >= pl.firstPage && slot < pl.firstPage + pl.pageCount);
    if (plan < 0) continue;
    try {
      advise(h.att.segments[plan].buf, (slot - h.att.plans[plan].firstPage) * pageSize, pageSize, MADV_REMOVE);
    } catch {
      return released; // no hole punching here: the run stays allocated
    }
    released += pageSize;
    progress?.({ phase: 'releasing', done: i + 1, total });
  }
  return released;
}
