/**
 * Writing an entry into a page: room for it (place), its item written from a descriptor in the
 * crash-safe order, then made live and published in its slot in place of the key's old item,
 * which is retired. See docs/file-format.md, "Crash consistency": a crash between any two
 * stores leaves either the old entry, or both whole copies (repair keeps the newer).
 */
import { crc32 } from 'node:zlib';
import { FAULTS, fault } from '../faults.js';
import type { Segment } from '../file.js';
import {
  ITEM_DEAD, ITEM_HEADER_SIZE, ITEM_LIVE, I_CRC_OFF, I_CRC_START, I_CREATED_OFF, I_EXPIRES_OFF, I_HASH_OFF,
  I_KEY_LEN_OFF, I_LEN_OFF, I_PRIORITY_OFF, I_STATE_OFF, I_TICK_OFF, I_TYPE_OFF, I_VERSION_OFF, P_COUNT_IDX,
  P_DEAD_BYTES_IDX, P_FREE_IDX, P_LIVE_BYTES_IDX, P_SETS_IDX, P_VERSION_IDX, P_WRITES_IDX, P_HOLE_HINT_IDX,
} from '../layout.js';
import { writeEncoded, type Encoded } from '../serializer.js';
import { place } from './evict.js';
import { noteDead, noteExpiry } from './log.js';
import { alignItem, extentOf, type Pages } from './pages.js';
import { findSlot, insertSlot, nextTick, setSlotOffset, slotOffset, tickIdx } from './slots.js';

/** An entry to write: one descriptor per handle, filled for each write (no allocation). */
export class ItemDraft {
  /** Keyed hash of the key (whose bytes are in the page engine's scratch). */
  hash = 0;
  keyLength = 0;
  value: Encoded = '';
  valueLength = 0;
  /** Item type byte (serializer type; TYPE_JSON_ASCII for all-ASCII JSON). */
  type = 0;
  /** Absolute expiry in ms, 0 for none. */
  expires = 0;
  priority = 1;
  /** Set by storeEntry: the time of the write, and its access tick (in the item header and the slot). */
  createdAt = 0;
  tick = 0;
  /**
   * A copy of an entry (a resize moving it): its createdAt, tick and version are given and kept
   * (the version is raised to the page's next one only if the page handed that out already).
   */
  copy = false;
  version = 0;
}

/**
 * Writes item `d` at `off` (from place(), whose holeAt says where it lies), taking `need` bytes
 * of the log, without making it findable: it stays dead until the caller sets its state word.
 * The key bytes are in scratch. The order of stores keeps the log walkable if the process dies
 * between any two.
 */
