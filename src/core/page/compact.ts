/**
 * Compaction: slides live items of a page down over the dead ones, the whole page (compact) or
 * only as far as it takes to gather room for one item (gather, for a full page). Its progress is
 * journaled in the page header (read and write positions; for the run of items being moved its
 * source, destination, length and bytes done), so a compaction cut short by a crash is finished
 * (over the whole page) by whoever repairs the page: see docs/file-format.md, "Crash consistency".
 */
import { FAULTS, fault } from '../faults.js';
import type { Segment } from '../file.js';
import {
  ITEM_DEAD, ITEM_HEADER_SIZE, ITEM_LIVE, I_HASH_OFF, I_LEN_OFF, I_STATE_OFF, I_TICK_OFF, PAGE_HEADER_SIZE, P_COMPACT_IDX,
  P_C_DONE_IDX, P_C_DST_IDX, P_C_END_IDX, P_C_LEN_IDX, P_C_READ_IDX, P_C_SRC_IDX, P_C_WRITE_IDX, P_DEAD_BYTES_IDX, P_FREE_IDX,
  P_FIRST_DEAD_IDX, P_HOLE_HINT_IDX,
} from '../layout.js';
import { rebuildSlots } from './log.js';
import { extentOf, PageDamaged, type Pages } from './pages.js';
import { setSlotOffset, slotOfItem, tickIdx } from './slots.js';

/** Slides every live item down over the dead ones. Resumable: see resumeCompaction. */
export function compact(pg: Pages, s: Segment, b: number): boolean {
  const u32 = s.u32;
  const hIdx = b >> 2;
  saveTicks(pg, s, b);
  u32[hIdx + P_C_LEN_IDX] = 0;
  u32[hIdx + P_C_READ_IDX] = pg.ds;
  u32[hIdx + P_C_WRITE_IDX] = pg.ds;
  u32[hIdx + P_C_END_IDX] = u32[hIdx + P_FREE_IDX];
  u32[hIdx + P_COMPACT_IDX] = 1;
  return resumeCompaction(pg, s, b);
}

/**
 * Gathers room for `need` bytes in one piece in page `page` (lock held, page mid-change): from
 * the first dead item (looked for from the page's first-dead bound) on, slides the live items down over the dead ones, a run of adjacent live
 * items at a time, and stops as soon as the room behind them holds `need` bytes. The room becomes
 * one dead item (holeAt / holeLen set), or, when the slide reached the log's end, the free tail
 * (holeAt 0). Each moved item's slot is pointed at its new place, so its access tick stays where
 * it is and nothing else in the page is read or written: the cost is the bytes moved, not the
 * page. Journaled as a compaction of the whole page: a crash mid-way leaves one that repair
 * finishes (rebuilding the slot table from the items, whose ticks are then those of their last
 * write). Returns the offset to write at (the end of the room), or -1 when the dead items and
 * the tail do not hold `need` bytes.
 */
export function gather(pg: Pages, page: number, s: Segment, b: number, need: number): number {
  const u32 = s.u32;
  const hIdx = b >> 2;
  const end = u32[hIdx + P_FREE_IDX];
  let r = Math.max(pg.ds, u32[hIdx + P_FIRST_DEAD_IDX]);
  if ((r & 7) !== 0) throw new PageDamaged(page);
  // Up to the first dead item nothing moves.
  for (;;) {
    if (r >= end) {
      u32[hIdx + P_FIRST_DEAD_IDX] = end;
      return -1;
    }
    const len = extentOf(s, b + r);
    if (len < 8 || r + len > end) throw new PageDamaged(page);
    if (u32[(b + r + I_STATE_OFF) >> 2] !== ITEM_LIVE) break;
    r += len;
  }
  const first = r;
  let w = r;
  u32[hIdx + P_C_LEN_IDX] = 0;
  u32[hIdx + P_C_READ_IDX] = r;
  u32[hIdx + P_C_WRITE_IDX] = w;
  u32[hIdx + P_C_END_IDX] = end;
  u32[hIdx + P_COMPACT_IDX] = 1;
  let moved = 0;
  while (r < end && r - w < need) {
    const len = extentOf(s, b + r);
    if (len < 8 || r + len > end) throw new PageDamaged(page);
    if (u32[(b + r + I_STATE_OFF) >> 2] !== ITEM_LIVE) {
      r += len;
      u32[hIdx + P_C_READ_IDX] = r;
      continue;
    }
    // The run of live items from r: moved as one, in chunks no longer than the gap.
    let e = r + len;
    while (e < end && u32[(b + e + I_STATE_OFF) >> 2] === ITEM_LIVE) {
      const l2 = extentOf(s, b + e);
      if (l2 < 8 || e + l2 > end) throw new PageDamaged(page);
      e += l2;
    }
    u32[hIdx + P_C_SRC_IDX] = r;
    u32[hIdx + P_C_DST_IDX] = w;
    u32[hIdx + P_C_DONE_IDX] = 0;
    u32[hIdx + P_C_LEN_IDX] = e - r;
    finishMove(s, b);
    if (FAULTS && ++moved === 2) fault('compact:unfinished');
    repoint(pg, page, s, b, w, e - r, r - w);
    w += e - r;
    r = e;
  }
  const hint = u32[hIdx + P_HOLE_HINT_IDX];
  if (hint >= first && hint < r) u32[hIdx + P_HOLE_HINT_IDX] = 0;
  if (r >= end) {
    // The slide reached the log's end: the room is the free tail.
    s.buf.fill(0, b + w, b + end);
    u32[hIdx + P_FREE_IDX] = w;
    u32[hIdx + P_DEAD_BYTES_IDX] -= end - w;
    u32[hIdx + P_FIRST_DEAD_IDX] = w;
    u32[hIdx + P_COMPACT_IDX] = 0;
    pg.holeAt = 0;
    return pg.pageSize - w >= need ? w : -1;
  }
  // One dead item over the room (its bytes were counted dead already).
  u32[(b + w + I_LEN_OFF) >> 2] = r - w;
  u32[(b + w + I_STATE_OFF) >> 2] = ITEM_DEAD;
  u32[hIdx + P_FIRST_DEAD_IDX] = w;
  u32[hIdx + P_COMPACT_IDX] = 0;
  pg.holeAt = w;
  pg.holeLen = r - w;
  return r - need;
}

