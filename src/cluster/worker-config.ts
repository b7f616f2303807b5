/**
 * What the primary hands its workers, and what a worker may say about it.
 *
 * The primary sets the cluster's options up once (setupPrimary) and hands them to every worker
 * through the environment, so the app's own `cluster.fork()` carries them: which backend, what
 * its driver says a worker needs to reach the same store (for the mmap file: its path, size and
 * page size), and the session options that hold for the whole cluster: the timeouts, the
 * eviction policy, whether events carry raw ids, the sweeper. A worker (attachWorker, or an
 * adapter constructed in a worker) may repeat them (one options object shared by the primary and
 * the workers is the common case) but not contradict them: a worker that would run with another
 * idle timeout, eviction policy or file size than the primary fails with
 * SESSMAP_ERR_OPTION_CONFLICT, naming both values, instead of its own value winning silently in
 * that worker alone. Per-process options (logger, userIdOf, clock, lockTimeout) are each
 * process's own.
 */
import { sessmapError } from '../errors.js';
import type { BackendName } from '../backends/select.js';
import type { BackendDriver, WorkerConfigValue } from '../sessions/backend.js';
import { CLUSTER_WIDE_SESSION_OPTIONS, normaliseSessionOptions, type NormalisedSessionOptions, type SessionOptions } from '../sessions/options.js';

export const CONFIG_ENV = 'SESSMAP_SESSION_SERVICE';

type ClusterWideSessions = Pick<NormalisedSessionOptions, (typeof CLUSTER_WIDE_SESSION_OPTIONS)[number]>;

/** The cluster-wide options, as the primary normalised them. */
export interface WorkerConfig {
  backend: BackendName;
  /** What the backend's driver hands workers (JSON). */
  options: Record<string, WorkerConfigValue>;
  sessions: ClusterWideSessions;
}

/** The config of a primary with session options `sessions` on `backend`. */
export function workerConfigOf(backend: BackendName, options: Record<string, WorkerConfigValue>, sessions: NormalisedSessionOptions): WorkerConfig {
  const picked = Object.fromEntries(CLUSTER_WIDE_SESSION_OPTIONS.map((k) => [k, sessions[k]])) as ClusterWideSessions;
  return { backend, options, sessions: picked };
}

/** The config in the environment, or undefined outside a primary-managed cluster. */
export function readWorkerConfig(): WorkerConfig | undefined {
  const raw = process.env[CONFIG_ENV];
  if (raw === undefined) return undefined;
  let config: WorkerConfig;
  try {
    config = JSON.parse(raw) as WorkerConfig;
  } catch {
    throw sessmapError('SESSMAP_ERR_NO_PRIMARY', `environment variable ${CONFIG_ENV} is not valid JSON`);
  }
  if (config === null || typeof config !== 'object' || typeof config.backend !== 'string' || typeof config.options !== 'object' || typeof config.sessions !== 'object') {
    throw sessmapError('SESSMAP_ERR_NO_PRIMARY', `environment variable ${CONFIG_ENV} does not hold a sessmap cluster config`);
  }
  return config;
}

/**
 * Throws SESSMAP_ERR_OPTION_CONFLICT when an option `given` in a worker contradicts the
 * primary's `config`; options the worker leaves out, or gives the same, are fine.
 */
export function checkWorkerOptions(config: WorkerConfig, driver: BackendDriver, given: Readonly<Record<string, unknown>>): void {
  for (const { option, key, value } of driver.clusterWide(given)) differs(option, value, config.options[key]);
  const named = CLUSTER_WIDE_SESSION_OPTIONS.filter((k) => given[k] !== undefined);
  if (named.length === 0) return;
  // The worker's options normalised as the primary's were (validation included).
  const w = normaliseSessionOptions(Object.fromEntries(named.map((k) => [k, given[k]])) as SessionOptions);
  for (const k of named) differs(k, w[k], config.sessions[k]);
}

function differs(option: string, mine: unknown, theirs: unknown): void {
  if (mine === theirs) return;
  throw sessmapError(
    'SESSMAP_ERR_OPTION_CONFLICT',
    `option "${option}" is ${show(mine)} in this worker but ${show(theirs)} in the cluster primary; ` +
      "the primary's setupPrimary() options hold for the whole cluster: set it there, or leave it out in the worker",
    { option, worker: mine, primary: theirs },
  );
}

function show(v: unknown): string {
  return typeof v === 'string' ? `'${v}'` : String(v);
}
