/**
 * The binary layout of a sessmap file, as named constants.
 *
 * `_OFF` constants are byte offsets; `_IDX` constants are the matching typed-array
 * indices (byte offset / element size) used on the hot path. All multi-byte fields are
 * little-endian (the byte order of every platform Node supports in practice; the magic
 * check refuses a file written in another order). Mirrored in docs/file-format.md.
 */

// ---------------------------------------------------------------- file header
/** The header occupies the first 4096 bytes; pages start right after it. */
export const HEADER_SIZE = 4096;
/** `SESSMAP` followed by a NUL byte. */
export const MAGIC = Buffer.from('SESSMAP\0', 'latin1');
/** Bumped on every incompatible change of this layout. */
export const FORMAT_VERSION = 4;

export const H_MAGIC_OFF = 0; //            8 bytes
export const H_VERSION_OFF = 8; //          u32
export const H_HEADER_SIZE_OFF = 12; //     u32
export const H_PAGE_COUNT_OFF = 16; //      u32
export const H_PAGE_SIZE_OFF = 20; //       u32
export const H_SLOTS_OFF = 24; //           u32 slots per page (a multiple of 8)
export const H_MAX_KEY_OFF = 28; //         u32 max key bytes
export const H_FLAGS_OFF = 32; //           u32 bits 0-1 eviction policy, bits 2-3 default serializer
export const H_CREATED_OFF = 40; //         f64 ms since the epoch
export const H_DEFAULT_TTL_OFF = 48; //     f64 ms (0 = none)
export const H_FILE_SIZE_OFF = 56; //       f64 bytes
export const H_SEED_OFF = 64; //            32 random bytes: [0,8) page/slot hash key, [8,32) id-hash secret
export const H_SEED_LEN = 32;
export const H_CRC_OFF = 96; //             u32 crc32 of bytes [0, 96)
export const H_IMMUTABLE_END = 96;
// Mutable part of the header (not covered by the checksum).
export const H_STATE_OFF = 128; //          i32 0 = initialising, 1 = ready
export const H_EPOCH_OFF = 132; //          i32 bumped by every reinit
/**
 * Online resize (cache/resize.ts): the resizer's lock word, the layout generation (0: the file is as
 * it was created; else the active layout record is copy `generation & 1`), two layout records of
 * H_RECORD_SIZE bytes, and the count of pages a resize under way has moved (progress only).
 */
export const H_RESIZE_LOCK_OFF = 136; //    i32 owner id of the resizer, 0 = none
export const H_LAYOUT_GEN_OFF = 140; //     u32 layout records published so far
export const H_RECORDS_OFF = 144; //        two records follow
export const H_RECORD_SIZE = 64;
export const H_RESIZE_MOVED_OFF = 272; //   u32 pages of the old layout moved so far
export const H_RESIZE_PAGE_OFF = 276; //    u32 journal: 1 + the old layout's page being copied, 0 = none
export const H_RESIZE_PAGE_IDX = H_RESIZE_PAGE_OFF >> 2;
export const H_RESIZE_LOCK_IDX = H_RESIZE_LOCK_OFF >> 2;
export const H_LAYOUT_GEN_IDX = H_LAYOUT_GEN_OFF >> 2;
export const H_RESIZE_MOVED_IDX = H_RESIZE_MOVED_OFF >> 2;
export const H_STATE_IDX = H_STATE_OFF >> 2;
export const H_EPOCH_IDX = H_EPOCH_OFF >> 2;
/**
 * The table of attached processes (attached.ts): H_LISTINGS slots of H_LISTING_SIZE bytes, each
 * one thread's listing (claimed with a compareExchange of its owner word, released on close and
 * at exit). Zero in a file no sessmap with the table has opened: no listing. Informational only:
 * nothing locks by it.
 */
export const H_LISTINGS_OFF = 512;
export const H_LISTINGS = 96;
export const H_LISTING_SIZE = 32;
export const L_OWNER_OFF = 0; //            i32 the thread's owner id (as in a lock word), 0 = free
export const L_PID_OFF = 4; //              u32 its process id (0 while being claimed)
export const L_ATTACHED_OFF = 8; //         f64 ms since the epoch when it attached
export const L_START_OFF = 16; //           f64 the process's start time (clock ticks since boot, /proc/<pid>/stat), 0 = not known
export const L_HANDLES_OFF = 24; //         u32 handles the thread has open on the file

export const STATE_INITIALISING = 0;
export const STATE_READY = 1;

export const POLICY_CODES = { lru: 0, none: 1 } as const;
export const SERIALIZER_CODES = { json: 0, v8: 1, raw: 2, structured: 3 } as const;

