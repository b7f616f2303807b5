/**
 * Creating, attaching to and reinitialising cache files. Produces an {@link Attachment}: the
 * mapped header and pages plus what the header says, from which SharedCache is built.
 */
import fs from 'node:fs';
import { sessmapError } from '../errors.js';
import {
  createExclusive, currentEpoch, fileIdentity, mapHeader, mapSegments, openSecure, readHeader, waitReady, writeHeader,
  type FileIdentity, type HeaderInfo, type Segment,
} from './file.js';
import { HEADER_SIZE, H_EPOCH_IDX, H_LISTINGS_OFF, H_RESIZE_LOCK_OFF, H_STATE_IDX, MAGIC, PAGES_OFF, P_FREE_IDX, STATE_INITIALISING, STATE_READY } from './layout.js';
import {
  DEFAULT_OPTIONS, computeGeometry, dataStart, planSegments, validateEnum, validateTtl, type FileGeometry, type SegmentPlan,
} from './options.js';
import { allocatedBytes, checkFreeSpace, populateForWrite, writeZeros } from './space.js';
import { initialLayout, layoutEnd, readLayout, type Layout } from './layout-record.js';
import type { CreateOptions, EvictionPolicy, SerializerName } from './types.js';

export interface Attachment {
  path: string;
  info: HeaderInfo;
  header: Segment;
  segments: Segment[];
  /** The mappings of `segments`, over the page slots of `layout`. */
  plans: SegmentPlan[];
  /** Where the pages are (the header's geometry until a resize publishes another). */
  layout: Layout;
  /** The most bytes a mapping takes (tests set it low to have several); undefined: the default. */
  segmentBytes: number | undefined;
  epoch: number;
  /** Device and inode of the file mapped, to tell whether its path still leads to it. */
  identity: FileIdentity;
}

/** Internal option for tests: bytes per mapping, to exercise several mappings on a small file. */
export interface InternalCreateOptions extends CreateOptions {
  _segmentBytes?: number;
}

const NOT_READY_WAIT_MS = 2000;

/** Opens an existing file: checks ownership and header, waits (bounded) for a creator to finish, maps it. */
export function attachExisting(file: string, segmentBytes?: number): Attachment {
  const deadline = Date.now() + NOT_READY_WAIT_MS;
  let rereads = 0;
  for (;;) {
    const fd = openSecure(file);
    try {
      let info: HeaderInfo;
      try {
        info = readHeader(fd, file);
      } catch (err) {
        // A file whose creator has not written the header yet reads as all zeros: wait for it.
        if (isBlankHeader(fd) && Date.now() < deadline) {
          sleepMs(5);
          continue;
        }
        if (isBlankHeader(fd)) throw sessmapError('SESSMAP_ERR_FILE_NOT_READY', `cache file ${file} has no header yet (its creator is still initialising it, or died doing so)`, { path: file });
        // The creator writes the header with one pwrite, but a read racing it can see part of it
        // (tmpfs readers do not wait for a writer's copy): read it again, twice, 5 ms apart, before
        // calling it foreign or corrupt.
        if (rereads++ < 2) {
          sleepMs(5);
          continue;
        }
        throw err;
      }
      const header = mapHeader(fd, file);
      waitReady(header, file, Math.max(0, deadline - Date.now()));
      return mapLayout(fd, file, info, header, segmentBytes);
    } finally {
      fs.closeSync(fd);
    }
  }
}

/**
 * Maps the pages of the file's current layout (`fd` open on `file`, whose header is `info` and
 * mapped as `header`): every page slot up to the layout's end. A file shorter than that is
 * SESSMAP_ERR_FILE_TRUNCATED. Also used by a handle that finds a new layout (cache/handle.ts, relayout).
 */
export function mapLayout(fd: number, file: string, info: HeaderInfo, header: Segment, segmentBytes?: number): Attachment {
  const layout = readLayout(header, info.pageCount, file);
  const st = fs.fstatSync(fd);
  const end = layoutEnd(layout, info.pageSize);
  if (st.size < end) {
    throw sessmapError('SESSMAP_ERR_FILE_TRUNCATED', `cache file ${file} is truncated: ${st.size} bytes, its layout ends at ${end}`, { path: file, size: st.size, expected: end });
  }
  const plans = planSegments({ ...info, pageCount: layout.slots, fileSize: end }, segmentBytes);
  const segments = mapSegments(fd, file, plans, info.pageSize);
  allocateHoles(header, segments, plans, layout, file, info.pageSize, st);
  const current = { ...info, pageCount: layout.moving ? layout.toCount : layout.count, fileSize: end };
  return { path: file, info: current, header, segments, plans, layout, segmentBytes, epoch: currentEpoch(header), identity: fileIdentity(st) };
}

/**
 * A file with fewer blocks than bytes (made sparse by an older sessmap, or copied without its
 * holes) would kill a writer with SIGBUS once its filesystem fills up: allocate the holes now,
 * without changing a byte (other processes may be using the data), or refuse with
 * SESSMAP_ERR_NO_SPACE. On a kernel without MADV_POPULATE_WRITE (before Linux 5.14) only the
 * free-space check is made.
 */
