/**
 * What the primary hands its workers, and what a worker may say about it.
 *
 * The primary sets the cluster's options up once (setupPrimary) and hands them to every worker
 * through the environment, so the app's own `cluster.fork()` carries them. Some options hold for
 * the whole cluster: the file and its geometry, the timeouts, the eviction policy, whether events
 * carry raw ids, the sweeper. A worker (attachWorker, or an adapter constructed in a worker) may
 * repeat them (one options object shared by the primary and the workers is the common case) but
 * not contradict them: a worker that would run with another idle timeout, eviction policy or file
 * size than the primary fails with SESSMAP_ERR_OPTION_CONFLICT, naming both values, instead of
 * its own value winning silently in that worker alone. Per-process options (logger, userIdOf,
 * clock, lockTimeout) are each process's own.
 */
import { sessmapError } from '../errors.js';
import { DEFAULT_OPTIONS, parseSize } from '../core/options.js';
import { normaliseServiceOptions, type NormalisedOptions, type SessionEvictionPolicy, type SessionServiceOptions } from './options.js';

export const CONFIG_ENV = 'SESSMAP_SESSION_SERVICE';

/** The cluster-wide options, as the primary normalised them. */
export interface WorkerConfig {
  path: string;
  /** The file size the primary asked for, in bytes. */
  size: number;
  /** The file's page size. */
  pageSize: number;
  idleTimeout: number;
  absoluteTimeout: number;
  evictionPolicy: SessionEvictionPolicy;
  exposeIds: boolean;
  sweepInterval: number;
  capacityInterval: number;
  ifExists: NormalisedOptions['ifExists'];
  /** The primary's own; a worker's lockTimeout is its own. */
  lockTimeout: number;
}

/** The config of a primary with options `o` whose file has `pageSize`. */
export function workerConfigOf(o: NormalisedOptions, pageSize: number): WorkerConfig {
  return {
    path: o.path,
    size: o.size ?? DEFAULT_OPTIONS.size,
    pageSize,
    idleTimeout: o.idleTimeout,
    absoluteTimeout: o.absoluteTimeout,
    evictionPolicy: o.evictionPolicy,
    exposeIds: o.exposeIds,
    sweepInterval: o.sweepInterval,
    capacityInterval: o.capacityInterval,
    ifExists: o.ifExists,
    lockTimeout: o.lockTimeout,
  };
}

/** The options that hold for the whole cluster, by the name a worker would give them. */
const CLUSTER_WIDE = ['path', 'size', 'maxSessions', 'averageSessionBytes', 'pageSize', 'idleTimeout', 'absoluteTimeout', 'evictionPolicy', 'exposeIds', 'sweepInterval', 'capacityInterval', 'ifExists'] as const;

/**
 * Throws SESSMAP_ERR_OPTION_CONFLICT when an option `given` in a worker contradicts the
 * primary's `config`; options the worker leaves out, or gives the same, are fine.
 */
export function checkWorkerOptions(config: WorkerConfig, given: SessionServiceOptions): void {
  const named = CLUSTER_WIDE.filter((k) => given[k] !== undefined);
  if (named.length === 0) return;
  // The worker's options normalised as the primary would have (validation included).
  const w = normaliseServiceOptions(Object.fromEntries(named.map((k) => [k, given[k]])) as SessionServiceOptions);
  const differs = (option: string, mine: unknown, theirs: unknown): void => {
    if (mine === theirs) return;
    throw sessmapError(
      'SESSMAP_ERR_OPTION_CONFLICT',
      `option "${option}" is ${show(mine)} in this worker but ${show(theirs)} in the cluster primary; ` +
        'the primary\'s setupPrimary() options hold for the whole cluster: set it there, or leave it out in the worker',
      { option, worker: mine, primary: theirs },
    );
  };
  for (const k of named) {
    switch (k) {
      case 'path':
        differs(k, w.path, config.path);
        break;
      case 'size':
      case 'maxSessions':
      case 'averageSessionBytes':
        if (w.size !== undefined) differs(given.size !== undefined ? 'size' : 'maxSessions', w.size, config.size);
        break;
      case 'pageSize':
        differs(k, parseSize('pageSize', given.pageSize as number | string), config.pageSize);
        break;
      default:
        differs(k, w[k], config[k]);
    }
  }
}

function show(v: unknown): string {
  return typeof v === 'string' ? `'${v}'` : String(v);
}
