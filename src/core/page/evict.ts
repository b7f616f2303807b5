/**
 * Making room in a page for a new item: the free tail, then a hole of dead items, then
 * compaction when the dead bytes would do; failing those, the page's expired items go, then
 * the least recently used live ones (low priority first), one at a time, never more than the
 * new item needs and never the key's own old value.
 */
import { sessmapError } from '../../errors.js';
import { FAULTS, fault } from '../faults.js';
import type { Segment } from '../file.js';
import {
  ITEM_DEAD, ITEM_HEADER_SIZE, ITEM_LIVE, I_EXPIRES_OFF, I_HASH_OFF, I_LEN_OFF, I_PRIORITY_OFF, I_STATE_OFF,
  P_COUNT_IDX, P_DEAD_BYTES_IDX, P_EVICTED_HIGH_IDX, P_EVICTED_TTL_IDX, P_LIVE_BYTES_IDX, P_EVICTED_LIVE_IDX, P_FIRST_DEAD_IDX, P_FREE_IDX, P_HOLE_HINT_IDX, P_NEXT_EXPIRY_IDX, P_R_EVICTED_IDX,
  evictedTtlBucket,
} from '../layout.js';
import { compact, gather } from './compact.js';
import { isExpired, isLive, removeEntry, removeItem, report, walkLog } from './log.js';
import { extentOf, PageDamaged, type Pages } from './pages.js';
import { slotOfItem, slotOffset } from './slots.js';

/**
 * Removes every expired live item except the one at `keep`; returns how many. Nothing is walked
 * while the page's next-expiry bound is still ahead (a full page of live sessions pays nothing
 * here); a walk sets the bound to the earliest deadline it leaves.
 */
export function expireAll(pg: Pages, page: number, s: Segment, b: number, now: number, keep: number): number {
  const ni = (b >> 3) + P_NEXT_EXPIRY_IDX;
  if (now < s.f64[ni]) return 0;
  let n = 0;
  let next = Infinity;
  const f64 = s.f64;
  const stop = walkLog(pg, s, b, (a, off) => {
    if (!isLive(s, a)) return;
    const exp = f64[(a + I_EXPIRES_OFF) >> 3];
    if (off === keep || !isExpired(s, a, now)) {
      if (exp > 0 && exp < next) next = exp;
      return;
    }
    const si = slotOfItem(pg, s, b, s.u32[(a + I_HASH_OFF) >> 2], off);
    if (si < 0) return;
    removeEntry(pg, page, s, b, si, off, 'expired');
    n++;
  });
  if (stop < s.u32[(b >> 2) + P_FREE_IDX]) throw new PageDamaged(page);
  f64[ni] = next;
  return n;
}

/**
 * Evicts the least recently used live item (low priority first), never the one at `keep`.
 * Recency is the slot's access tick; a tick that is not a plain number (damage) counts as oldest.
 */
export function evictOne(pg: Pages, page: number, s: Segment, b: number, now: number, keep: number): boolean {
  const u32 = s.u32;
  const f64 = s.f64;
  // The best victim, from this handle's pool for the page (victims.ts: exact, without a scan per eviction).
  const vSlot = pg.victims.next(pg, page, s, b, keep);
  if (vSlot < 0) return false;
  const victim = slotOffset(s, b, vSlot);
  if (victim < pg.ds || victim + ITEM_HEADER_SIZE > u32[(b >> 2) + P_FREE_IDX] || u32[(b + victim + I_STATE_OFF) >> 2] !== ITEM_LIVE) throw new PageDamaged(page);
  const vPrio = s.buf[b + victim + I_PRIORITY_OFF];
  pg.victimAt = victim;
  const a = b + victim;
  const exp = f64[(a + I_EXPIRES_OFF) >> 3];
  const left = exp === 0 ? Infinity : Math.max(0, exp - now);
  report(pg, s, a, page, 'evicted', left);
  if (FAULTS) {
    u32[(a + I_STATE_OFF) >> 2] = ITEM_DEAD;
    fault('evict:partial');
  }
  removeItem(pg, s, b, vSlot, victim);
  f64[(b >> 3) + P_R_EVICTED_IDX]++;
  if (left > 0) {
    // The live count first: the histogram's sum never exceeds it, even if this process dies here.
    f64[(b >> 3) + P_EVICTED_LIVE_IDX]++;
    u32[(b >> 2) + P_EVICTED_TTL_IDX + evictedTtlBucket(left)]++;
  }
  if (left > 0 && vPrio === 2) f64[(b >> 3) + P_EVICTED_HIGH_IDX]++;
  return true;
}

