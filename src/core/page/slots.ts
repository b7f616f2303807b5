/**
 * The slot table of a page: `slots` entries of { u32 hash, u32 item offset, f64 access tick },
 * open addressing with linear probing from the hash's ideal slot, backward-shift deletion (no
 * tombstones). Offset 0 is an empty slot; the offset is written last, so it publishes a slot.
 */
import type { Segment } from '../file.js';
import { ITEM_HEADER_SIZE, I_KEY_LEN_OFF, PAGE_HEADER_SIZE, SLOT_SIZE } from '../layout.js';
import type { Pages } from './pages.js';

/**
 * Access ticks per millisecond. A tick is the time of a use in ms times this, plus a count that
 * keeps a thread's successive uses within one millisecond in order: LRU order is exact within a
 * thread and of millisecond resolution between threads and processes.
 */
export const TICKS_PER_MS = 1024;
let lastTick = 0;

/** The access tick for a use at `now` (ms): strictly increasing within this thread. */
export function nextTick(now: number): number {
  const t = Math.floor(now) * TICKS_PER_MS;
  lastTick = t > lastTick ? t : lastTick + 1;
  return lastTick;
}

/**
 * First slot to probe: a multiplicative mix of the hash scaled to the slot count (the high part
 * of mix x slots, exact in a double: under 2^52), independent of the page choice.
 */
export function idealSlot(pg: Pages, h: number): number {
  return ((Math.imul(h, 0x9e3779b1) >>> 0) * pg.slots * 2.3283064365386963e-10) | 0;
}

/** The slot after `i`, cyclically. */
function nextSlot(pg: Pages, i: number): number {
  return i + 1 === pg.slots ? 0 : i + 1;
}

/** Slot index holding the key in scratch, or -1. */
export function findSlot(pg: Pages, s: Segment, b: number, h: number, klen: number): number {
  const u32 = s.u32;
  const n = pg.slots;
  const st = (b + PAGE_HEADER_SIZE) >> 2;
  let i = idealSlot(pg, h);
  for (let k = 0; k < n; k++) {
    const off = u32[st + (i << 2) + 1];
    if (off === 0) return -1;
    if (u32[st + (i << 2)] === h && off >= pg.ds && off + ITEM_HEADER_SIZE <= pg.pageSize && keyEquals(pg, s, b + off, klen)) return i;
    i = i + 1 === n ? 0 : i + 1;
  }
  return -1;
}

/** Whether the item at `a` holds the `klen` key bytes in scratch (compared word by word). */
function keyEquals(pg: Pages, s: Segment, a: number, klen: number): boolean {
  if (s.u16[(a + I_KEY_LEN_OFF) >> 1] !== klen || a + ITEM_HEADER_SIZE + klen > s.buf.length) return false;
  const words = klen >> 2;
  const w0 = (a + ITEM_HEADER_SIZE) >> 2;
  const mine = pg.scratchI32;
  const i32 = s.i32;
  for (let j = 0; j < words; j++) if (mine[j] !== i32[w0 + j]) return false;
  const buf = s.buf;
  const scratch = pg.scratch;
  for (let j = words << 2; j < klen; j++) if (scratch[j] !== buf[a + ITEM_HEADER_SIZE + j]) return false;
  return true;
}

export function slotOffset(s: Segment, b: number, si: number): number {
  return s.u32[((b + PAGE_HEADER_SIZE) >> 2) + (si << 2) + 1];
}

/** Float64Array index of a slot's access tick (recency for LRU; written by lock-free readers too). */
export function tickIdx(b: number, si: number): number {
  return ((b + PAGE_HEADER_SIZE) >> 3) + (si << 1) + 1;
}

/** Points a slot at another item (same key): recency is kept. */
export function setSlotOffset(s: Segment, b: number, si: number, off: number): void {
  s.u32[((b + PAGE_HEADER_SIZE) >> 2) + (si << 2) + 1] = off;
}

