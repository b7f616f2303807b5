/**
 * The item log of a page: items laid end to end from dataStart to the log end, each 8-byte
 * aligned and carrying its own length, live or dead (docs/file-format.md, "Item"). Here: the one
 * walk of the log that scans, purges, compaction, validation and repair share; reading an item's
 * key and value; removing one (and reporting it); rebuilding the slot table from the log.
 * Writing one is write.ts.
 */
import type { Segment } from '../file.js';
import {
  ITEM_DEAD, ITEM_HEADER_SIZE, ITEM_LIVE, I_EXPIRES_OFF, I_HASH_OFF, I_KEY_LEN_OFF, I_LEN_OFF, I_STATE_OFF, I_TICK_OFF, I_TYPE_OFF,
  PAGE_HEADER_SIZE, P_COMPACT_IDX, P_COUNT_IDX, P_C_LEN_IDX, P_DEAD_BYTES_IDX, P_FREE_IDX, P_LIVE_BYTES_IDX,
  P_R_CLEARED_IDX, P_R_DELETED_IDX, P_R_EXPIRED_IDX, beginChange, endChange, P_FIRST_DEAD_IDX, P_HOLE_HINT_IDX, P_LAYOUT_EPOCH_IDX, P_NEXT_EXPIRY_IDX,
} from '../layout.js';
import { copyOut } from '../serializer.js';
import type { RemovalReason } from '../types.js';
import { extentOf, type Pages } from './pages.js';
import { clearSlots, insertSlot, removeSlot } from './slots.js';

/**
 * Called for each item of a walk with its address, page offset and the bytes of the log it
 * takes (its length, aligned). Returning false stops the walk there.
 */
export type ItemVisitor = (a: number, off: number, len: number) => boolean | void;

/**
 * Walks the item log of page `b`, from dataStart to the log end, item by item (live and dead).
 * Stops at a length that cannot be (under 8 bytes: the walk would never end) or where `visit`
 * returns false, and returns the offset it stopped at: the log end (or past it, when the last
 * length overran it) after a whole walk. Compaction's mover walks on its own: it resumes from a
 * journaled position, not from the log's start.
 */
export function walkLog(pg: Pages, s: Segment, b: number, visit: ItemVisitor): number {
  const u32 = s.u32;
  const end = u32[(b >> 2) + P_FREE_IDX];
  let off = pg.ds;
  while (off < end) {
    const len = (u32[(b + off + I_LEN_OFF) >> 2] + 7) & ~7;
    if (len < 8 || visit(b + off, off, len) === false) return off;
    off += len;
  }
  return off;
}

/** Whether the item at `a` is live. */
export function isLive(s: Segment, a: number): boolean {
  return s.u32[(a + I_STATE_OFF) >> 2] === ITEM_LIVE;
}

/** Bytes of the value of the live item at `a`: its length less the header and the key. */
export function valueLength(s: Segment, a: number): number {
  return s.u32[(a + I_LEN_OFF) >> 2] - ITEM_HEADER_SIZE - s.u16[(a + I_KEY_LEN_OFF) >> 1];
}

/** Whether the item at `a` is live with an expiry at or before `now`. */
export function isExpired(s: Segment, a: number, now: number): boolean {
  const exp = s.f64[(a + I_EXPIRES_OFF) >> 3];
  return exp !== 0 && exp <= now;
}

export function keyOf(s: Segment, a: number): string {
  const klen = s.u16[(a + I_KEY_LEN_OFF) >> 1];
  return s.buf.toString('utf8', a + ITEM_HEADER_SIZE, a + ITEM_HEADER_SIZE + klen);
}

/** The value bytes of the item at `a` as copyOut gives them (JSON text, or a private copy). */
export function valueOf(s: Segment, a: number): string | Buffer {
  const type = s.buf[a + I_TYPE_OFF];
  const start = a + ITEM_HEADER_SIZE + s.u16[(a + I_KEY_LEN_OFF) >> 1];
  return copyOut(s.buf, type, start, a + s.u32[(a + I_LEN_OFF) >> 2]);
}

/** Records a removal for the hook (when one listens). */
export function report(pg: Pages, s: Segment, a: number, page: number, reason: RemovalReason, ttlLeft: number | undefined): void {
  if (pg.sink === null) return;
  const exp = s.f64[(a + I_EXPIRES_OFF) >> 3];
  let type = 0;
  let raw: string | Buffer | undefined;
  if (pg.captureValues) {
    type = s.buf[a + I_TYPE_OFF];
    raw = valueOf(s, a);
  }
  pg.sink.push({ key: keyOf(s, a), reason, page, ttlLeft, expiresAt: exp === 0 ? Infinity : exp, type, raw });
}

