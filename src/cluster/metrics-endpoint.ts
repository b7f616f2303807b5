/**
 * setupPrimary's `metrics` option: the primary serves `/metrics` on node:http, with sessmap's
 * metrics (metrics/) on a registry of its own or the app's. The file's counters are every
 * process's on the host, so the primary's endpoint is the host's: the workers need nothing.
 *
 * The option is checked before anything else is set up; the metrics code and prom-client are
 * loaded with import() only when the option is given, after setupPrimary has returned (the
 * endpoint is listening when `handle.metrics` resolves).
 */
import { sessmapError } from '../errors.js';
import type { CacheStats } from '../core/types.js';
import type { ServableRegistry } from '../metrics/register.js';
import type { MetricsEndpoint } from '../metrics/server.js';
import type { SessionStore } from '../sessions/types.js';
import { invalidOption, validateInt } from '../util/validate.js';

export type { MetricsEndpoint };

/** setupPrimary's `metrics` option. */
export interface MetricsServerOptions {
  /** The port `/metrics` is served on; 0: a free one the system picks (`handle.metrics` says which). */
  port: number;
  /** The address to listen on. @default '127.0.0.1' (loopback only) */
  host?: string;
  /**
   * A prom-client `Registry` to serve, sessmap's metrics added to it (to serve the app's own
   * metrics from the same endpoint). @default a `Registry` of its own, with sessmap's metrics alone
   */
  register?: ServableRegistry;
}

type CheckedMetricsOptions = Required<Omit<MetricsServerOptions, 'register'>> & Pick<MetricsServerOptions, 'register'>;

const KNOWN = new Set(['port', 'host', 'register']);

/** The `metrics` option checked (SESSMAP_ERR_INVALID_OPTION), or undefined when it is not given. */
export function checkMetricsOption(o: unknown): CheckedMetricsOptions | undefined {
  if (o === undefined) return undefined;
  if (typeof o !== 'object' || o === null || Array.isArray(o)) invalidOption('metrics', 'an object like { port: 9464 }', o);
  const given = o as Record<string, unknown>;
  const unknown = Object.keys(given).filter((k) => !KNOWN.has(k));
  if (unknown.length > 0) invalidOption(`metrics.${unknown[0]}`, 'left out: metrics takes port, host and register', given[unknown[0]]);
  if (given.port === undefined) invalidOption('metrics.port', 'an integer from 0 to 65535 (0: any free port)', given.port);
  const port = validateInt('metrics.port', given.port, 0, 65535);
  const host = given.host === undefined ? '127.0.0.1' : given.host;
  if (typeof host !== 'string' || host.trim() === '') invalidOption('metrics.host', "an address to listen on, like '127.0.0.1' or '::'", host);
  const register = given.register as ServableRegistry | undefined;
  if (register !== undefined) {
    const r = register as unknown as Record<string, unknown>;
    if (typeof r !== 'object' || r === null || typeof r.metrics !== 'function' || typeof r.registerMetric !== 'function' || typeof r.contentType !== 'string') {
      invalidOption('metrics.register', 'a prom-client Registry', register);
    }
  }
  return { port, host, register };
}

/** What the endpoint exports: the file's counters (the mmap backend), a store's backend counts (Redis). */
export interface MetricsSources {
  cache?: { stats(): CacheStats };
  store?: Pick<SessionStore, 'backendMetrics'>;
}

export interface RunningMetrics {
  /** Resolves once `/metrics` is served; rejects with SESSMAP_ERR_METRICS_CLIENT or SESSMAP_ERR_METRICS_LISTEN. */
  readonly ready: Promise<MetricsEndpoint>;
  /** Stops serving and takes sessmap's metrics off the registry. */
  close(): Promise<void>;
}

export function startMetrics(o: CheckedMetricsOptions, sources: MetricsSources): RunningMetrics {
  let closed = false;
  let stop: (() => Promise<void>) | undefined;
  const ready = (async () => {
    const [{ newRegistry, registerMetrics }, { serveMetrics }] = await Promise.all([import('../metrics/register.js'), import('../metrics/server.js')]);
    if (closed) throw sessmapError('SESSMAP_ERR_CLOSED', 'the session service was closed before its metrics endpoint listened');
    const registry = o.register ?? newRegistry();
    const added = registerMetrics({ register: registry, ...sources });
    let server;
    try {
      server = await serveMetrics(registry, o.host, o.port);
    } catch (err) {
      added.unregister();
      throw err;
    }
    stop = async () => {
      await server.close();
      added.unregister();
    };
    if (closed) {
      await stop();
      throw sessmapError('SESSMAP_ERR_CLOSED', 'the session service was closed before its metrics endpoint listened');
    }
    return server.endpoint;
  })();
  ready.catch(() => {});
  return {
    ready,
    async close() {
      if (closed) return;
      closed = true;
      await ready.catch(() => undefined);
      await stop?.();
    },
  };
}
