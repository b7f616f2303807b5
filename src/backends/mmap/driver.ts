/**
 * The mmap backend as the composition sees it (a {@link BackendDriver}): its options read from
 * the flat options object, the file opened (synchronously: setupPrimary creates the file before
 * it returns), and what a cluster worker needs to attach to the same file, through the
 * environment: the path, and the size and page size a worker's options are checked against.
 */
import { parseSize } from '../../util/validate.js';
import { sessmapError } from '../../errors.js';
import type { BackendContext, BackendDriver, ClusterWideOption, WorkerConfigValue } from '../../sessions/backend.js';
import { MmapBackend } from './backend.js';
import { DEFAULT_MMAP_OPTIONS, normaliseMmapOptions, requestedSize, type MmapBackendOptions, type NormalisedMmapOptions } from './options.js';

/** The options of this backend that hold for the whole cluster, by the name a worker would give them. */
const CLUSTER_WIDE = ['path', 'size', 'maxSessions', 'averageSessionBytes', 'pageSize', 'ifExists'] as const;

export interface MmapDriver extends BackendDriver<MmapBackend, NormalisedMmapOptions> {
  open(options: NormalisedMmapOptions, ctx: BackendContext): MmapBackend;
}

export const mmapDriver: MmapDriver = Object.freeze({
  name: 'mmap',

  normalise(o: Readonly<Record<string, unknown>>): NormalisedMmapOptions {
    return normaliseMmapOptions(o as MmapBackendOptions);
  },

  open(options: NormalisedMmapOptions, ctx: BackendContext): MmapBackend {
    return new MmapBackend(options, ctx);
  },

  workerConfig(o: NormalisedMmapOptions, backend: MmapBackend): Record<string, WorkerConfigValue> {
    return {
      path: o.path,
      size: requestedSize(o),
      pageSize: backend.cache.geometry.pageSize,
      ifExists: o.ifExists,
      // The primary's own; a worker's lockTimeout is its own.
      lockTimeout: o.lockTimeout,
    };
  },

  clusterWide(given: Readonly<Record<string, unknown>>): ClusterWideOption[] {
    const named = CLUSTER_WIDE.filter((k) => given[k] !== undefined);
    if (named.length === 0) return [];
    // The worker's options normalised as the primary's were (validation included).
    const w = normaliseMmapOptions(Object.fromEntries(named.map((k) => [k, given[k]])) as MmapBackendOptions);
    const out: ClusterWideOption[] = [];
    for (const k of named) {
      switch (k) {
        case 'path':
          out.push({ option: k, key: 'path', value: w.path });
          break;
        case 'size':
        case 'maxSessions':
        case 'averageSessionBytes':
          if (w.size !== undefined) out.push({ option: given.size !== undefined ? 'size' : 'maxSessions', key: 'size', value: w.size });
          break;
        case 'pageSize':
          out.push({ option: k, key: 'pageSize', value: parseSize('pageSize', given.pageSize as number | string) });
          break;
        default:
          out.push({ option: k, key: k, value: w[k] });
      }
    }
    return out;
  },

  workerOptions(config: Readonly<Record<string, WorkerConfigValue>>, given: Readonly<Record<string, unknown>>): NormalisedMmapOptions {
    const path = (given.path as string | undefined) ?? (config.path as string | undefined);
    if (path === undefined) {
      throw sessmapError('SESSMAP_ERR_NO_PRIMARY', 'attachWorker found no session service: call setupPrimary() in the primary before cluster.fork(), or pass { path }');
    }
    // A worker attaches: the geometry comes from the file, never from options.
    const lockTimeout = (given.lockTimeout as number | undefined) ?? (config.lockTimeout as number | undefined) ?? DEFAULT_MMAP_OPTIONS.lockTimeout;
    return normaliseMmapOptions({ path, ifExists: 'attach', lockTimeout });
  },

  describe(o: NormalisedMmapOptions, backend: MmapBackend): Record<string, unknown> {
    const g = backend.cache.geometry;
    return { path: o.path, size: g.fileSize, pages: g.pageCount, pageSize: g.pageSize, maxItemBytes: backend.cache.maxItemBytes };
  },
});