/** Marks an item dead and drops it from the slot table and the counts. */
export function removeItem(pg: Pages, s: Segment, b: number, si: number, off: number): void {
  const a = b + off;
  const len = extentOf(s, a);
  const h = b >> 2;
  s.u32[(a + I_STATE_OFF) >> 2] = ITEM_DEAD;
  s.u32[h + P_HOLE_HINT_IDX] = off;
  noteDead(s, b, off);
  removeSlot(pg, s, b, si);
  s.u32[h + P_COUNT_IDX]--;
  s.u32[h + P_LIVE_BYTES_IDX] -= len;
  s.u32[h + P_DEAD_BYTES_IDX] += len;
}

/** The page counter of removals for each reason an entry leaves by itself or by a call. */
const REMOVED_IDX = { expired: P_R_EXPIRED_IDX, deleted: P_R_DELETED_IDX, cleared: P_R_CLEARED_IDX } as const;

/**
 * Removes an entry (slot `si`, item at page offset `off`): reports it, marks it dead, unindexes
 * it and counts the removal by its reason. The page is marked mid-change by the caller.
 */
export function removeEntry(pg: Pages, page: number, s: Segment, b: number, si: number, off: number, reason: keyof typeof REMOVED_IDX): void {
  report(pg, s, b + off, page, reason, undefined);
  removeItem(pg, s, b, si, off);
  s.f64[(b >> 3) + REMOVED_IDX[reason]]++;
}

/** Removes an expired entry (lock held), marking the page mid-change for it unless it already is. */
export function expireEntry(pg: Pages, page: number, s: Segment, b: number, si: number, off: number): void {
  const began = beginChange(s.i32, b);
  removeEntry(pg, page, s, b, si, off, 'expired');
  if (began) endChange(s.i32, b);
}

/**
 * Rebuilds the slot table from the live items of the log, each with the access tick its header
 * holds (its last write, or its recency when the page was last compacted). False if they did
 * not all fit (or the log could not be walked).
 */
export function rebuildSlots(pg: Pages, s: Segment, b: number): boolean {
  s.u32[(b >> 2) + P_HOLE_HINT_IDX] = 0;
  s.u32[(b >> 2) + P_FIRST_DEAD_IDX] = 0;
  clearSlots(pg, s, b);
  const u32 = s.u32;
  let count = 0;
  let ok = true;
  const stop = walkLog(pg, s, b, (a, off) => {
    if (u32[(a + I_STATE_OFF) >> 2] !== ITEM_LIVE) return;
    if (count < pg.maxItems && insertSlot(pg, s, b, u32[(a + I_HASH_OFF) >> 2], off, s.f64[(a + I_TICK_OFF) >> 3])) count++;
    else ok = false;
  });
  if (stop < u32[(b >> 2) + P_FREE_IDX]) return false;
  u32[(b >> 2) + P_COUNT_IDX] = count;
  return ok;
}

/** The item at page offset `off` is dead now: the page's first-dead bound takes it (0, not known, stays). */
export function noteDead(s: Segment, b: number, off: number): void {
  const i = (b >> 2) + P_FIRST_DEAD_IDX;
  if (s.u32[i] > off) s.u32[i] = off;
}

/** An item of the page now expires at `e` (0: never): the page's next-expiry bound takes it. */
export function noteExpiry(s: Segment, b: number, e: number): void {
  const i = (b >> 3) + P_NEXT_EXPIRY_IDX;
  if (e > 0 && s.f64[i] > e) s.f64[i] = e;
}

/** Lays out an empty page (the counters are kept). */
export function resetPage(pg: Pages, s: Segment, b: number): void {
  const hIdx = b >> 2;
  s.buf.fill(0, b + PAGE_HEADER_SIZE, b + pg.pageSize);
  s.u32[hIdx + P_COUNT_IDX] = 0;
  s.u32[hIdx + P_LIVE_BYTES_IDX] = 0;
  s.u32[hIdx + P_DEAD_BYTES_IDX] = 0;
  s.u32[hIdx + P_COMPACT_IDX] = 0;
  s.u32[hIdx + P_C_LEN_IDX] = 0;
  s.u32[hIdx + P_FREE_IDX] = pg.ds;
  s.f64[(b >> 3) + P_NEXT_EXPIRY_IDX] = Infinity;
  s.u32[hIdx + P_LAYOUT_EPOCH_IDX]++;
  s.u32[hIdx + P_HOLE_HINT_IDX] = 0;
  s.u32[hIdx + P_FIRST_DEAD_IDX] = 0;
}
