/**
 * The session options: what a session is (its timeouts, who it belongs to, which sessions a full
 * store gives up first) and how it is reported (events, logs), whatever backend keeps it.
 * Validated once, here; the backend's own options (a file, a server) are its own module's.
 */
import { validateBoolean, validateEnum, validateFunction, validateTimeout } from '../util/validate.js';
import { silentLogger, type Logger } from '../events/logger.js';

export type SessionEvictionPolicy = 'lru' | 'none' | 'protect-authenticated';

export interface SessionOptions {
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
  /** The user a session belongs to. @default data.userId ?? data.passport.user */
  userIdOf?: (data: unknown) => string | undefined;
  /** Time source (tests). @default Date.now */
  clock?: () => number;
}

/** Defaults of {@link SessionOptions} (`logger`, `userIdOf` and `clock` aside). */
export const DEFAULT_SESSION_OPTIONS = Object.freeze({
  idleTimeout: 1_800_000,
  absoluteTimeout: 86_400_000,
  evictionPolicy: 'protect-authenticated' as SessionEvictionPolicy,
  sweepInterval: 1000,
  capacityInterval: 10_000,
  exposeIds: false,
});

export interface NormalisedSessionOptions {
  idleTimeout: number;
  /** 0 = none */
  absoluteTimeout: number;
  evictionPolicy: SessionEvictionPolicy;
  /** 0 = no sweeper */
  sweepInterval: number;
  capacityInterval: number;
  logger: Logger;
  exposeIds: boolean;
  userIdOf: (data: unknown) => string | undefined;
  clock: () => number;
}

/** The session options that hold for a whole cluster (a worker may repeat them, never contradict them). */
export const CLUSTER_WIDE_SESSION_OPTIONS = ['idleTimeout', 'absoluteTimeout', 'evictionPolicy', 'exposeIds', 'sweepInterval', 'capacityInterval'] as const;

/** The default `userIdOf`: `data.userId`, else passport's `data.passport.user`. */
export function defaultUserIdOf(data: unknown): string | undefined {
  if (data === null || typeof data !== 'object') return undefined;
  const d = data as { userId?: unknown; passport?: { user?: unknown } };
  const u = d.userId ?? d.passport?.user;
  if (u === undefined || u === null || u === '') return undefined;
  return typeof u === 'string' ? u : typeof u === 'number' || typeof u === 'bigint' ? String(u) : undefined;
}

/** Validates the session options of `o` (other keys, a backend's, are left alone). */
export function normaliseSessionOptions(o: SessionOptions): NormalisedSessionOptions {
  const d = DEFAULT_SESSION_OPTIONS;
  const absolute = o.absoluteTimeout === undefined ? d.absoluteTimeout : o.absoluteTimeout === Infinity ? 0 : o.absoluteTimeout;
  if (typeof absolute !== 'number' || !Number.isFinite(absolute) || absolute < 0) validateTimeout('absoluteTimeout', o.absoluteTimeout);
  return {
    idleTimeout: o.idleTimeout === undefined ? d.idleTimeout : validateTimeout('idleTimeout', o.idleTimeout),
    absoluteTimeout: absolute,
    evictionPolicy: o.evictionPolicy === undefined ? d.evictionPolicy : validateEnum('evictionPolicy', o.evictionPolicy, ['lru', 'none', 'protect-authenticated']),
    sweepInterval: o.sweepInterval === undefined ? d.sweepInterval : o.sweepInterval === 0 ? 0 : validateTimeout('sweepInterval', o.sweepInterval),
    capacityInterval: o.capacityInterval === undefined ? d.capacityInterval : validateTimeout('capacityInterval', o.capacityInterval),
    logger: o.logger ?? silentLogger,
    exposeIds: o.exposeIds === undefined ? d.exposeIds : validateBoolean('exposeIds', o.exposeIds),
    userIdOf: o.userIdOf === undefined ? defaultUserIdOf : validateFunction('userIdOf', o.userIdOf),
    clock: o.clock ?? Date.now,
  };
}