function allocateHoles(header: Segment, segments: Segment[], plans: SegmentPlan[], layout: Layout, file: string, pageSize: number, st: fs.Stats): void {
  // Only the runs in use: a run a resize retired was released on purpose (resize.ts).
  const runs: [number, number][] = [[layout.first, layout.count]];
  if (layout.moving) runs.push([layout.toFirst, layout.toCount]);
  const size = PAGES_OFF + runs.reduce((n, [, c]) => n + c * pageSize, 0);
  const missing = size - allocatedBytes(st);
  if (missing <= 0) return;
  const what = `attaching to it (the file is sparse: ${allocatedBytes(st)} of its ${size} bytes in use have blocks)`;
  checkFreeSpace(file, size, missing, what);
  const parts: Segment[] = [header];
  for (const [first, count] of runs) {
    plans.forEach((plan, si) => {
      const from = Math.max(first, plan.firstPage);
      const to = Math.min(first + count, plan.firstPage + plan.pageCount);
      if (from < to) parts.push({ buf: segments[si].buf.subarray((from - plan.firstPage) * pageSize, (to - plan.firstPage) * pageSize) } as Segment);
    });
  }
  populateForWrite(parts, file, size, missing, what);
}

function isBlankHeader(fd: number): boolean {
  const head = Buffer.alloc(MAGIC.length);
  const n = fs.readSync(fd, head, 0, head.length, 0);
  return n === 0 || head.every((x) => x === 0);
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Creates a file, or handles an existing one as `ifExists` says. */
export function createOrAttach(file: string, options: InternalCreateOptions): Attachment {
  const g = computeGeometry(options);
  const policy = options.evictionPolicy === undefined ? DEFAULT_OPTIONS.evictionPolicy : validateEnum<EvictionPolicy>('evictionPolicy', options.evictionPolicy, ['lru', 'none']);
  const serializer = options.serializer === undefined ? DEFAULT_OPTIONS.serializer : validateEnum<SerializerName>('serializer', options.serializer, ['json', 'v8', 'raw', 'structured']);
  const defaultTtl = options.defaultTtl === undefined ? DEFAULT_OPTIONS.defaultTtl : validateTtl('defaultTtl', options.defaultTtl);
  const ifExists = options.ifExists === undefined ? DEFAULT_OPTIONS.ifExists : validateEnum('ifExists', options.ifExists, ['error', 'attach', 'reinit'] as const);
  const plans = planSegments(g, options._segmentBytes);
  const clock = options.clock ?? Date.now;

  const fd = createExclusive(file);
  if (fd !== undefined) {
    try {
      return initialise(fd, file, g, plans, options._segmentBytes, policy, serializer, defaultTtl, clock(), false);
    } catch (err) {
      // Nothing of ours is in the file yet beyond what this call wrote: remove the half-made file.
      try {
        fs.unlinkSync(file);
      } catch {
        // already gone
      }
      throw err;
    } finally {
      fs.closeSync(fd);
    }
  }
  if (ifExists === 'error') {
    throw sessmapError('SESSMAP_ERR_FILE_EXISTS', `cache file ${file} already exists; pass ifExists: 'attach' to use it or 'reinit' to wipe it`, { path: file });
  }
  if (ifExists === 'attach') {
    const att = attachExisting(file, options._segmentBytes);
    // During a resize, options naming either layout's page count are the file's.
    const have = att.layout.moving && g.pageCount === att.layout.count ? { ...att.info, pageCount: att.layout.count } : att.info;
    const diffs = geometryDiffs(options, g, policy, have);
    if (diffs.length > 0) {
      throw sessmapError(
        'SESSMAP_ERR_GEOMETRY_MISMATCH',
        `cache file ${file} was created with other options: ${diffs.join('; ')}. The file was left as it is. To use it as it ` +
          `is, open it without these options (SharedCache.open, or create without size, pageSize, pageCount, slotsPerPage, ` +
          `maxKeyBytes and evictionPolicy; setupPrimary and openSessionStore without size, maxSessions and pageSize): its ` +
          `geometry comes from the file. To give it the new options, when no process uses it, delete ${file} or create it ` +
          `with ifExists: 'reinit' (its entries are lost). Or give this cache a path of its own`,
        { path: file, differences: diffs },
      );
    }
    return att;
  }
  const rfd = openSecure(file);
  try {
    const head = Buffer.alloc(MAGIC.length);
    fs.readSync(rfd, head, 0, head.length, 0);
    if (!head.equals(MAGIC)) {
      throw sessmapError('SESSMAP_ERR_FILE_FOREIGN', `${file} is not a sessmap cache file; reinit only wipes sessmap files`, { path: file });
    }
    return initialise(rfd, file, g, plans, options._segmentBytes, policy, serializer, defaultTtl, clock(), true);
  } finally {
    fs.closeSync(rfd);
  }
}

/** What an existing file's header contradicts among the options the caller set explicitly. */
function geometryDiffs(o: CreateOptions, g: FileGeometry, policy: EvictionPolicy, info: HeaderInfo): string[] {
  const diffs: string[] = [];
  const check = (name: string, given: unknown, want: number | string, have: number | string): void => {
    if (given !== undefined && want !== have) diffs.push(`${name} is ${have} in the file, ${want} in the options`);
  };
  check('pageSize', o.pageSize ?? (o.size !== undefined ? o.size : undefined), g.pageSize, info.pageSize);
  check('pageCount', o.pageCount ?? o.size, g.pageCount, info.pageCount);
  check('slotsPerPage', o.slotsPerPage, g.slotsPerPage, info.slotsPerPage);
  check('maxKeyBytes', o.maxKeyBytes, g.maxKeyBytes, info.maxKeyBytes);
  check('evictionPolicy', o.evictionPolicy, policy, info.policy);
  return diffs;
}

/**
 * Lays out a file: every block allocated first (so that no store through a mapping can meet a
 * full filesystem), then the header (written with pwrite, so a concurrent opener sees zeros or
 * all of it), then every page, then the ready mark. On reinit, the blocks the file lacks are
 * allocated before anything changes (a reinit without room leaves the file as it was), then the
 * epoch is bumped so that handles attached to the old layout fail with SESSMAP_ERR_STALE_HANDLE,
 * and the pages are wiped; the file never shrinks (their mappings stay valid).
 */
function initialise(fd: number, file: string, g: FileGeometry, plans: SegmentPlan[], segmentBytes: number | undefined, policy: EvictionPolicy,
  serializer: SerializerName, defaultTtl: number, now: number, reinit: boolean): Attachment {
  let header: Segment | undefined;
  let segments: Segment[] | undefined;
  try {
    if (reinit) {
      segments = reserveForReinit(fd, file, g, plans);
      header = mapHeader(fd, file);
      Atomics.store(header.i32, H_STATE_IDX, STATE_INITIALISING);
      Atomics.add(header.i32, H_EPOCH_IDX, 1);
      // The layout is the header's again: no resize record, no resizer (its handles are stale too).
      header.buf.fill(0, H_RESIZE_LOCK_OFF, H_LISTINGS_OFF);
      // The wipe: pwrite, not a store through the mapping, so that a hole left by a kernel without
      // MADV_POPULATE_WRITE is an ENOSPC here rather than a SIGBUS.
      writeZeros(fd, file, HEADER_SIZE, g.fileSize, g.fileSize, 'reinitialising it (the file was left marked initialising: reinit it again once there is room)');
    } else {
      checkFreeSpace(file, g.fileSize, g.fileSize, 'creating it');
      writeZeros(fd, file, 0, g.fileSize, g.fileSize, 'creating it');
    }
    const head = Buffer.alloc(HEADER_SIZE);
    writeHeader(head, g, policy, serializer, defaultTtl, now);
    fs.writeSync(fd, head, 0, 100, 0);
    header ??= mapHeader(fd, file);
    const segs = segments ?? mapSegments(fd, file, plans, g.pageSize);
    const ds = dataStart(g.slotsPerPage);
    plans.forEach((plan, si) => {
      const seg = segs[si];
      for (let i = 0; i < plan.pageCount; i++) seg.u32[((i * g.pageSize) >> 2) + P_FREE_IDX] = ds;
    });
    Atomics.store(header.i32, H_STATE_IDX, STATE_READY);
    const info = readHeader(fd, file);
    return { path: file, info, header, segments: segs, plans, layout: initialLayout(g.pageCount), segmentBytes, epoch: currentEpoch(header), identity: fileIdentity(fs.fstatSync(fd)) };
  } catch (err) {
    if ((err as { code?: string }).code?.startsWith('SESSMAP_ERR_')) throw err;
    throw sessmapError('SESSMAP_ERR_IO', `initialising ${file} failed: ${(err as Error).message}`, { path: file }, err);
  }
}

/**
 * Before a reinit changes anything: checks the free space for the blocks the file lacks (a
 * larger geometry, or holes of a sparse file), grows the file, maps the new layout and allocates
 * its blocks without changing a byte. Without room it throws SESSMAP_ERR_NO_SPACE with the file
 * as it was (its old size restored).
 */
function reserveForReinit(fd: number, file: string, g: FileGeometry, plans: SegmentPlan[]): Segment[] {
  const st = fs.fstatSync(fd);
  const missing = g.fileSize - allocatedBytes(st);
  const what = 'reinitialising it (the file was left as it was)';
  checkFreeSpace(file, g.fileSize, missing, what);
  const grows = st.size < g.fileSize;
  if (grows) fs.ftruncateSync(fd, g.fileSize);
  try {
    const segments = mapSegments(fd, file, plans, g.pageSize);
    if (missing > 0) populateForWrite(segments, file, g.fileSize, missing, what);
    return segments;
  } catch (err) {
    if (grows) fs.ftruncateSync(fd, st.size);
    throw err;
  }
}
