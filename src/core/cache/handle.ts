/**
 * The state of one handle, in one object: what it mapped, its options, the page engine, the key
 * codec, the hook queues, which pages it validated, its lock-free read counts, and what the last
 * operation left for its caller. The concerns of a handle are functions over this object, one
 * file each (read, write, scan, stats, locking), as the page engine's are over Pages; SharedCache
 * is the public facade over them. One class, its fields assigned in the constructor in one
 * order, so every function sees one shape.
 */
import fs from 'node:fs';
import { sessmapError } from '../../errors.js';
import { mapLayout, type Attachment } from '../attach.js';
import type { Listing } from '../attached.js';
import { openSecure, type Segment } from '../file.js';
import { H_EPOCH_IDX, H_LAYOUT_GEN_IDX, H_PAGE_COUNT_OFF } from '../layout.js';
import { held } from '../lock.js';
import { maxItemBytesOf, type HandleOptions } from '../options.js';
import { Pages } from '../page/pages.js';
import { ItemDraft } from '../page/write.js';
import { TYPE_OF } from '../serializer.js';
import { StructureTable, StructuredCodec } from '../structures.js';
import { Hooks } from './hooks.js';
import { Keys } from './keys.js';
import { readLayout, viewOf, type Layout } from '../layout-record.js';
import { flushReadCounts } from './stats.js';

export class Handle {
  /** The file this handle is attached to. */
  readonly path: string;
  /** The page engine over the current layout, and its key codec: made again by relayout(). */
  pages: Pages;
  keys: Keys;
  readonly hooks: Hooks;
  /** Pages this handle has validated since it attached (1), or must check at its next lock (0). */
  validated: Uint8Array;
  readonly clock: () => number;
  readonly verifyReads: boolean;
  readonly lockTimeout: number;
  readonly maxKeyBytes: number;
  /** The largest key bytes + serialized value bytes that can always be stored. */
  readonly maxItemBytes: number;
  /** Item type of this handle's serializer. */
  readonly type: number;
  /** The 'structured' serializer over the file's structure table (every handle reads such values). */
  readonly codec: StructuredCodec;
  /** Where a lock-free read copies a 'structured' value before decoding it (reused: no allocation). */
  readonly valueScratch: Buffer;
  readonly defaultTtl: number;
  /** The entry being written (reused: a write allocates no descriptor). */
  readonly item: ItemDraft;
  /** Hits and misses of lock-free reads not yet added to the file, per page (stats.ts). */
  readHits: Uint32Array;
  readMisses: Uint32Array;
  readCounts: number;
  readCountsDue: number;
  closed: boolean;
  /** Expiry of the entry the last successful get returned, or the last write set (for getEntry, updateEntry). */
  lastExpiry: number;
  /** Bytes of the last value a lock-free read returned, up to 512: how much of the next one it touches ahead (read.ts, prefetch). */
  valueHint: number;
  /** The file header's mapping: its epoch word (a reinit bumps it) and its table of attached processes. */
  readonly header: Segment;
  /** This handle's listing in that table (undefined: not listed). */
  listing: Listing | undefined;
  /** What relayout() needs to map the file again and make the page engine (below). */
  att: Attachment;
  readonly removalValues: boolean;
  /** Where the pages are (the layout record this handle follows) and its generation. */
  layout: Layout;
  layoutGen: number;
  readonly #epoch: number;

  constructor(att: Attachment, o: HandleOptions) {
    const info = att.info;
    this.path = att.path;
    this.codec = new StructuredCodec(new StructureTable(att.header, att.path, o.lockTimeout));
    this.hooks = new Hooks(o, this.codec);
    this.valueScratch = Buffer.allocUnsafeSlow(maxItemBytesOf(info.pageSize, info.slotsPerPage));
    this.pages = new Pages(att.segments, att.plans, info, viewOf(att.layout), att.layout.count, info.policy, info.seed, this.hooks.removals, o.removalValues);
    this.pages.moveUnderWay = (p) => moveUnderWay(this, p);
    this.keys = new Keys(this.pages, info.maxKeyBytes);
    this.validated = new Uint8Array(this.pages.pageCount);
    this.clock = o.clock;
    this.verifyReads = o.verifyReads;
    this.lockTimeout = o.lockTimeout;
    this.maxKeyBytes = info.maxKeyBytes;
    this.maxItemBytes = maxItemBytesOf(info.pageSize, info.slotsPerPage);
    this.type = TYPE_OF[o.serializer ?? info.serializer];
    this.defaultTtl = o.defaultTtl ?? info.defaultTtl;
    this.item = new ItemDraft();
    this.readHits = new Uint32Array(this.pages.pageCount);
    this.readMisses = new Uint32Array(this.pages.pageCount);
    this.readCounts = 0;
    this.readCountsDue = 0;
    this.closed = false;
    this.lastExpiry = 0;
    this.valueHint = 0;
    this.header = att.header;
    this.listing = undefined;
    this.att = att;
    this.removalValues = o.removalValues;
    this.layout = att.layout;
    this.layoutGen = att.layout.gen;
    this.#epoch = att.epoch;
  }

