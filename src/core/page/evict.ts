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
  FLAG_LIVE, ITEM_HEADER_SIZE, I_EXPIRES_OFF, I_FLAGS_OFF, I_HASH_OFF, I_LEN_OFF, I_PRIORITY_OFF, PAGE_HEADER_SIZE,
  P_COUNT_IDX, P_DEAD_BYTES_IDX, P_EVICTED_HIGH_IDX, P_EVICTED_LIVE_IDX, P_FREE_IDX, P_R_EVICTED_IDX,
} from '../layout.js';
import { compact } from './compact.js';
import { isExpired, isLive, removeEntry, removeItem, report, walkLog } from './log.js';
import { PageDamaged, type Pages } from './pages.js';
import { slotOfItem, tickIdx } from './slots.js';

/** Removes every expired live item except the one at `keep`; returns how many. */
export function expireAll(pg: Pages, page: number, s: Segment, b: number, now: number, keep: number): number {
  let n = 0;
  const stop = walkLog(pg, s, b, (a, off) => {
    if (off === keep || !isLive(s, a) || !isExpired(s, a, now)) return;
    const si = slotOfItem(pg, s, b, s.u32[(a + I_HASH_OFF) >> 2], off);
    if (si < 0) return;
    removeEntry(pg, page, s, b, si, off, 'expired');
    n++;
  });
  if (stop < s.u32[(b >> 2) + P_FREE_IDX]) throw new PageDamaged(page);
  return n;
}

/**
 * Evicts the least recently used live item (low priority first), never the one at `keep`.
 * Recency is the slot's access tick; a tick that is not a plain number (damage) counts as oldest.
 */
export function evictOne(pg: Pages, page: number, s: Segment, b: number, now: number, keep: number): boolean {
  const u32 = s.u32;
  const f64 = s.f64;
  const st = (b + PAGE_HEADER_SIZE) >> 2;
  const end = u32[(b >> 2) + P_FREE_IDX];
  let victim = -1;
  let vSlot = -1;
  let vPrio = 256;
  let vTick = Infinity;
  for (let i = 0; i <= pg.mask; i++) {
    const off = u32[st + (i << 2) + 1];
    if (off === 0 || off === keep) continue;
    if (off < pg.ds || off + ITEM_HEADER_SIZE > end) throw new PageDamaged(page);
    const a = b + off;
    if (u32[(a + I_FLAGS_OFF) >> 2] !== FLAG_LIVE) throw new PageDamaged(page);
    const prio = s.buf[a + I_PRIORITY_OFF];
    let tick = f64[tickIdx(b, i)];
    if (!(tick < Infinity)) tick = -Infinity;
    if (prio < vPrio || (prio === vPrio && tick < vTick)) {
      victim = off;
      vSlot = i;
      vPrio = prio;
      vTick = tick;
    }
  }
  if (victim < 0) return false;
  const a = b + victim;
  const exp = f64[(a + I_EXPIRES_OFF) >> 3];
  const left = exp === 0 ? Infinity : Math.max(0, exp - now);
  report(pg, s, a, page, 'evicted', left);
  if (FAULTS) {
    u32[(a + I_FLAGS_OFF) >> 2] = 0;
    fault('evict:partial');
  }
  removeItem(pg, s, b, vSlot, victim);
  f64[(b >> 3) + P_R_EVICTED_IDX]++;
  if (left > 0) f64[(b >> 3) + P_EVICTED_LIVE_IDX]++;
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
  const hIdx = b >> 2;
  const end = u32[hIdx + P_FREE_IDX];
  for (let off = pg.ds; off < end; ) {
    const a = b + off;
    let len = u32[(a + I_LEN_OFF) >> 2];
    if (len < 16) throw new PageDamaged(page);
    if (u32[(a + I_FLAGS_OFF) >> 2] !== FLAG_LIVE) {
      while (off + len < end && u32[(b + off + len + I_FLAGS_OFF) >> 2] !== FLAG_LIVE) {
        const next = u32[(b + off + len + I_LEN_OFF) >> 2];
        if (next < 16) throw new PageDamaged(page);
        len += next;
        u32[(a + I_LEN_OFF) >> 2] = len;
      }
      if (off + len >= end) {
        // A dead run at the end: shorten the log, then clear what it covered (magic first).
        u32[hIdx + P_FREE_IDX] = off;
        u32[hIdx + P_DEAD_BYTES_IDX] -= len;
        s.buf.fill(0, a, b + end);
        return false;
      }
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
      if (u32[hIdx + P_DEAD_BYTES_IDX] > 0 && findHole(pg, page, s, b, need)) {
        return pg.holeAt + pg.holeLen - need;
      }
      const tail = pg.pageSize - u32[hIdx + P_FREE_IDX];
      if (u32[hIdx + P_DEAD_BYTES_IDX] + tail >= need) {
        if (!compact(pg, s, b)) throw new PageDamaged(page);
        pg.holeAt = 0;
        return u32[hIdx + P_FREE_IDX];
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
  }
}