function writeItem(pg: Pages, s: Segment, b: number, off: number, need: number, d: ItemDraft): void {
  const a = b + off;
  const buf = s.buf;
  const u32 = s.u32;
  const f64 = s.f64;
  const hIdx = b >> 2;
  const klen = d.keyLength;
  const vlen = d.valueLength;
  const value = d.value;
  const version = d.copy && d.version > u32[hIdx + P_VERSION_IDX] ? d.version : (u32[hIdx + P_VERSION_IDX] + 1) >>> 0;
  u32[hIdx + P_VERSION_IDX] = version;
  f64[(a + I_EXPIRES_OFF) >> 3] = d.expires;
  noteExpiry(s, b, d.expires);
  f64[(a + I_TICK_OFF) >> 3] = d.tick;
  u32[(a + I_HASH_OFF) >> 2] = d.hash;
  u32[(a + I_VERSION_OFF) >> 2] = version;
  s.u16[(a + I_KEY_LEN_OFF) >> 1] = klen;
  buf[a + I_TYPE_OFF] = d.type;
  buf[a + I_PRIORITY_OFF] = d.priority;
  f64[(a + I_CREATED_OFF) >> 3] = d.createdAt;
  pg.scratch.copy(buf, a + ITEM_HEADER_SIZE, 0, klen);
  const vstart = a + ITEM_HEADER_SIZE + klen;
  if (FAULTS) {
    // Half the value, then the fault point: a write cut short.
    if (typeof value === 'string') buf.write(value.slice(0, value.length >> 1), vstart, 'utf8');
    else buf.set(value.subarray(0, vlen >> 1), vstart);
    fault('write:partial');
  }
  writeEncoded(buf, vstart, value, vlen, d.type);
  u32[(a + I_CRC_OFF) >> 2] = crc32(buf.subarray(a + I_CRC_START, vstart + vlen));
  const len = ITEM_HEADER_SIZE + klen + vlen;
  const holeAt = pg.holeAt;
  if (holeAt === 0) {
    // At the log's end, beyond which everything is zero: the state word publishes it to the log.
    u32[(a + I_LEN_OFF) >> 2] = len;
    u32[(a + I_STATE_OFF) >> 2] = ITEM_DEAD;
    u32[hIdx + P_FREE_IDX] = off + need;
    // Keep the next item's header position clear (stale bytes may lie past the end after damage).
    if (off + need + 16 <= pg.pageSize) buf.fill(0, a + need, a + need + 16);
  } else if (off !== holeAt) {
    // Inside a hole, at its end: the hole's own header still covers it until the hole shrinks.
    u32[(a + I_LEN_OFF) >> 2] = len;
    u32[(a + I_STATE_OFF) >> 2] = ITEM_DEAD;
    u32[(b + holeAt + I_LEN_OFF) >> 2] = off - holeAt;
    u32[hIdx + P_DEAD_BYTES_IDX] -= need;
  } else {
    // The item fills the hole exactly: it is dead until made live, and its length (the hole's
    // `need`, now the item's own) takes the same bytes of the log either way.
    u32[(a + I_LEN_OFF) >> 2] = len;
    u32[hIdx + P_DEAD_BYTES_IDX] -= need;
  }
}

/**
 * Stores entry `d` under the key in scratch, in page `page`: `si` is the key's slot (-1 for a
 * new key) and `off` its old item. Lock held, page marked mid-change. The old item stays whole
 * until the new one is live and published; a failure before that (no room) leaves it as it was.
 */
export function storeEntry(pg: Pages, page: number, s: Segment, b: number, si: number, off: number, d: ItemDraft, now: number): void {
  const need = alignItem(ITEM_HEADER_SIZE + d.keyLength + d.valueLength);
  const at = place(pg, page, s, b, need, si < 0, si >= 0 ? off : -1, now);
  const tick = d.copy ? d.tick : nextTick(now);
  if (!d.copy) {
    d.createdAt = now;
    d.tick = tick;
  }
  writeItem(pg, s, b, at, need, d);
  s.u32[(b + at + I_STATE_OFF) >> 2] = ITEM_LIVE;
  if (FAULTS) fault('write:unpublished');
  const hIdx = b >> 2;
  if (si >= 0) {
    // Compaction may have moved the old item: find its slot again, then swap in one store.
    const si2 = findSlot(pg, s, b, d.hash, d.keyLength);
    const old = slotOffset(s, b, si2);
    setSlotOffset(s, b, si2, at);
    s.f64[tickIdx(b, si2)] = tick;
    if (FAULTS) fault('write:published');
    const oldLen = extentOf(s, b + old);
    s.u32[(b + old + I_STATE_OFF) >> 2] = ITEM_DEAD;
    s.u32[hIdx + P_HOLE_HINT_IDX] = old;
    noteDead(s, b, old);
    s.u32[hIdx + P_LIVE_BYTES_IDX] -= oldLen;
    s.u32[hIdx + P_DEAD_BYTES_IDX] += oldLen;
  } else {
    insertSlot(pg, s, b, d.hash, at, tick);
    s.u32[hIdx + P_COUNT_IDX]++;
  }
  s.u32[hIdx + P_LIVE_BYTES_IDX] += need;
  s.u32[hIdx + P_WRITES_IDX + d.priority]++;
  s.f64[(b >> 3) + P_SETS_IDX]++;
}
