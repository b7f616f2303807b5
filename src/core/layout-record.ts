/**
 * The layout record: where a file's pages are. A file starts with one layout, its header's page
 * count from the first page slot; each online resize publishes a new one. Page slots are counted
 * in page sizes from PAGES_OFF, so a layout is a run of them: `first` and `count`. During a
 * resize the record names two runs, the layout being left (`first`, `count`) and the one being
 * filled (`toFirst`, `toCount`); once every page of the first is moved, a record of the second
 * alone is published, and the run left behind is `retired` (its pages are released after a
 * grace period, see resize.ts).
 *
 * Two copies in the header (H_RECORDS_OFF), the active one `generation & 1`: the resizer writes
 * the other copy whole, with its CRC, then publishes it with one store of the generation. A
 * resizer killed at any point leaves the active record as it was. Readers take no lock:
 * generation, copy, CRC, generation again. See docs/file-format.md, "Online resize".
 */
import { crc32 } from 'node:zlib';
import { sessmapError } from '../errors.js';
import type { Segment } from './file.js';
import { H_LAYOUT_GEN_IDX, H_RECORDS_OFF, H_RECORD_SIZE, PAGES_OFF } from './layout.js';
import { MAX_PAGE_COUNT } from './options.js';

export interface Layout {
  /** The generation this record was published as (0: the file as created, no record). */
  gen: number;
  /** A resize is moving the pages of `first..` to `toFirst..`. */
  moving: boolean;
  first: number;
  count: number;
  toFirst: number;
  toCount: number;
  /** Page slots the file holds from PAGES_OFF (its length is PAGES_OFF + slots x pageSize or more). */
  slots: number;
  /** The run the last finished resize left, and when: released after the grace period. */
  retiredFirst: number;
  retiredCount: number;
  retiredAt: number;
  /** When the resize under way began, and the pid of the process that began it. */
  startedAt: number;
  pid: number;
}

const R_GEN = 0;
const R_STATE = 4;
const R_FIRST = 8;
const R_COUNT = 12;
const R_TO_FIRST = 16;
const R_TO_COUNT = 20;
const R_SLOTS = 24;
const R_RETIRED_FIRST = 28;
const R_RETIRED_COUNT = 32;
const R_PID = 36;
const R_RETIRED_AT = 40;
const R_STARTED_AT = 48;
const R_CRC = 56;

/** The layout of a file no resize has touched: every page slot, from the first. */
export function initialLayout(pageCount: number): Layout {
  return { gen: 0, moving: false, first: 0, count: pageCount, toFirst: 0, toCount: 0, slots: pageCount, retiredFirst: 0, retiredCount: 0, retiredAt: 0, startedAt: 0, pid: 0 };
}

/** The layout pages are hashed to: during a resize, the one being filled. */
export function targetCount(l: Layout): number {
  return l.moving ? l.toCount : l.count;
}

/** The bytes from the start of the file to the end of its last page slot. */
export function layoutEnd(l: Layout, pageSize: number): number {
  return PAGES_OFF + l.slots * pageSize;
}

export function currentGeneration(header: Segment): number {
  return Atomics.load(header.u32, H_LAYOUT_GEN_IDX);
}

/**
 * The active layout record (`initialLayout(pageCount)` while there is none). A record that fails
 * its CRC while the generation holds still, or names impossible runs, is SESSMAP_ERR_FILE_CORRUPT.
 */