// ---------------------------------------------------------------- structure table
/**
 * The structure table of the 'structured' serializer (msgpackr's shared structures: the key
 * lists its records refer to by id), right after the header: a lock word, a generation, and two
 * copies of the table, the active one `generation & 1`. A save writes the other copy whole, then
 * bumps the generation (one store): a writer that dies mid-save leaves the active copy as it was.
 */
export const STRUCTURES_OFF = HEADER_SIZE;
export const STRUCTURES_SIZE = 16384;
/** Where the pages start: after the header and the structure table. */
export const PAGES_OFF = STRUCTURES_OFF + STRUCTURES_SIZE;
export const S_LOCK_OFF = 0; //             i32 owner id of the saver, 0 = free (region-relative)
export const S_GEN_OFF = 4; //              u32 saves so far; the active copy is gen & 1 (0: no table yet)
export const S_COPY_OFF = 64; //            the two copies follow, S_COPY_SIZE bytes each
export const S_COPY_SIZE = (STRUCTURES_SIZE - S_COPY_OFF) / 2;
export const SC_GEN_OFF = 0; //             u32 the generation this copy was written for
export const SC_LEN_OFF = 4; //             u32 bytes of table text
export const SC_CRC_OFF = 8; //             u32 crc32 of [gen, len, text]
export const SC_DATA_OFF = 12; //           JSON text: an array of key lists
/** The most table text a copy holds. */
export const SC_CAPACITY = S_COPY_SIZE - SC_DATA_OFF;

// ---------------------------------------------------------------- page header
/** Bytes of each page's header; the slot table follows, then the item area. */
export const PAGE_HEADER_SIZE = 256;

export const P_LOCK_OFF = 0; //             i32 owner id of the lock holder, 0 = free
export const P_DIRTY_OFF = 4; //            i32 change sequence: odd while a mutation is under way
export const P_FREE_OFF = 8; //             u32 end of the item log (page-relative byte offset)
export const P_COUNT_OFF = 12; //           u32 live items indexed in the slot table
export const P_LIVE_BYTES_OFF = 16; //      u32 bytes of live items
export const P_DEAD_BYTES_OFF = 20; //      u32 bytes of dead items below the log end
export const P_COMPACT_OFF = 24; //         u32 1 while a compaction is under way
export const P_C_READ_OFF = 28; //          u32 compaction: next item to consider
export const P_C_WRITE_OFF = 32; //         u32 compaction: where the next live item goes
export const P_C_END_OFF = 36; //           u32 compaction: log end when it started
export const P_C_SRC_OFF = 40; //           u32 move journal: source of the item being moved
export const P_C_DST_OFF = 44; //           u32 move journal: destination
export const P_C_LEN_OFF = 48; //           u32 move journal: length (0 = no move under way)
export const P_C_DONE_OFF = 52; //          u32 move journal: bytes already copied
export const P_VERSION_OFF = 56; //         u32 last version handed out in this page
// Float64 counters (exact integers up to 2^53).
export const P_EVICTED_HIGH_OFF = 64; //    evictions of live 'high' priority items (format 1: page access clock)
export const P_HITS_OFF = 72;
export const P_MISSES_OFF = 80;
export const P_SETS_OFF = 88;
export const P_R_EXPIRED_OFF = 96;
export const P_R_EVICTED_OFF = 104;
export const P_R_DELETED_OFF = 112;
export const P_R_CLEARED_OFF = 120;
export const P_R_REPAIRED_OFF = 128;
export const P_EVICTED_LIVE_OFF = 136;
export const P_LOCK_RECOVERIES_OFF = 144;
export const P_LOCK_WAITS_OFF = 152;
export const P_REPAIRS_OFF = 160;
// i32, added to atomically by lock-free readers, moved into the f64 counters by lock holders.
export const P_FAST_HITS_OFF = 168;
export const P_FAST_MISSES_OFF = 172;
/**
 * f64: no live item of the page expires before this (a lower bound; Infinity: none expires;
 * 0 or not a number: not known, as in a fresh or repaired page). Writes and touches lower it,
 * a scan for expired items sets it to the earliest deadline it leaves; until then, a full page
 * skips that scan.
 */
export const P_NEXT_EXPIRY_OFF = 176;
export const P_NEXT_EXPIRY_IDX = P_NEXT_EXPIRY_OFF >> 3;
/** u32: bumped when a repair or a clear rebuilds the page (its ticks may go back): handles' victim pools are made again. */
export const P_LAYOUT_EPOCH_OFF = 184;
export const P_LAYOUT_EPOCH_IDX = P_LAYOUT_EPOCH_OFF >> 2;
/** 3 x u32: items written per priority (low, normal, high), wrapping; a victim pool is made again after a write of a priority below its candidates'. */
export const P_WRITES_OFF = 188;
export const P_WRITES_IDX = P_WRITES_OFF >> 2;
/**
 * u32: the offset of the item that died last, a hole a write tries before walking the log (0:
 * none). Always an item boundary: a merge that takes it into the dead item before it, a
 * compaction and a repair clear it.
 */
