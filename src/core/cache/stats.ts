/**
 * Counters. Each page keeps its counters in its header, shared by every process; locked
 * operations count there directly. Lock-free reads count in the handle (an atomic add per read
 * would cost a locked instruction on a shared cache line, about what the lock costs): their
 * counts reach the page's lock-free counters in batches, every 65,536 reads, every second (on
 * the next hit), on stats(), on close() and when the thread exits; lock holders then move them
 * into the page's counters (locking.ts, lock).
 */
import { EVICTED_TTL_BUCKETS, PAGE_MOVED, P_MOVED_IDX, P_COUNT_IDX, P_EVICTED_HIGH_IDX, P_EVICTED_TTL_IDX, P_EVICTED_LIVE_IDX, P_FAST_HITS_IDX, P_FAST_MISSES_IDX, P_HITS_IDX, P_LIVE_BYTES_IDX,
  P_LOCK_RECOVERIES_IDX, P_LOCK_WAITS_IDX, P_MISSES_IDX, P_REPAIRS_IDX, P_R_CLEARED_IDX, P_R_DELETED_IDX, P_R_EVICTED_IDX,
  P_R_EXPIRED_IDX, P_R_REPAIRED_IDX, P_SETS_IDX,
} from '../layout.js';
import { held } from '../lock.js';
import type { Pages } from '../page/pages.js';
import type { CacheStats, CounterStats, PageStats, ProcessStats } from '../types.js';
import type { Handle } from './handle.js';
import { withPageLock } from './locking.js';

/** Lock-free read counts reach the file after this many reads by a handle, or this many ms. */
const READ_COUNTS_BATCH = 65_536;
const READ_COUNTS_INTERVAL = 1_000;
/** A page's lock-free counters (u32) are moved into its f64 counters once past this. */
const READ_COUNTS_DRAIN = 0x40000000;

/** This thread's open handles: stats() adds every handle's pending read counts first, and so does exit. */
const openHandles = new Set<Handle>();
let exitHook = false;

/** Registers an open handle, so that its counts reach the file on stats() and at exit. */
export function trackReadCounts(h: Handle): void {
  openHandles.add(h);
  if (!exitHook) {
    exitHook = true;
    // A process that ends without closing its handles still adds its read counts to the file.
    process.once('exit', flushAllReadCounts);
  }
}

/** The handle closes: its counts go to the file, and it leaves the registry. */
export function untrackReadCounts(h: Handle): void {
  if (held.count === 0) flushReadCounts(h);
  openHandles.delete(h);
}

/** Adds every open handle's counts to the file (when this thread holds no lock). */
export function flushAllReadCounts(): void {
  for (const h of openHandles) if (!h.closed && held.count === 0) flushReadCounts(h);
}

/** A lock-free hit on page `p` at `now`. */
export function countHit(h: Handle, p: number, now: number): void {
  h.readHits[p]++;
  if (++h.readCounts >= READ_COUNTS_BATCH || now >= h.readCountsDue) flushReadCounts(h);
}

/** A lock-free miss on page `p`. */
export function countMiss(h: Handle, p: number): void {
  h.readMisses[p]++;
  if (++h.readCounts >= READ_COUNTS_BATCH) flushReadCounts(h);
}

/** Adds the handle's counts to the pages' lock-free counters (no lock held by this thread). */
export function flushReadCounts(h: Handle): void {
  h.readCountsDue = h.clock() + READ_COUNTS_INTERVAL;
  if (h.readCounts === 0) return;
  h.readCounts = 0;
  const pages = h.pages;
  const hits = h.readHits;
  const misses = h.readMisses;
  for (let p = 0; p < hits.length; p++) {
    if (hits[p] === 0 && misses[p] === 0) continue;
    const s = pages.segs[pages.segOf[p]];
    const idx = (pages.baseOf[p] >> 2) + P_FAST_HITS_IDX;
    let top = 0;
    if (hits[p] !== 0) top = Atomics.add(s.i32, idx, hits[p]) >>> 0;
    if (misses[p] !== 0) top = Math.max(top, Atomics.add(s.i32, idx + 1, misses[p]) >>> 0);
    hits[p] = 0;
    misses[p] = 0;
    // The lock holder moves these counts into the page's counters; well before they could wrap,
    // take the lock for that.
    if (top >= READ_COUNTS_DRAIN && held.count === 0 && !h.closed) withPageLock(h, p, () => undefined, false);
  }
}