/** Points the slots of the items moved to [at, at + len) (from `shift` bytes higher) at their new places. */
function repoint(pg: Pages, page: number, s: Segment, b: number, at: number, len: number, shift: number): void {
  const u32 = s.u32;
  for (let q = at; q < at + len; ) {
    const si = slotOfItem(pg, s, b, u32[(b + q + I_HASH_OFF) >> 2], q + shift);
    if (si < 0) throw new PageDamaged(page);
    setSlotOffset(s, b, si, q);
    q += extentOf(s, b + q);
  }
}

/**
 * Copies each slot's access tick into its item's header, where the items carry it through a
 * compaction (which rebuilds the slot table from the log). Ticks that are not plain
 * non-negative integers (damage) become 0, the oldest.
 */
function saveTicks(pg: Pages, s: Segment, b: number): void {
  const u32 = s.u32;
  const f64 = s.f64;
  const st = (b + PAGE_HEADER_SIZE) >> 2;
  const end = u32[(b >> 2) + P_FREE_IDX];
  for (let i = 0; i < pg.slots; i++) {
    const off = u32[st + (i << 2) + 1];
    if (off < pg.ds || off + ITEM_HEADER_SIZE > end || (off & 7) !== 0) continue;
    const t = f64[tickIdx(b, i)];
    f64[(b + off + I_TICK_OFF) >> 3] = Number.isSafeInteger(t) && t >= 0 ? t : 0;
  }
}

/**
 * Runs (or finishes, after a crash) a compaction from the journal in the page header. An item
 * is moved in chunks no longer than the gap between source and destination, recording the
 * bytes done after each, so the not-yet-copied part of the source is never overwritten and
 * a move cut short is redone from where it stopped.
 */
export function resumeCompaction(pg: Pages, s: Segment, b: number): boolean {
  const u32 = s.u32;
  const hIdx = b >> 2;
  if (u32[hIdx + P_C_LEN_IDX] !== 0) finishMove(s, b);
  const end = u32[hIdx + P_C_END_IDX];
  let r = u32[hIdx + P_C_READ_IDX];
  let w = u32[hIdx + P_C_WRITE_IDX];
  let moved = 0;
  while (r < end) {
    const len = extentOf(s, b + r);
    if (len < 8 || r + len > end) return false;
    if (u32[(b + r + I_STATE_OFF) >> 2] === ITEM_LIVE) {
      if (r !== w) {
        u32[hIdx + P_C_SRC_IDX] = r;
        u32[hIdx + P_C_DST_IDX] = w;
        u32[hIdx + P_C_DONE_IDX] = 0;
        u32[hIdx + P_C_LEN_IDX] = len;
        finishMove(s, b);
        if (FAULTS && ++moved === 2) fault('compact:unfinished');
      }
      w += len;
    }
    r += len;
    u32[hIdx + P_C_WRITE_IDX] = w;
    u32[hIdx + P_C_READ_IDX] = r;
  }
  if (end > w) s.buf.fill(0, b + w, b + end);
  u32[hIdx + P_FREE_IDX] = w;
  u32[hIdx + P_DEAD_BYTES_IDX] = 0;
  rebuildSlots(pg, s, b);
  // No dead item is left: the first one will be at the log end or above.
  u32[hIdx + P_FIRST_DEAD_IDX] = w;
  u32[hIdx + P_COMPACT_IDX] = 0;
  return true;
}

/** Moves (or finishes moving) the run of items the journal names, in chunks no longer than the gap. */
function finishMove(s: Segment, b: number): void {
  const u32 = s.u32;
  const hIdx = b >> 2;
  const src = u32[hIdx + P_C_SRC_IDX];
  const dst = u32[hIdx + P_C_DST_IDX];
  const len = u32[hIdx + P_C_LEN_IDX];
  const gap = src - dst;
  let done = u32[hIdx + P_C_DONE_IDX];
  while (done < len) {
    const chunk = Math.min(gap, len - done);
    s.buf.copyWithin(b + dst + done, b + src + done, b + src + done + chunk);
    done += chunk;
    u32[hIdx + P_C_DONE_IDX] = done;
    if (FAULTS) fault('compact:move');
  }
  u32[hIdx + P_C_WRITE_IDX] = dst + len;
  u32[hIdx + P_C_READ_IDX] = src + len;
  u32[hIdx + P_C_LEN_IDX] = 0;
}