export const P_HOLE_HINT_OFF = 200;
export const P_HOLE_HINT_IDX = P_HOLE_HINT_OFF >> 2;
/**
 * u32: no dead item lies below this offset (a lower bound; 0: not known, read as dataStart).
 * Always an item boundary or the log end: removals lower it, a merge into the free tail brings it
 * down to the log end, compactions set it, a repair or a clear resets it to 0. Where a full
 * page's gather (page/compact.ts) starts looking for dead items.
 */
export const P_FIRST_DEAD_OFF = 204;
export const P_FIRST_DEAD_IDX = P_FIRST_DEAD_OFF >> 2;
/**
 * 11 x u32: the page's live evictions by the TTL the entry still had, in the buckets of
 * EVICTED_TTL_BOUNDS (the last: entries without expiry), counted under the lock after the
 * evictions of live entries (P_EVICTED_LIVE), so their sum never exceeds it (validation finds one
 * that does). Zero in pages written before they were counted.
 */
export const P_EVICTED_TTL_OFF = 208;
export const P_EVICTED_TTL_IDX = P_EVICTED_TTL_OFF >> 2;
/**
 * Set (to PAGE_MOVED) in a page of the old layout once a resize has moved its entries to the new
 * layout and emptied it: operations on its keys go to the new layout's page from then on.
 */
export const P_MOVED_OFF = 252;
export const P_MOVED_IDX = P_MOVED_OFF >> 2;
/** `MOVD` in ASCII: a whole word, so that no flipped bit can mark a page moved. */
export const PAGE_MOVED = 0x44564f4d;
export const P_FAST_HITS_IDX = P_FAST_HITS_OFF >> 2;
export const P_FAST_MISSES_IDX = P_FAST_MISSES_OFF >> 2;

export const P_LOCK_IDX = P_LOCK_OFF >> 2;
export const P_DIRTY_IDX = P_DIRTY_OFF >> 2;
export const P_FREE_IDX = P_FREE_OFF >> 2;
export const P_COUNT_IDX = P_COUNT_OFF >> 2;
export const P_LIVE_BYTES_IDX = P_LIVE_BYTES_OFF >> 2;
export const P_DEAD_BYTES_IDX = P_DEAD_BYTES_OFF >> 2;
export const P_COMPACT_IDX = P_COMPACT_OFF >> 2;
export const P_C_READ_IDX = P_C_READ_OFF >> 2;
export const P_C_WRITE_IDX = P_C_WRITE_OFF >> 2;
export const P_C_END_IDX = P_C_END_OFF >> 2;
export const P_C_SRC_IDX = P_C_SRC_OFF >> 2;
export const P_C_DST_IDX = P_C_DST_OFF >> 2;
export const P_C_LEN_IDX = P_C_LEN_OFF >> 2;
export const P_C_DONE_IDX = P_C_DONE_OFF >> 2;
export const P_VERSION_IDX = P_VERSION_OFF >> 2;
export const P_EVICTED_HIGH_IDX = P_EVICTED_HIGH_OFF >> 3;
export const P_HITS_IDX = P_HITS_OFF >> 3;
export const P_MISSES_IDX = P_MISSES_OFF >> 3;
export const P_SETS_IDX = P_SETS_OFF >> 3;
export const P_R_EXPIRED_IDX = P_R_EXPIRED_OFF >> 3;
export const P_R_EVICTED_IDX = P_R_EVICTED_OFF >> 3;
export const P_R_DELETED_IDX = P_R_DELETED_OFF >> 3;
export const P_R_CLEARED_IDX = P_R_CLEARED_OFF >> 3;
export const P_R_REPAIRED_IDX = P_R_REPAIRED_OFF >> 3;
export const P_EVICTED_LIVE_IDX = P_EVICTED_LIVE_OFF >> 3;
export const P_LOCK_RECOVERIES_IDX = P_LOCK_RECOVERIES_OFF >> 3;
export const P_LOCK_WAITS_IDX = P_LOCK_WAITS_OFF >> 3;
export const P_REPAIRS_IDX = P_REPAIRS_OFF >> 3;

// ---------------------------------------------------------------- slot table
/**
 * Each slot: u32 hash, u32 page-relative offset of the item (0 = empty), f64 access tick (the
 * entry's recency for LRU eviction; see nextTick in page/slots.ts). The tick is the one field written
 * without the page lock, by lock-free reads: a stray write there can only misorder recency.
 */