/** The slot pointing at the item at page offset `off` (whose hash is `h`), or -1. */
export function slotOfItem(pg: Pages, s: Segment, b: number, h: number, off: number): number {
  // The probe loop written out (no closure): compactions and evictions call this per item.
  const u32 = s.u32;
  const st = (b + PAGE_HEADER_SIZE) >> 2;
  const n = pg.slots;
  let i = idealSlot(pg, h);
  for (let k = 0; k < n; k++) {
    const o = u32[st + (i << 2) + 1];
    if (o === off) return i;
    if (o === 0) return -1;
    i = i + 1 === n ? 0 : i + 1;
  }
  return -1;
}

/**
 * The slot of hash `h` whose access tick is `tick` (a tick that is not a plain number compared
 * as -Infinity), or -1: the same entry, unused since the tick was read.
 */
export function slotOfTick(pg: Pages, s: Segment, b: number, h: number, tick: number): number {
  const st = (b + PAGE_HEADER_SIZE) >> 2;
  return probe(pg, s, b, h, (i) => {
    if (s.u32[st + (i << 2)] !== h) return false;
    const t = s.f64[tickIdx(b, i)];
    return (t < Infinity ? t : -Infinity) === tick;
  });
}

/** Walks the probe run of hash `h` in the page at `b` for an occupied slot that matches; -1 at the run's end. */
function probe(pg: Pages, s: Segment, b: number, h: number, match: (i: number) => boolean): number {
  const u32 = s.u32;
  const st = (b + PAGE_HEADER_SIZE) >> 2;
  let i = idealSlot(pg, h);
  for (let n = 0; n < pg.slots; n++) {
    if (u32[st + (i << 2) + 1] === 0) return -1;
    if (match(i)) return i;
    i = nextSlot(pg, i);
  }
  return -1;
}

/** Puts an item in the slot table with access tick `tick`; false when the table has no empty slot. */
export function insertSlot(pg: Pages, s: Segment, b: number, h: number, off: number, tick: number): boolean {
  const u32 = s.u32;
  const st = (b + PAGE_HEADER_SIZE) >> 2;
  let i = idealSlot(pg, h);
  for (let n = 0; n < pg.slots; n++) {
    if (u32[st + (i << 2) + 1] === 0) {
      u32[st + (i << 2)] = h;
      s.f64[tickIdx(b, i)] = tick;
      u32[st + (i << 2) + 1] = off; // the offset makes the slot visible: written last
      return true;
    }
    i = nextSlot(pg, i);
  }
  return false;
}

/** Empties a slot and shifts the rest of its probe run back, so no tombstones are needed. */
export function removeSlot(pg: Pages, s: Segment, b: number, si: number): void {
  const u32 = s.u32;
  const st = (b + PAGE_HEADER_SIZE) >> 2;
  let hole = si;
  let j = si;
  for (let n = 1; n < pg.slots; n++) {
    j = nextSlot(pg, j);
    const off = u32[st + (j << 2) + 1];
    if (off === 0) break;
    const ideal = idealSlot(pg, u32[st + (j << 2)]);
    // Move j back into the hole unless its ideal slot lies cyclically in (hole, j].
    const between = hole <= j ? ideal > hole && ideal <= j : ideal > hole || ideal <= j;
    if (!between) {
      u32[st + (hole << 2)] = u32[st + (j << 2)];
      s.f64[tickIdx(b, hole)] = s.f64[tickIdx(b, j)];
      u32[st + (hole << 2) + 1] = off;
      hole = j;
    }
  }
  u32[st + (hole << 2) + 1] = 0;
  u32[st + (hole << 2)] = 0;
  s.f64[tickIdx(b, hole)] = 0;
}

export function clearSlots(pg: Pages, s: Segment, b: number): void {
  s.buf.fill(0, b + PAGE_HEADER_SIZE, b + PAGE_HEADER_SIZE + pg.slots * SLOT_SIZE);
}