export function readLayout(header: Segment, pageCount: number, file: string): Layout {
  for (let tries = 0; ; tries++) {
    const gen = currentGeneration(header);
    if (gen === 0) return initialLayout(pageCount);
    const at = H_RECORDS_OFF + (gen & 1) * H_RECORD_SIZE;
    const buf = header.buf;
    const l: Layout = {
      gen: buf.readUInt32LE(at + R_GEN),
      moving: buf.readUInt32LE(at + R_STATE) === 1,
      first: buf.readUInt32LE(at + R_FIRST),
      count: buf.readUInt32LE(at + R_COUNT),
      toFirst: buf.readUInt32LE(at + R_TO_FIRST),
      toCount: buf.readUInt32LE(at + R_TO_COUNT),
      slots: buf.readUInt32LE(at + R_SLOTS),
      retiredFirst: buf.readUInt32LE(at + R_RETIRED_FIRST),
      retiredCount: buf.readUInt32LE(at + R_RETIRED_COUNT),
      pid: buf.readUInt32LE(at + R_PID),
      retiredAt: buf.readDoubleLE(at + R_RETIRED_AT),
      startedAt: buf.readDoubleLE(at + R_STARTED_AT),
    };
    const crcOk = buf.readUInt32LE(at + R_CRC) === crc32(buf.subarray(at, at + R_CRC));
    if (currentGeneration(header) !== gen) continue; // a resizer published meanwhile: read again
    if (!crcOk || l.gen !== gen || !sane(l)) {
      if (tries < 2) continue;
      throw sessmapError('SESSMAP_ERR_FILE_CORRUPT', `cache file ${file} has a corrupt layout record (generation ${gen}): ${crcOk ? 'it describes impossible page runs' : 'its checksum does not match'}`, { path: file, generation: gen });
    }
    return l;
  }
}

function sane(l: Layout): boolean {
  const run = (first: number, count: number): boolean => count >= 1 && count <= MAX_PAGE_COUNT && first + count <= l.slots;
  if (l.slots < 1 || l.slots > 2 * MAX_PAGE_COUNT || !run(l.first, l.count)) return false;
  if (l.retiredCount !== 0 && !run(l.retiredFirst, l.retiredCount)) return false;
  if (!l.moving) return true;
  return run(l.toFirst, l.toCount) && (l.toFirst >= l.first + l.count || l.toFirst + l.toCount <= l.first);
}

/** Writes `l` into the inactive copy and publishes it (one store of the generation); returns it with its generation. */
export function publishLayout(header: Segment, l: Omit<Layout, 'gen'>): Layout {
  const gen = (currentGeneration(header) + 1) >>> 0;
  const at = H_RECORDS_OFF + (gen & 1) * H_RECORD_SIZE;
  const buf = header.buf;
  buf.fill(0, at, at + H_RECORD_SIZE);
  buf.writeUInt32LE(gen, at + R_GEN);
  buf.writeUInt32LE(l.moving ? 1 : 0, at + R_STATE);
  buf.writeUInt32LE(l.first, at + R_FIRST);
  buf.writeUInt32LE(l.count, at + R_COUNT);
  buf.writeUInt32LE(l.toFirst, at + R_TO_FIRST);
  buf.writeUInt32LE(l.toCount, at + R_TO_COUNT);
  buf.writeUInt32LE(l.slots, at + R_SLOTS);
  buf.writeUInt32LE(l.retiredFirst, at + R_RETIRED_FIRST);
  buf.writeUInt32LE(l.retiredCount, at + R_RETIRED_COUNT);
  buf.writeUInt32LE(l.pid, at + R_PID);
  buf.writeDoubleLE(l.retiredAt, at + R_RETIRED_AT);
  buf.writeDoubleLE(l.startedAt, at + R_STARTED_AT);
  buf.writeUInt32LE(crc32(buf.subarray(at, at + R_CRC)), at + R_CRC);
  Atomics.store(header.u32, H_LAYOUT_GEN_IDX, gen);
  return { ...l, gen };
}

/** The page slots of a layout in the order a handle numbers them: the old run, then (moving) the new one. */
export function viewOf(l: Layout): number[] {
  const v: number[] = [];
  for (let i = 0; i < l.count; i++) v.push(l.first + i);
  if (l.moving) for (let i = 0; i < l.toCount; i++) v.push(l.toFirst + i);
  return v;
}
