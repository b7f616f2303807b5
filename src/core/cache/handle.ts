/**
 * The state of one handle, in one object: what it mapped, its options, the page engine, the key
 * codec, the hook queues, which pages it validated, its lock-free read counts, and what the last
 * operation left for its caller. The concerns of a handle are functions over this object, one
 * file each (read, write, scan, stats, locking), as the page engine's are over Pages; SharedCache
 * is the public facade over them. One class, its fields assigned in the constructor in one
 * order, so every function sees one shape.
 */
import { sessmapError } from '../../errors.js';
import type { Attachment } from '../attach.js';
import type { Listing } from '../attached.js';
import type { Segment } from '../file.js';
import { H_EPOCH_IDX, H_LAYOUT_GEN_IDX } from '../layout.js';
import { held } from '../lock.js';
import { maxItemBytesOf, type HandleOptions } from '../options.js';
import { Pages } from '../page/pages.js';
import { ItemDraft } from '../page/write.js';
import { TYPE_OF } from '../serializer.js';
import { StructureTable, StructuredCodec } from '../structures.js';
import { Hooks } from './hooks.js';
import { Keys } from './keys.js';
import { relayout } from './relayout.js';
import { viewOf, type Layout } from '../resize/record.js';

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
  /** What relayout() needs to map the file again and make the page engine: see relayout.ts. */
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