/**
 * Finds a run of dead items at least `need` bytes long, merging neighbouring dead items as
 * it walks (one length store each, so the log stays walkable) and giving a dead run at the
 * end of the log back to the free tail. Sets holeAt/holeLen; returns false when none fits.
 */
export function findHole(pg: Pages, page: number, s: Segment, b: number, need: number): boolean {
  const u32 = s.u32;
  const end = u32[(b >> 2) + P_FREE_IDX];
  for (let off = pg.ds; off < end; ) {
    const a = b + off;
    let len = extentOf(s, a);
    if (len < 8) throw new PageDamaged(page);
    if (u32[(a + I_STATE_OFF) >> 2] !== ITEM_LIVE) {
      len = mergeDead(page, s, b, off, end);
      if (len < 0) return false;
      if (len >= need) {
        pg.holeAt = off;
        pg.holeLen = len;
        return true;
      }
    }
    off += len;
  }
  return false;
}

/**
 * Merges the dead item at `off` with the dead items after it (one length store each, so the
 * log stays walkable); a run that reaches the log end is given back to the free tail (-1).
 * Returns the run's length.
 */
function mergeDead(page: number, s: Segment, b: number, off: number, end: number): number {
  const u32 = s.u32;
  const a = b + off;
  const hIdx = b >> 2;
  let len = extentOf(s, a);
  while (off + len < end && u32[(b + off + len + I_STATE_OFF) >> 2] !== ITEM_LIVE) {
    const next = extentOf(s, b + off + len);
    if (next < 8) throw new PageDamaged(page);
    // The hint must stay an item boundary: one merged into this run is no longer.
    if (u32[hIdx + P_HOLE_HINT_IDX] === off + len) u32[hIdx + P_HOLE_HINT_IDX] = 0;
    len += next;
    u32[(a + I_LEN_OFF) >> 2] = len;
  }
  if (off + len >= end) {
    // A dead run at the end: shorten the log, then clear what it covered (state word first).
    if (u32[hIdx + P_HOLE_HINT_IDX] >= off) u32[hIdx + P_HOLE_HINT_IDX] = 0;
    if (u32[hIdx + P_FIRST_DEAD_IDX] > off) u32[hIdx + P_FIRST_DEAD_IDX] = off;
    u32[hIdx + P_FREE_IDX] = off;
    u32[hIdx + P_DEAD_BYTES_IDX] -= len;
    s.buf.fill(0, a, b + end);
    return -1;
  }
  return len;
}

/** The room the last victim left, with the dead items after it, when it holds `need` bytes (holeAt/holeLen set). */
function victimHole(pg: Pages, page: number, s: Segment, b: number, need: number): boolean {
  return holeAt(pg, page, s, b, pg.victimAt, need);
}

/** The room the item that died last left (the page's hole hint), when it holds `need` bytes. */
function hintedHole(pg: Pages, page: number, s: Segment, b: number, need: number): boolean {
  const u32 = s.u32;
  const off = u32[(b >> 2) + P_HOLE_HINT_IDX];
  if (off < pg.ds || (off & 7) !== 0 || off + 8 > u32[(b >> 2) + P_FREE_IDX]) return false;
  if (u32[(b + off + I_STATE_OFF) >> 2] !== ITEM_DEAD) return false;
  return holeAt(pg, page, s, b, off, need);
}

