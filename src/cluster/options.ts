/**
 * Options of the session service (setupPrimary, attachWorker, openSessionStore), validated once.
 */
import path from 'node:path';
import { defaultCacheDir } from '../core/index.js';
import { sessmapError } from '../errors.js';
import { parseSize, validateBoolean, validateEnum, validateFunction, validateInt, validateTimeout } from '../core/options.js';
import { defaultUserIdOf } from '../adapters/service.js';
import { silentLogger, type Logger } from '../events/log.js';

export type SessionEvictionPolicy = 'lru' | 'none' | 'protect-authenticated';

export interface SessionServiceOptions {
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
  /** Idle timeout in ms. @default 1_800_000 (30 min) */
  idleTimeout?: number;
  /** Absolute lifetime in ms; 0 or Infinity for none. @default 86_400_000 (24 h) */
  absoluteTimeout?: number;
  /**
   * 'protect-authenticated': LRU, but sessions without a user are evicted before any with one.
   * 'lru': plain LRU. 'none': never evict a live session (writes fail with SESSMAP_ERR_CACHE_FULL).
   * @default 'protect-authenticated'
   */
  evictionPolicy?: SessionEvictionPolicy;
  /** Expired sessions are removed (and 'expired' emitted) within this many ms; 0 disables the sweeper. @default 1000 */
  sweepInterval?: number;
  /** Window of the aggregated 'capacity' event and warning. @default 10_000 */
  capacityInterval?: number;
  /** A pino logger (or anything with its shape). @default silent */
  logger?: Logger;
  /** Put raw session ids in events (never in logs). @default false */
  exposeIds?: boolean;
  /** An existing file: keep its sessions ('attach'), wipe it ('reinit') or refuse ('error'). @default 'attach' */
  ifExists?: 'attach' | 'reinit' | 'error';
  /** The user a session belongs to. @default data.userId ?? data.passport.user */
  userIdOf?: (data: unknown) => string | undefined;
  /** Bound on waiting for a lock held by a live process. @default 2000 */
  lockTimeout?: number;
  /** Time source (tests). @default Date.now */
  clock?: () => number;
}

export interface NormalisedOptions {
  path: string;
  size: number | undefined;
  sizeNote: string | undefined;
  pageSize: number | string | undefined;
  idleTimeout: number;
  absoluteTimeout: number;
  evictionPolicy: SessionEvictionPolicy;
  sweepInterval: number;
  capacityInterval: number;
  logger: Logger;
  exposeIds: boolean;
  ifExists: 'attach' | 'reinit' | 'error';
  userIdOf: (data: unknown) => string | undefined;
  lockTimeout: number;
  clock: () => number;
}

/** Per-session bytes beyond the data: item header, `s:` + 32-char id, record fields, slot. */
const PER_SESSION_OVERHEAD = 64 + 34 + 60 + 8;

export function normaliseServiceOptions(o: SessionServiceOptions): NormalisedOptions {
  let size = o.size === undefined ? undefined : parseSize('size', o.size);
  let sizeNote: string | undefined;
  if (o.maxSessions !== undefined) {
    const n = validateInt('maxSessions', o.maxSessions, 1, 1e9);
    const avg = o.averageSessionBytes === undefined ? 1024 : validateInt('averageSessionBytes', o.averageSessionBytes, 16, 16 * 1024 * 1024);
    if (size === undefined) {
      // 15% headroom: keys hash to pages unevenly, and a full page evicts.
      size = Math.ceil(((n * (avg + PER_SESSION_OVERHEAD)) / 0.85 + 4096) / 65536) * 65536;
      sizeNote = `sized for ${n} sessions of ~${avg} bytes: ${(size / 1024 / 1024).toFixed(1)} MiB`;
    }
  }
  const absolute = o.absoluteTimeout === undefined ? 86_400_000 : o.absoluteTimeout === Infinity ? 0 : o.absoluteTimeout;
  if (typeof absolute !== 'number' || !Number.isFinite(absolute) || absolute < 0) validateTimeout('absoluteTimeout', o.absoluteTimeout);
  return {
    path: o.path === undefined ? path.join(defaultCacheDir(), 'sessions.smap') : checkPath(o.path),
    size,
    sizeNote,
    pageSize: o.pageSize,
    idleTimeout: o.idleTimeout === undefined ? 1_800_000 : validateTimeout('idleTimeout', o.idleTimeout),
    absoluteTimeout: absolute,
    evictionPolicy: o.evictionPolicy === undefined ? 'protect-authenticated' : validateEnum('evictionPolicy', o.evictionPolicy, ['lru', 'none', 'protect-authenticated']),
    sweepInterval: o.sweepInterval === undefined ? 1000 : o.sweepInterval === 0 ? 0 : validateTimeout('sweepInterval', o.sweepInterval),
    capacityInterval: o.capacityInterval === undefined ? 10_000 : validateTimeout('capacityInterval', o.capacityInterval),
    logger: o.logger ?? silentLogger,
    exposeIds: o.exposeIds === undefined ? false : validateBoolean('exposeIds', o.exposeIds),
    ifExists: o.ifExists === undefined ? 'attach' : validateEnum('ifExists', o.ifExists, ['attach', 'reinit', 'error']),
    userIdOf: o.userIdOf === undefined ? defaultUserIdOf : validateFunction('userIdOf', o.userIdOf),
    lockTimeout: o.lockTimeout === undefined ? 2000 : validateTimeout('lockTimeout', o.lockTimeout),
    clock: o.clock ?? Date.now,
  };
}

function checkPath(p: unknown): string {
  if (typeof p !== 'string' || p.length === 0) {
    throw sessmapError('SESSMAP_ERR_INVALID_OPTION', 'option "path" must be a non-empty file path', { option: 'path' });
  }
  return path.resolve(p);
}