  /**
   * What every operation checks first: the handle is open, not called from inside a page lock,
   * and the file was not reinitialised; then, if a resize published a new layout, it follows it.
   */
  enter(): void {
    if (this.closed) throw sessmapError('SESSMAP_ERR_CLOSED', `cache handle for ${this.path} is closed`, { path: this.path });
    if (held.count !== 0) throw sessmapError('SESSMAP_ERR_REENTRANT_CALL', 'the cache was called while this thread holds a page lock (from inside an update callback or a serializer hook); do that work outside the callback');
    if (this.header.i32[H_EPOCH_IDX] !== this.#epoch) throw sessmapError('SESSMAP_ERR_STALE_HANDLE', `cache file ${this.path} was reinitialised by another process; open it again`, { path: this.path });
    if (this.header.u32[H_LAYOUT_GEN_IDX] !== this.layoutGen) relayout(this);
  }
}

// ------------------------------------------------------------ following a resize
/*
 * Following a resize: a handle whose file published a new layout record (the header's layout
 * generation moved) makes its page engine again over the new layout, at the start of its next
 * operation (Handle.enter), with no operation of its own under way. The file's new page slots
 * are mapped when the layout ends past what the handle maps (the path opened again, and refused
 * unless it still leads to the same file); the pages it had validated stay validated; its
 * lock-free read counts go to the file first; its victim pools are made again as pages are used.
 * See docs/file-format.md, "Online resize".
 */

/** Makes `h` follow the file's current layout (no lock held, no operation under way). */
export function relayout(h: Handle): void {
  const att = h.att;
  const info = att.info;
  const layout = readLayout(att.header, headerPageCount(h), h.path);
  if (layout.gen === h.layoutGen) return;
  flushReadCounts(h);
  let segments = h.pages.segs;
  let plans = att.plans;
  const mapped = plans.reduce((n, p) => Math.max(n, p.firstPage + p.pageCount), 0);
  if (layout.slots > mapped) {
    const fd = openSecure(h.path);
    try {
      const st = fs.fstatSync(fd);
      if (st.dev !== att.identity.dev || st.ino !== att.identity.ino) {
        throw sessmapError('SESSMAP_ERR_STALE_HANDLE', `cache file ${h.path} was resized, and its path now leads to another file; open it again`, { path: h.path });
      }
      const fresh = mapLayout(fd, h.path, { ...info, pageCount: headerPageCount(h) }, att.header, att.segmentBytes);
      segments = fresh.segments;
      plans = fresh.plans;
    } finally {
      fs.closeSync(fd);
    }
  }
  const old = h.pages;
  const pages = new Pages(segments, plans, info, viewOf(layout), layout.count, info.policy, info.seed, old.sink, old.captureValues);
  // Validation is per page slot: what this handle checked stays checked.
  const checked = new Map<number, number>();
  for (let p = 0; p < old.pageCount; p++) checked.set(old.slotOf[p], h.validated[p]);
  const validated = new Uint8Array(pages.pageCount);
  for (let p = 0; p < pages.pageCount; p++) validated[p] = checked.get(pages.slotOf[p]) ?? 0;
  pages.moveUnderWay = (p) => moveUnderWay(h, p);
  h.pages = pages;
  h.keys = new Keys(pages, info.maxKeyBytes);
  h.validated = validated;
  h.readHits = new Uint32Array(pages.pageCount);
  h.readMisses = new Uint32Array(pages.pageCount);
  h.att = { ...att, segments, plans, layout };
  h.layout = layout;
  h.layoutGen = layout.gen;
}

/** The page count the file's header was created with (what a file without a layout record has). */
function headerPageCount(h: Handle): number {
  return h.att.header.buf.readUInt32LE(H_PAGE_COUNT_OFF);
}

/** Whether the file's current layout record (read now) has a resize moving page `p`'s page slot. */
function moveUnderWay(h: Handle, p: number): boolean {
  const l = readLayout(h.att.header, headerPageCount(h), h.path);
  const slot = h.pages.slotOf[p];
  return l.moving && slot >= l.first && slot < l.first + l.count;
}
