/**
 * The next victim of a full page, in exact LRU order (lowest priority first, then least recent
 * use), without scanning the slot table for every eviction. One scan of a page collects its
 * `POOL` best victims, in order, into this handle's pool for the page; evictions then take them
 * from the front. A pooled candidate is still the best victim when it is still there and unused:
 *
 * - an item outside the pool was a worse victim at the scan, and its recency only grows since;
 * - a candidate used since (its slot's tick moved) or gone (evicted, deleted, overwritten by any
 *   process) is skipped: it is found by its hash and tick, which outlive slot-table shifts and
 *   compactions (they move items, and carry each slot's tick over);
 * - a new item is the most recent of its priority, so it is a worse victim than every candidate
 *   of its priority or a lower one; only a write of a priority below a candidate's can bring a
 *   better victim, and the page counts writes per priority: the pool is scanned again then;
 * - a repair or a clear rebuilds the page from the items' headers (the page's layout epoch
 *   changes): scanned again.
 *
 * The pool is private to the handle: every process keeps its own, and none can mislead another.
 *
 * A scan needs each entry's priority, which is in its item: a random read of the page per slot.
 * The handle remembers, per slot, the priority it read with the slot's hash and tick; a slot
 * that still has both holds the same, unused entry (a new entry has a fresh tick; a compaction
 * moves entries but keeps their hashes and ticks), so its priority is known without the read.
 */
import { ITEM_HEADER_SIZE, I_STATE_OFF, I_PRIORITY_OFF, ITEM_LIVE, PAGE_HEADER_SIZE, P_FREE_IDX, P_LAYOUT_EPOCH_IDX, P_WRITES_IDX } from '../layout.js';
import type { Segment } from '../file.js';
import { PageDamaged, type Pages } from './pages.js';
import { slotOfTick, slotOffset, tickIdx } from './slots.js';

/** A page's remembered priorities, per slot. */
interface Known {
  hash: Uint32Array;
  tick: Float64Array;
  prio: Uint8Array;
}

/** Candidates one scan keeps per page. */
const POOL = 32;
/** Pages whose slots' priorities a handle remembers, at most (13 bytes a slot). */
const REMEMBERED_PAGES = 256;

export class Victims {
  readonly #hash: Uint32Array;
  readonly #tick: Float64Array;
  readonly #prio: Uint8Array;
  /** Per page: candidates kept, the next one, the layout epoch and the writes per priority at the scan. */
  readonly #n: Uint16Array;
  readonly #pos: Uint16Array;
  readonly #epoch: Uint32Array;
  readonly #writes: Uint32Array;
  readonly #scanned: Uint8Array;
  /** Per remembered page: per slot, the hash and tick a priority was read with, and the priority. */
  readonly #known = new Map<number, Known>();

  constructor(pageCount: number) {
    this.#hash = new Uint32Array(pageCount * POOL);
    this.#tick = new Float64Array(pageCount * POOL);
    this.#prio = new Uint8Array(pageCount * POOL);
    this.#n = new Uint16Array(pageCount);
    this.#pos = new Uint16Array(pageCount);
    this.#epoch = new Uint32Array(pageCount);
    this.#writes = new Uint32Array(pageCount * 3);
    this.#scanned = new Uint8Array(pageCount);
  }

