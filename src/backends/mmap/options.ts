/**
 * Options of the mmap backend: the file (where, how large, its page size, what to do with an
 * existing one) and the lock bound. Validated once, here; the session options are
 * sessions/options.ts's.
 */
import path from 'node:path';
import { defaultCacheDir } from '../../core/index.js';
import { DEFAULT_OPTIONS } from '../../core/options.js';
import { sessmapError } from '../../errors.js';
import { parseSize, validateEnum, validateInt, validateTimeout } from '../../util/validate.js';

export interface MmapBackendOptions {
  /** Cache file. @default join(defaultCacheDir(), 'sessions.smap') */
  path?: string;
  /** File size (bytes or '256m'). @default from maxSessions, else '64m' */
  size?: number | string;
  /** Size the file for this many sessions of `averageSessionBytes` (the computed size is logged). */
  maxSessions?: number;
  /** Average serialized session size in bytes, for `maxSessions`. @default 1024 */
  averageSessionBytes?: number;
  /** Bytes per page; the largest session is about half a page. @default chosen from the size */
  pageSize?: number | string;
  /** An existing file: keep its sessions ('attach'), wipe it ('reinit') or refuse ('error'). @default 'attach' */
  ifExists?: 'attach' | 'reinit' | 'error';
  /** Bound on waiting for a lock held by a live process. @default 2000 */
  lockTimeout?: number;
  /**
   * An existing file of another size than `size` / `maxSessions` ask for: resize it online, its
   * sessions kept ('resize', while the app serves), or refuse with SESSMAP_ERR_GEOMETRY_MISMATCH
   * ('error'). Only the primary (or a process on its own) resizes. @default 'resize'
   */
  ifSizeDiffers?: 'resize' | 'error';
}

/** Defaults of {@link MmapBackendOptions} (`path` aside: it depends on the environment). */
export const DEFAULT_MMAP_OPTIONS = Object.freeze({
  averageSessionBytes: 1024,
  ifExists: 'attach' as 'attach' | 'reinit' | 'error',
  lockTimeout: 2000,
  ifSizeDiffers: 'resize' as 'resize' | 'error',
});

export interface NormalisedMmapOptions {
  path: string;
  /** undefined: the core's default size */
  size: number | undefined;
  /** How `size` was derived from maxSessions, for the log. */
  sizeNote: string | undefined;
  pageSize: number | string | undefined;
  ifExists: 'attach' | 'reinit' | 'error';
  lockTimeout: number;
  ifSizeDiffers: 'resize' | 'error';
  /** pageSize was given (not derived from the size): a file of another page size is a mismatch, never resized. */
  pageSizeGiven: boolean;
}

/**
 * Per-session bytes beyond the data: item header, `s:` + 32-char id, record fields, and its
 * share of the slot table (16-byte slots, one per 192 page bytes) with the item's padding.
 */
const PER_SESSION_OVERHEAD = 48 + 34 + 60 + 24;

/** The file size for `maxSessions` sessions of `averageSessionBytes`, or undefined when neither `size` nor `maxSessions` is given. */
function sizeOf(o: MmapBackendOptions): { size: number | undefined; note: string | undefined } {
  let size = o.size === undefined ? undefined : parseSize('size', o.size);
  let note: string | undefined;
  if (o.maxSessions !== undefined) {
    const n = validateInt('maxSessions', o.maxSessions, 1, 1e9);
    const avg = o.averageSessionBytes === undefined ? DEFAULT_MMAP_OPTIONS.averageSessionBytes : validateInt('averageSessionBytes', o.averageSessionBytes, 16, 16 * 1024 * 1024);
    if (size === undefined) {
      // 15% headroom: keys hash to pages unevenly, and a full page evicts.
      size = Math.ceil(((n * (avg + PER_SESSION_OVERHEAD)) / 0.85 + 4096) / 65536) * 65536;
      note = `sized for ${n} sessions of ~${avg} bytes: ${(size / 1024 / 1024).toFixed(1)} MiB`;
    }
  }
  return { size, note };
}

export function normaliseMmapOptions(o: MmapBackendOptions): NormalisedMmapOptions {
  const { size, note } = sizeOf(o);
  return {
    path: o.path === undefined ? path.join(defaultCacheDir(), 'sessions.smap') : checkPath(o.path),
    size,
    sizeNote: note,
    pageSize: o.pageSize,
    ifExists: o.ifExists === undefined ? DEFAULT_MMAP_OPTIONS.ifExists : validateEnum('ifExists', o.ifExists, ['attach', 'reinit', 'error']),
    lockTimeout: o.lockTimeout === undefined ? DEFAULT_MMAP_OPTIONS.lockTimeout : validateTimeout('lockTimeout', o.lockTimeout),
    ifSizeDiffers: o.ifSizeDiffers === undefined ? DEFAULT_MMAP_OPTIONS.ifSizeDiffers : validateEnum('ifSizeDiffers', o.ifSizeDiffers, ['resize', 'error']),
    pageSizeGiven: o.pageSize !== undefined,
  };
}

/** The file size a primary with these options asked for (the core's default when none). */
export function requestedSize(o: NormalisedMmapOptions): number {
  return o.size ?? DEFAULT_OPTIONS.size;
}

function checkPath(p: unknown): string {
  if (typeof p !== 'string' || p.length === 0) {
    throw sessmapError('SESSMAP_ERR_INVALID_OPTION', 'option "path" must be a non-empty file path', { option: 'path' });
  }
  return path.resolve(p);
}
