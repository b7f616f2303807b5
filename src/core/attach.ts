/**
 * Creating, attaching to and reinitialising cache files. Produces an {@link Attachment}: the
 * mapped header and pages plus what the header says, from which SharedCache is built.
 */
import fs from 'node:fs';
import { sessmapError } from '../errors.js';
import {
  createExclusive, currentEpoch, mapHeader, mapSegments, openSecure, readHeader, waitReady, writeHeader,
  type HeaderInfo, type Segment,
} from './file.js';
import { HEADER_SIZE, H_EPOCH_IDX, H_STATE_IDX, MAGIC, P_FREE_IDX, STATE_INITIALISING, STATE_READY } from './layout.js';
import {
  DEFAULT_OPTIONS, computeGeometry, dataStart, planSegments, validateEnum, validateTtl, type FileGeometry, type SegmentPlan,
} from './options.js';
import type { CreateOptions, EvictionPolicy, SerializerName } from './types.js';

export interface Attachment {
  path: string;
  info: HeaderInfo;
  header: Segment;
  segments: Segment[];
  plans: SegmentPlan[];
  epoch: number;
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
      const plans = planSegments(info, segmentBytes);
      const segments = mapSegments(fd, file, plans, info.pageSize);
      return { path: file, info, header, segments, plans, epoch: currentEpoch(header) };
    } finally {
      fs.closeSync(fd);
    }
  }
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
  const serializer = options.serializer === undefined ? DEFAULT_OPTIONS.serializer : validateEnum<SerializerName>('serializer', options.serializer, ['json', 'v8', 'raw']);
  const defaultTtl = options.defaultTtl === undefined ? DEFAULT_OPTIONS.defaultTtl : validateTtl('defaultTtl', options.defaultTtl);
  const ifExists = options.ifExists === undefined ? DEFAULT_OPTIONS.ifExists : validateEnum('ifExists', options.ifExists, ['error', 'attach', 'reinit'] as const);
  const plans = planSegments(g, options._segmentBytes);
  const clock = options.clock ?? Date.now;

  const fd = createExclusive(file);
  if (fd !== undefined) {
    try {
      return initialise(fd, file, g, plans, policy, serializer, defaultTtl, clock(), false);
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
    const diffs = geometryDiffs(options, g, policy, att.info);
    if (diffs.length > 0) {
      throw sessmapError('SESSMAP_ERR_GEOMETRY_MISMATCH', `cache file ${file} was created with different options: ${diffs.join('; ')}. The file was left as it is; open it without these options, or reinit it`, { path: file, differences: diffs });
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
    return initialise(rfd, file, g, plans, policy, serializer, defaultTtl, clock(), true);
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
 * Lays out a file: header (written with pwrite, so a concurrent opener sees zeros or all of
 * it), then every page, then the ready mark. On reinit, the epoch is bumped first so that
 * handles attached to the old layout fail with SESSMAP_ERR_STALE_HANDLE, and the file never
 * shrinks (their mappings stay valid).
 */
function initialise(fd: number, file: string, g: FileGeometry, plans: SegmentPlan[], policy: EvictionPolicy,
  serializer: SerializerName, defaultTtl: number, now: number, reinit: boolean): Attachment {
  let header: Segment | undefined;
  try {
    if (reinit) {
      header = mapHeader(fd, file);
      Atomics.store(header.i32, H_STATE_IDX, STATE_INITIALISING);
      Atomics.add(header.i32, H_EPOCH_IDX, 1);
    }
    const size = fs.fstatSync(fd).size;
    if (size < g.fileSize) fs.ftruncateSync(fd, g.fileSize);
    const head = Buffer.alloc(HEADER_SIZE);
    writeHeader(head, g, policy, serializer, defaultTtl, now);
    fs.writeSync(fd, head, 0, 100, 0);
    header ??= mapHeader(fd, file);
    const segments = mapSegments(fd, file, plans, g.pageSize);
    const ds = dataStart(g.slotsPerPage);
    plans.forEach((plan, si) => {
      const seg = segments[si];
      if (reinit) seg.buf.fill(0);
      for (let i = 0; i < plan.pageCount; i++) seg.u32[((i * g.pageSize) >> 2) + P_FREE_IDX] = ds;
    });
    Atomics.store(header.i32, H_STATE_IDX, STATE_READY);
    const info = readHeader(fd, file);
    return { path: file, info, header, segments, plans, epoch: currentEpoch(header) };
  } catch (err) {
    if ((err as { code?: string }).code?.startsWith('SESSMAP_ERR_')) throw err;
    throw sessmapError('SESSMAP_ERR_IO', `initialising ${file} failed: ${(err as Error).message}`, { path: file }, err);
  }
}