  /** The slot of the best victim other than the item at `keep`, or -1 when there is none. Lock held. */
  next(pg: Pages, page: number, s: Segment, b: number, keep: number): number {
    for (let attempt = 0; attempt < 2; attempt++) {
      if (attempt === 1 || !this.#current(page, s, b)) this.#scan(pg, page, s, b, keep);
      const base = page * POOL;
      while (this.#pos[page] < this.#n[page]) {
        const j = base + this.#pos[page]++;
        const si = slotOfTick(pg, s, b, this.#hash[j], this.#tick[j]);
        if (si < 0 || slotOffset(s, b, si) === keep) continue;
        if (this.#betterWritten(page, s, b, this.#prio[j])) break;
        return si;
      }
    }
    return -1;
  }

  /** The page's remembered priorities (made on its first scan), or undefined past the cap. */
  #knownOf(page: number, slots: number): Known | undefined {
    let k = this.#known.get(page);
    if (k === undefined && this.#known.size < REMEMBERED_PAGES) {
      // NaN ticks: nothing remembered yet (NaN equals no tick).
      k = { hash: new Uint32Array(slots), tick: new Float64Array(slots).fill(NaN), prio: new Uint8Array(slots) };
      this.#known.set(page, k);
    }
    return k;
  }

  /** Whether the pool was made on the page as it is laid out now. */
  #current(page: number, s: Segment, b: number): boolean {
    return this.#scanned[page] === 1 && this.#epoch[page] === s.u32[(b >> 2) + P_LAYOUT_EPOCH_IDX];
  }

  /** An item of a priority below `prio` was written since the scan (a better victim than the pool's). */
  #betterWritten(page: number, s: Segment, b: number, prio: number): boolean {
    const w = (b >> 2) + P_WRITES_IDX;
    for (let p = 0; p < prio && p < 3; p++) if (s.u32[w + p] !== this.#writes[page * 3 + p]) return true;
    return false;
  }

  /** Collects the page's best victims, in order (an insertion into a short sorted list). */
  #scan(pg: Pages, page: number, s: Segment, b: number, keep: number): void {
    const u32 = s.u32;
    const f64 = s.f64;
    const st = (b + PAGE_HEADER_SIZE) >> 2;
    const end = u32[(b >> 2) + P_FREE_IDX];
    const base = page * POOL;
    const ticks = this.#tick;
    const prios = this.#prio;
    let n = 0;
    const known = this.#knownOf(page, pg.slots);
    for (let i = 0; i < pg.slots; i++) {
      const off = u32[st + (i << 2) + 1];
      if (off === 0 || off === keep) continue;
      const raw = f64[tickIdx(b, i)];
      const hash = u32[st + (i << 2)]!;
      let prio: number;
      if (known !== undefined && known.tick[i] === raw && known.hash[i] === hash) prio = known.prio[i]!;
      else {
        if (off < pg.ds || off + ITEM_HEADER_SIZE > end || (off & 7) !== 0) throw new PageDamaged(page);
        const a = b + off;
        if (u32[(a + I_STATE_OFF) >> 2] !== ITEM_LIVE) throw new PageDamaged(page);
        prio = s.buf[a + I_PRIORITY_OFF]!;
        if (prio > 2) throw new PageDamaged(page);
        if (known !== undefined) {
          known.hash[i] = hash;
          known.tick[i] = raw;
          known.prio[i] = prio;
        }
      }
      let tick = raw;
      // A tick that is not a plain number (damage) counts as the oldest.
      if (!(tick < Infinity)) tick = -Infinity;
      if (n === POOL && !(prio < prios[base + n - 1] || (prio === prios[base + n - 1] && tick < ticks[base + n - 1]))) continue;
      let k = n === POOL ? n - 1 : n++;
      while (k > 0 && (prio < prios[base + k - 1] || (prio === prios[base + k - 1] && tick < ticks[base + k - 1]))) {
        this.#hash[base + k] = this.#hash[base + k - 1];
        ticks[base + k] = ticks[base + k - 1];
        prios[base + k] = prios[base + k - 1];
        k--;
      }
      this.#hash[base + k] = hash;
      ticks[base + k] = tick;
      prios[base + k] = prio;
    }
    this.#n[page] = n;
    this.#pos[page] = 0;
    this.#scanned[page] = 1;
    this.#epoch[page] = u32[(b >> 2) + P_LAYOUT_EPOCH_IDX];
    const w = (b >> 2) + P_WRITES_IDX;
    for (let p = 0; p < 3; p++) this.#writes[page * 3 + p] = u32[w + p];
  }
}
