/**
 * The page engine's state: the geometry every page operation needs, where each page lies in
 * the mappings, the scratch buffers keys are encoded into, and where removals are collected.
 * The operations themselves are functions over this object, one concern per file:
 *
 * - slots.ts    the slot table (open addressing, linear probing, backward-shift deletion)
 * - log.ts      the item log: the one walker, writing, removing and reporting items
 * - evict.ts    making room: the free tail, holes, expiry, eviction
 * - compact.ts  journaled compaction
 * - repair.ts   validation and rebuild
 *
 * Every operation expects the caller to hold the page's lock. Writes are ordered so that a
 * process killed at any instruction leaves a log that can be walked from its start: see
 * docs/file-format.md, "Crash consistency".
 */
import type { Segment } from '../file.js';
import { halfSipHash } from '../hash.js';
import { I_LEN_OFF, MAX_SLOT_LOAD } from '../layout.js';
import { dataStart, type FileGeometry, type SegmentPlan } from '../options.js';
import type { EvictionPolicy, RemovalReason } from '../types.js';
import { Victims } from './victims.js';

/** Thrown when a page turns out to be damaged mid-operation; the cache repairs it and retries. */
export class PageDamaged extends Error {
  constructor(readonly page: number) {
    super(`page ${page} is damaged`);
  }
}

/** A removal collected under the lock; the value (if captured) is decoded after the lock is released. */
export interface PendingRemoval {
  key: string;
  reason: RemovalReason;
  page: number;
  ttlLeft: number | undefined;
  expiresAt: number | undefined;
  type: number;
  raw: string | Buffer | undefined;
}

/** Collected removals, handed to the hook after the lock is released. */
export type RemovalSink = PendingRemoval[] | null;

/**
 * The bytes of the log an item of length `n` takes: items start on 8-byte boundaries, so the
 * smallest dead filler (state word and length) always fits.
 */
export function alignItem(n: number): number {
  return (n + 7) & ~7;
}

/** The bytes of the log the item at `a` takes (its length, aligned). */
export function extentOf(s: Segment, a: number): number {
  return (s.u32[(a + I_LEN_OFF) >> 2] + 7) & ~7;
}

export class Pages {
  readonly segs: Segment[];
  readonly segOf: Uint32Array;
  readonly baseOf: Uint32Array;
  /** Pages this handle numbers: the layout's, or during a resize the old layout's then the new one's. */
  readonly pageCount: number;
  /** Pages of the layout keys are hashed to first (the old one during a resize): page = hash mod count. */
  readonly count: number;
  /** During a resize, the new layout's pages (numbered from `count`); 0 otherwise. */
  readonly toCount: number;
  /** The page slot (from PAGES_OFF) of each page number. */
  readonly slotOf: Uint32Array;
  readonly pageSize: number;
  /** Slots per page (a multiple of 8). */
  readonly slots: number;
  /** Page-relative offset of the item log (after the header and the slot table). */
  readonly ds: number;
  /** Live items a page takes at most (MAX_SLOT_LOAD of its slots). */
  readonly maxItems: number;
  readonly policy: EvictionPolicy;
  readonly k0: number;
  readonly k1: number;
  /** Key bytes of the operation under way (and their words, for hashing and comparing). */
  readonly scratch: Buffer;
  readonly scratchI32: Int32Array;
  /** A second scratch for validation and repair, which may run in the middle of an operation. */
  readonly scratch2: Buffer;
  readonly scratch2I32: Int32Array;
  /** Where removals are collected; null when no hook listens. */
  readonly sink: RemovalSink;
  /** Copy each removed value for the hook. */
  readonly captureValues: boolean;
  /** Result of the last findHole: start and length of the hole. */
  holeAt: number;
  holeLen: number;
  /** Where the last item evicted lay (its room is tried first for the write that evicted it). */
  victimAt: number;
  /** This handle's pools of the pages' next victims. */
  readonly victims: Victims;
  /** Per page: its dead bytes when this handle last walked it for a hole and found none. */
  readonly walkedDead: Uint32Array;
  /**
   * Whether a moved mark on page `p` is a resize's (the file's current layout record moves that
   * page's run) rather than damage; asked by repair, from the record itself, never from this
   * handle's view, which may be older. Set by the handle.
   */
  moveUnderWay: (p: number) => boolean;

  /**
   * `view`: the page slot of each page number (see Layout, viewOf); `count`: how many of them are
   * the layout keys hash to first; `plans`: the mappings in `segs`, over page slots.
   */
  constructor(segs: Segment[], plans: SegmentPlan[], g: FileGeometry, view: readonly number[], count: number, policy: EvictionPolicy, seed: Buffer, sink: RemovalSink, captureValues: boolean) {
    const n = view.length;
    this.segs = segs;
    this.segOf = new Uint32Array(n);
    this.baseOf = new Uint32Array(n);
    this.pageCount = n;
    this.count = count;
    this.toCount = n - count;
    this.slotOf = Uint32Array.from(view);
    this.pageSize = g.pageSize;
    this.slots = g.slotsPerPage;
    this.ds = dataStart(g.slotsPerPage);
    this.maxItems = Math.max(1, Math.floor(g.slotsPerPage * MAX_SLOT_LOAD));
    this.policy = policy;
    this.k0 = seed.readInt32LE(0);
    this.k1 = seed.readInt32LE(4);
    const ab = new ArrayBuffer(alignItem(g.maxKeyBytes * 3 + 8));
    this.scratch = Buffer.from(ab);
    this.scratchI32 = new Int32Array(ab);
    const ab2 = new ArrayBuffer(alignItem(g.maxKeyBytes * 3 + 8));
    this.scratch2 = Buffer.from(ab2);
    this.scratch2I32 = new Int32Array(ab2);
    this.sink = sink;
    this.captureValues = captureValues && sink !== null;
    this.holeAt = 0;
    this.holeLen = 0;
    this.victimAt = 0;
    this.victims = new Victims(n);
    this.walkedDead = new Uint32Array(n);
    this.moveUnderWay = () => false;
    for (let p = 0; p < n; p++) {
      const slot = view[p];
      const si = plans.findIndex((plan) => slot >= plan.firstPage && slot < plan.firstPage + plan.pageCount);
      if (si < 0) throw new RangeError(`page slot ${slot} is not mapped`);
      this.segOf[p] = si;
      this.baseOf[p] = (slot - plans[si].firstPage) * g.pageSize;
    }
  }

  /** Keyed hash of the `klen` key bytes in scratch. */
  hashKey(klen: number): number {
    return halfSipHash(this.k0, this.k1, this.scratch, this.scratchI32, klen);
  }

  /** Keyed hash of the `klen` key bytes in scratch2. */
  hashKey2(klen: number): number {
    return halfSipHash(this.k0, this.k1, this.scratch2, this.scratch2I32, klen);
  }

  /** The page of a key's hash: in the old layout during a resize (see targetOf). */
  pageOf(h: number): number {
    return h % this.count;
  }

  /** During a resize, the page of a key's hash in the new layout (a key whose old page is moved lives there). */
  targetOf(h: number): number {
    return this.count + (h % this.toCount);
  }
}
