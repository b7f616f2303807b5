/**
 * What the primary, a worker and a standalone process share: the cache handle wired to the
 * session service, with the cache's own removals, lock recoveries and repairs turned into events.
 */
import { SharedCache, type CreateOptions, type RemovalEvent } from '../core/index.js';
import { MmapBackend } from '../adapters/mmap-backend.js';
import type { StoredSession } from '../adapters/backend.js';
import { SessionService, type Emit } from '../adapters/service.js';
import { createEventBus, type EventBus } from '../events/bus.js';
import type { NormalisedOptions, SessionEvictionPolicy } from './options.js';

export interface Runtime {
  cache: SharedCache<unknown>;
  service: SessionService;
  bus: EventBus;
}

export function cachePolicy(p: SessionEvictionPolicy): 'lru' | 'none' {
  return p === 'none' ? 'none' : 'lru';
}

/**
 * Opens (mode 'open') or creates-or-attaches (mode 'create') the cache and builds the service.
 * `emit` receives every event this process originates.
 */
export function buildRuntime(mode: 'open' | 'create', o: Pick<NormalisedOptions, 'path' | 'size' | 'pageSize' | 'idleTimeout' | 'absoluteTimeout' | 'evictionPolicy' | 'exposeIds' | 'ifExists' | 'userIdOf' | 'lockTimeout' | 'clock'>, emit: Emit): Runtime {
  let service: SessionService | undefined;
  const hooks = {
    onRemove: (e: RemovalEvent) => {
      if (service === undefined || !e.key.startsWith('s:')) return;
      if (e.reason === 'expired' || e.reason === 'evicted') {
        service.removed({ id: e.key.slice(2), reason: e.reason, ttlLeft: e.ttlLeft, expiresAt: e.expiresAt, session: e.value as StoredSession | undefined });
      }
    },
    onLockRecovered: (e: { page: number; pid: number }) => emit('lockRecovered', { at: Date.now(), pid: process.pid, page: e.page, deadPid: e.pid }),
    onRepair: (e: { page: number; dropped: number; problems: readonly string[] }) =>
      emit('repaired', { at: Date.now(), pid: process.pid, page: e.page, dropped: e.dropped, problems: e.problems }),
    lockTimeout: o.lockTimeout,
    clock: o.clock,
    removalValues: true,
  };
  const cache =
    mode === 'open'
      ? SharedCache.open<unknown>(o.path, hooks)
      : SharedCache.create<unknown>(o.path, {
          ...hooks,
          ...(o.size !== undefined ? { size: o.size } : {}),
          ...(o.pageSize !== undefined ? { pageSize: o.pageSize } : {}),
          evictionPolicy: cachePolicy(o.evictionPolicy),
          ifExists: o.ifExists,
        } satisfies CreateOptions);
  const bus = createEventBus();
  const indexTtl = o.absoluteTimeout > 0 ? o.absoluteTimeout : 0;
  const backend = new MmapBackend(cache, { protectAuthenticated: o.evictionPolicy === 'protect-authenticated', indexTtl });
  service = new SessionService(backend, bus, emit, {
    idleTimeout: o.idleTimeout,
    absoluteTimeout: o.absoluteTimeout,
    exposeIds: o.exposeIds,
    userIdOf: o.userIdOf,
    clock: o.clock,
  });
  return { cache, service, bus };
}

/**
 * Expires sessions incrementally: every page is visited once per `interval` ms, a slice of pages
 * per tick, so 'expired' fires within one interval of the deadline without stalling the event loop.
 */
export function startSweeper(cache: SharedCache<unknown>, interval: number, onError: (err: unknown) => void): () => void {
  if (interval <= 0) return () => {};
  const pages = cache.geometry.pageCount;
  const slices = Math.max(1, Math.min(pages, Math.floor(interval / 20)));
  const perTick = Math.ceil(pages / slices);
  let cursor = 0;
  const timer = setInterval(() => {
    try {
      if (cache.closed) return;
      cache.purgeExpiredPages(cursor, perTick);
      cursor = (cursor + perTick) % pages;
    } catch (err) {
      onError(err);
    }
  }, interval / slices);
  timer.unref();
  return () => clearInterval(timer);
}