/** The counters of every page and their totals, and the attached processes, read without locks. */
export function collectStats(pages: Pages, fileSize: number, maxItemBytes: number, processes: ProcessStats): Omit<CacheStats, 'resize'> {
  const per: PageStats[] = [];
  const total = emptyCounters();
  for (let p = 0; p < pages.pageCount; p++) {
    const s = pages.segs[pages.segOf[p]];
    const b = pages.baseOf[p];
    const f = b >> 3;
    const live = s.u32[(b >> 2) + P_LIVE_BYTES_IDX];
    const st: PageStats = {
      page: p,
      entries: s.u32[(b >> 2) + P_COUNT_IDX],
      bytesUsed: live,
      // A page a resize moved holds nothing and takes nothing: its room is the new layout's.
      bytesFree: s.u32[(b >> 2) + P_MOVED_IDX] === PAGE_MOVED ? 0 : pages.pageSize - pages.ds - live,
      hits: s.f64[f + P_HITS_IDX] + (Atomics.load(s.i32, (b >> 2) + P_FAST_HITS_IDX) >>> 0),
      misses: s.f64[f + P_MISSES_IDX] + (Atomics.load(s.i32, (b >> 2) + P_FAST_MISSES_IDX) >>> 0),
      sets: s.f64[f + P_SETS_IDX],
      removals: {
        expired: s.f64[f + P_R_EXPIRED_IDX],
        evicted: s.f64[f + P_R_EVICTED_IDX],
        deleted: s.f64[f + P_R_DELETED_IDX],
        cleared: s.f64[f + P_R_CLEARED_IDX],
        repaired: s.f64[f + P_R_REPAIRED_IDX],
      },
      evictedLive: s.f64[f + P_EVICTED_LIVE_IDX],
      evictedHigh: s.f64[f + P_EVICTED_HIGH_IDX],
      lockRecoveries: s.f64[f + P_LOCK_RECOVERIES_IDX],
      lockWaits: s.f64[f + P_LOCK_WAITS_IDX],
      repairs: s.f64[f + P_REPAIRS_IDX],
      evictedLiveTtl: Array.from(s.u32.subarray((b >> 2) + P_EVICTED_TTL_IDX, (b >> 2) + P_EVICTED_TTL_IDX + EVICTED_TTL_BUCKETS)),
    };
    per.push(st);
    addCounters(total, st);
  }
  return { ...total, pageCount: pages.pageCount, pageSize: pages.pageSize, fileSize, maxItemBytes, pages: per, processes };
}

function emptyCounters(): CounterStats {
  return {
    entries: 0, bytesUsed: 0, bytesFree: 0, hits: 0, misses: 0, sets: 0,
    removals: { expired: 0, evicted: 0, deleted: 0, cleared: 0, repaired: 0 },
    evictedLive: 0, evictedHigh: 0, lockRecoveries: 0, lockWaits: 0, repairs: 0,
    evictedLiveTtl: new Array<number>(EVICTED_TTL_BUCKETS).fill(0),
  };
}

function addCounters(t: CounterStats, s: PageStats): void {
  t.entries += s.entries; t.bytesUsed += s.bytesUsed; t.bytesFree += s.bytesFree;
  t.hits += s.hits; t.misses += s.misses; t.sets += s.sets;
  for (const k of Object.keys(t.removals) as (keyof typeof t.removals)[]) t.removals[k] += s.removals[k];
  t.evictedLive += s.evictedLive; t.evictedHigh += s.evictedHigh; t.lockRecoveries += s.lockRecoveries; t.lockWaits += s.lockWaits; t.repairs += s.repairs;
  for (let i = 0; i < EVICTED_TTL_BUCKETS; i++) t.evictedLiveTtl[i] += s.evictedLiveTtl[i];
}
