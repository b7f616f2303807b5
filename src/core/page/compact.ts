/**
 * Compaction: slides every live item of a page down over the dead ones. Its progress is
 * journaled in the page header (read and write positions; for the item being moved its source,
 * destination, length and bytes done), so a compaction cut short by a crash is finished by
 * whoever repairs the page: see docs/file-format.md, "Crash consistency".
 */
import { FAULTS, fault } from '../faults.js';
import type { Segment } from '../file.js';
import {
  ITEM_HEADER_SIZE, ITEM_LIVE, I_STATE_OFF, I_TICK_OFF, PAGE_HEADER_SIZE, P_COMPACT_IDX, P_C_DONE_IDX, P_C_DST_IDX,
  P_C_END_IDX, P_C_LEN_IDX, P_C_READ_IDX, P_C_SRC_IDX, P_C_WRITE_IDX, P_DEAD_BYTES_IDX, P_FREE_IDX,
} from '../layout.js';
import { rebuildSlots } from './log.js';
import { extentOf, type Pages } from './pages.js';
import { tickIdx } from './slots.js';

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
  u32[hIdx + P_COMPACT_IDX] = 0;
  return true;
}

/** Moves (or finishes moving) the item the journal names, in chunks no longer than the gap. */
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
    s.buf.copy(s.buf, b + dst + done, b + src + done, b + src + done + chunk);
    done += chunk;
    u32[hIdx + P_C_DONE_IDX] = done;
    if (FAULTS) fault('compact:move');
  }
  u32[hIdx + P_C_WRITE_IDX] = dst + len;
  u32[hIdx + P_C_READ_IDX] = src + len;
  u32[hIdx + P_C_LEN_IDX] = 0;
}