/** The dead item at `off` (an item boundary) with the dead items after it, when they hold `need` bytes. */
function holeAt(pg: Pages, page: number, s: Segment, b: number, off: number, need: number): boolean {
  const len = mergeDead(page, s, b, off, s.u32[(b >> 2) + P_FREE_IDX]);
  if (len < need) return false;
  pg.holeAt = off;
  pg.holeLen = len;
  return true;
}

/**
 * Free room below which a page counts as nearly full (a sixteenth of the page): there it gathers
 * room for a write rather than compacting the whole page, which would free room for few.
 */
function compactionFloor(pg: Pages): number {
  return pg.pageSize >> 4;
}

/**
 * Makes room for an item of `need` bytes (and a slot when `newKey`): the free tail, then a
 * hole, then compaction when the dead bytes would do, after removing expired items, then
 * evicting the least recently used, one at a time. Returns the offset to write at; sets
 * holeAt (0 when writing at the tail). The item at `keep` (the key's old value) stays.
 */
export function place(pg: Pages, page: number, s: Segment, b: number, need: number, newKey: boolean, keep: number, now: number): number {
  const u32 = s.u32;
  const hIdx = b >> 2;
  let expired = false;
  for (;;) {
    const slotOk = !newKey || u32[hIdx + P_COUNT_IDX] < pg.maxItems;
    if (slotOk) {
      const free = u32[hIdx + P_FREE_IDX];
      if (pg.pageSize - free >= need) {
        pg.holeAt = 0;
        return free;
      }
      // A walk for a hole only when the dead bytes could hold the item, and have grown by as
      // much since this handle's last walk of the page found none (a full page's fragments
      // would have it walk the log on every write).
      const dead = u32[hIdx + P_DEAD_BYTES_IDX];
      if (dead >= need && hintedHole(pg, page, s, b, need)) return pg.holeAt + pg.holeLen - need;
      const walked = pg.walkedDead;
      if (dead < walked[page]) walked[page] = 0;
      const nearlyFull = u32[hIdx + P_LIVE_BYTES_IDX] + need + compactionFloor(pg) > pg.pageSize - pg.ds;
      if (!nearlyFull && dead >= need && dead >= walked[page] + need) {
        if (findHole(pg, page, s, b, need)) return pg.holeAt + pg.holeLen - need;
        walked[page] = u32[hIdx + P_DEAD_BYTES_IDX];
      }
      const tail = pg.pageSize - u32[hIdx + P_FREE_IDX];
      // Room enough in all, though not in one piece: compact the page, which frees room for
      // many writes. Except in a page within a sixteenth of full of live items (a full cache's
      // steady state): there a compaction would free little and move the whole page on nearly
      // every write, so room for this write only is gathered, moving what lies between the first
      // dead items, and nothing is evicted while the dead bytes and the tail hold the item.
      const dead2 = u32[hIdx + P_DEAD_BYTES_IDX];
      if (dead2 + tail >= need) {
        const at = nearlyFull ? gather(pg, page, s, b, need) : -1;
        return at >= 0 ? at : compactFor(pg, page, s, b);
      }
    }
    if (!expired) {
      expired = true;
      if (expireAll(pg, page, s, b, now, keep) > 0) continue;
    }
    if (pg.policy === 'none') {
      throw sessmapError('SESSMAP_ERR_CACHE_FULL', `page ${page} is full of live entries and the eviction policy is 'none'`, { page, need });
    }
    if (!evictOne(pg, page, s, b, now, keep)) {
      throw sessmapError('SESSMAP_ERR_CACHE_FULL', `page ${page} cannot make ${need} bytes of room`, { page, need });
    }
    // The victim's own room (with the dead items after it) most often holds the new item: no walk.
    if ((!newKey || u32[hIdx + P_COUNT_IDX] < pg.maxItems) && victimHole(pg, page, s, b, need)) {
      return pg.holeAt + pg.holeLen - need;
    }
  }
}

function compactFor(pg: Pages, page: number, s: Segment, b: number): number {
  if (!compact(pg, s, b)) throw new PageDamaged(page);
  pg.holeAt = 0;
  return s.u32[(b >> 2) + P_FREE_IDX];
}
