/**
 * The ground a cache file stands on: every block of the file is allocated before any process
 * writes to it through a mapping.
 *
 * A store through a shared mapping into a block the filesystem cannot allocate (a sparse file on
 * a full tmpfs, the usual case in a container whose /dev/shm is 64 MiB) is not an error the
 * program can catch: the kernel kills the process with SIGBUS. So sessmap never leaves a hole in
 * a file it maps: a new file has its bytes written out with pwrite (which fails with ENOSPC, a
 * coded SESSMAP_ERR_NO_SPACE here), and the holes of an existing file (a reinit that grows it, a
 * file made sparse by an older sessmap) are allocated with MADV_POPULATE_WRITE, which faults
 * every page in for writing without changing a byte of it and reports a full filesystem as
 * EFAULT instead of a signal. Free space is checked first with statfs, so that the common case
 * fails fast and touches nothing.
 */
import fs from 'node:fs';
import path from 'node:path';
import { sessmapError, type SessmapError } from '../errors.js';
import { loadBinding } from './native.js';
import type { Segment } from './file.js';

/** Bytes written per pwrite when a file's blocks are written out. */
const CHUNK_BYTES = 4 * 1024 * 1024;
/** madvise(2) advice of Linux 5.14 and later: prefault pages writable, allocating their blocks. */
const MADV_POPULATE_WRITE = 23;
const EFAULT = 14;
const EINVAL = 22;

let zeros: Buffer | undefined;

type Advise = (buffer: Buffer, offset: number, length: number, advice: number) => void;

/** Bytes of the file that have blocks allocated (`st_blocks` counts 512-byte units). */
export function allocatedBytes(st: fs.Stats): number {
  return st.blocks * 512;
}

/** Bytes this process may still allocate on the filesystem holding `file` (root may use the reserved blocks). */
export function freeBytes(file: string): number {
  const s = fs.statfsSync(path.dirname(path.resolve(file)));
  return (process.getuid?.() === 0 ? s.bfree : s.bavail) * s.bsize;
}

function mib(n: number): string {
  return `${(n / 1048576).toFixed(1)} MiB`;
}

/** The coded error for a file whose blocks cannot all be had. */
export function noSpaceError(file: string, size: number, needed: number, free: number, what: string, cause?: unknown): SessmapError {
  return sessmapError(
    'SESSMAP_ERR_NO_SPACE',
    `no room for cache file ${file}: ${what} needs ${needed} bytes (${mib(needed)}) of new blocks for a file of ${size} bytes ` +
      `(${mib(size)}), and its filesystem has ${free} bytes (${mib(free)}) free. sessmap allocates every block up front, so that no write can ever ` +
      `meet a full filesystem (on tmpfs that kills the process with SIGBUS). Free space there or enlarge the filesystem ` +
      `(Docker: --shm-size; its /dev/shm is 64 MiB by default), choose a smaller size, or put the file elsewhere`,
    { path: file, size, needed, free },
    cause,
  );
}

/** Throws SESSMAP_ERR_NO_SPACE, touching nothing, when the filesystem has fewer than `needed` bytes free. */
export function checkFreeSpace(file: string, size: number, needed: number, what: string): void {
  if (needed <= 0) return;
  let free: number;
  try {
    free = freeBytes(file);
  } catch {
    return; // no statfs answer: the allocation below still finds out
  }
  if (free < needed) throw noSpaceError(file, size, needed, free, what);
}

function isNoSpace(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/**
 * Writes zeros over `[from, to)` of `fd`, allocating every block of that range. For ranges that
 * hold no data yet (a new file) or whose data is being wiped (a reinit). ENOSPC and EDQUOT become
 * SESSMAP_ERR_NO_SPACE; what was written stays written.
 */
export function writeZeros(fd: number, file: string, from: number, to: number, size: number, what: string): void {
  zeros ??= Buffer.alloc(CHUNK_BYTES);
  let off = from;
  try {
    while (off < to) {
      const n = fs.writeSync(fd, zeros, 0, Math.min(CHUNK_BYTES, to - off), off);
      if (n <= 0) throw Object.assign(new Error(`write of ${file} made no progress`), { code: 'ENOSPC' });
      off += n;
    }
  } catch (err) {
    if (!isNoSpace(err)) throw err;
    throw noSpaceError(file, size, to - off, safeFree(file), what, err);
  }
}

function safeFree(file: string): number {
  try {
    return freeBytes(file);
  } catch {
    return 0;
  }
}

/**
 * Allocates the blocks under every mapping in `segments` without changing a byte (the data of
 * other processes may be live there). Returns false when the kernel has no MADV_POPULATE_WRITE
 * (Linux before 5.14) or the binding no `advise`; a full filesystem is SESSMAP_ERR_NO_SPACE.
 */
export function populateForWrite(segments: readonly Segment[], file: string, size: number, needed: number, what: string): boolean {
  const advise = (loadBinding() as { advise?: Advise }).advise;
  if (typeof advise !== 'function') return false;
  for (const seg of segments) {
    try {
      advise(seg.buf, 0, seg.buf.length, MADV_POPULATE_WRITE);
    } catch (err) {
      const errno = Number(/failed, (\d+)/.exec((err as Error).message)?.[1]);
      if (errno === EINVAL) return false;
      if (errno === EFAULT) throw noSpaceError(file, size, needed, safeFree(file), what, err);
      throw sessmapError('SESSMAP_ERR_IO', `allocating the blocks of ${file} failed: ${(err as Error).message}`, { path: file, syscall: 'madvise', errno }, err);
    }
  }
  return true;
}