export const SLOT_SIZE = 16;
/** Slots per page are a multiple of this (not necessarily a power of two: see idealSlot). */
export const SLOT_GRAIN = 8;
/** A page accepts a new key only while fewer than this share of its slots is used. */
export const MAX_SLOT_LOAD = 0.75;

// ---------------------------------------------------------------- items
/**
 * Items start on 8-byte boundaries; this header precedes the key and value bytes. An item of
 * length `len` takes alignItem(len) bytes of the log (page/pages.ts).
 */
export const ITEM_HEADER_SIZE = 48;
/** Alignment of items in the log (the f64 fields of their headers need 8). */
export const ITEM_ALIGN = 8;

export const I_STATE_OFF = 0; //            u32 mutable: ITEM_LIVE or ITEM_DEAD (0 where an item would start: the log's end)
export const I_LEN_OFF = 4; //              u32 live item: header + key + value bytes; dead: that, or the length of a merged run
export const I_EXPIRES_OFF = 8; //          f64 mutable: absolute expiry in ms, 0 = never
export const I_TICK_OFF = 16; //            f64 mutable: access tick at the last write (or last compaction)
export const I_CREATED_OFF = 24; //         f64 ms since the epoch
export const I_CRC_OFF = 32; //             u32 crc32 of bytes [36, len)
export const I_HASH_OFF = 36; //            u32 keyed hash of the key
export const I_VERSION_OFF = 40; //         u32 page-wide write counter at the time of the write
export const I_KEY_LEN_OFF = 44; //         u16
export const I_TYPE_OFF = 46; //            u8 value type: 1 json, 2 v8, 3 raw, 4 all-ASCII json, 5 structured (0 is never valid)
export const I_PRIORITY_OFF = 47; //        u8 PRIORITY_CODES
export const I_CRC_START = 36;

/** Item priority bytes, and the priority each byte stands for. */
export const PRIORITY_CODES = { low: 0, normal: 1, high: 2 } as const;
export const PRIORITY_NAMES = ['low', 'normal', 'high'] as const;

/**
 * The state word of a live item, `LIVE` in ASCII, and of a dead one, `DEAD`. Whole words rather
 * than bits, so that flipped bits cannot turn a dead item live (resurrecting a deleted value) or a
 * live one silently dead: any other value where an item starts is damage, found by validation.
 */
export const ITEM_LIVE = 0x4556494c;
export const ITEM_DEAD = 0x44414544;

/** Largest single mapping the mmap binding can make (its size and offset are C ints). */
export const MAX_MAPPING_BYTES = 0x7fffffff;
/** Upper bound of page bytes per mapping, rounded down to whole pages at run time. */
export const DEFAULT_SEGMENT_BYTES = 0x40000000; // 1 GiB

/**
 * Upper bounds (ms, exclusive) of the buckets of TTL left at live evictions: under 1 s, then
 * factors of 4 up to 65,536 s (18.2 h), then longer; one more bucket follows them, for entries
 * that had no expiry. stats().evictedLiveTtl counts per bucket, in this order.
 */
export const EVICTED_TTL_BOUNDS: readonly number[] = Object.freeze([1e3, 4e3, 16e3, 64e3, 256e3, 1024e3, 4096e3, 16384e3, 65536e3, Infinity]);
/** Buckets of P_EVICTED_TTL: one per bound, and one for entries without expiry. */
export const EVICTED_TTL_BUCKETS = EVICTED_TTL_BOUNDS.length + 1;

/** The bucket of a live eviction with `left` ms to live (> 0; Infinity: no expiry). */
export function evictedTtlBucket(left: number): number {
  if (left === Infinity) return EVICTED_TTL_BUCKETS - 1;
  let i = 0;
  while (left >= EVICTED_TTL_BOUNDS[i]) i++;
  return i;
}

/** Marks a page mid-change (the sequence becomes odd); false if it already was. Lock held. */
export function beginChange(i32: Int32Array, b: number): boolean {
  const idx = (b >> 2) + P_DIRTY_IDX;
  if ((i32[idx] & 1) !== 0) return false;
  Atomics.add(i32, idx, 1);
  return true;
}

/** Ends a change (the sequence becomes even): readers that saw the old value retry. Lock held. */
export function endChange(i32: Int32Array, b: number): void {
  const idx = (b >> 2) + P_DIRTY_IDX;
  if ((i32[idx] & 1) !== 0) Atomics.add(i32, idx, 1);
}

/** True while a page is mid-change (or its writer died mid-change). */
export function inChange(i32: Int32Array, b: number): boolean {
  return (Atomics.load(i32, (b >> 2) + P_DIRTY_IDX) & 1) !== 0;
}
