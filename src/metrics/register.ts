/**
 * `registerMetrics`: sessmap's metrics added to a prom-client registry (prom-client's default
 * one unless `register` is given). The file's metrics read the counters in the file itself at
 * scrape time, which every process on the host counts into, so one process (the cluster's
 * primary, typically) exports the whole host's figures without asking the others; a store's
 * backend metrics (Redis) are that process's own.
 *
 * prom-client is an optional peer dependency, loaded here only (with require, when the default
 * registry is asked for): a given registry needs nothing of prom-client but itself, and importing
 * `sessmap/metrics` loads nothing of it.
 */
import { createRequire } from 'node:module';
import { SharedCache } from '../core/index.js';
import type { CacheStats } from '../core/types.js';
import { isSessmapError, sessmapError } from '../errors.js';
import type { SessionStore } from '../sessions/types.js';
import { invalidOption } from '../util/validate.js';
import { backendMetrics, fileMetrics, perScrape, type CollectedMetric } from './collectors.js';

/**
 * What sessmap uses of a prom-client `Registry` (typed here, so that sessmap's declarations need
 * no prom-client): any `Registry` of prom-client 15 is one.
 */
export interface MetricsRegistry {
  registerMetric(metric: never): void;
  removeSingleMetric(name: string): void;
  getSingleMetric(name: string): unknown;
}

/** A registry that can also answer a scrape (prom-client's `Registry`): what `/metrics` serves. */
export interface ServableRegistry extends MetricsRegistry {
  metrics(): Promise<string>;
  readonly contentType: string;
}

export interface MetricsOptions {
  /** The registry to add the metrics to. @default prom-client's default registry (`register`) */
  register?: MetricsRegistry;
  /** An open cache (or anything with its `stats()`) whose file's counters to export; it stays the caller's to close. */
  cache?: { stats(): CacheStats };
  /** Or the path of a file to open (`SharedCache.open`), read at each scrape and closed by `unregister()`. */
  path?: string;
  /** A session store whose backend's own counts to export: on Redis, this process's commands and near-cache. */
  store?: Pick<SessionStore, 'backendMetrics'>;
}

export interface MetricsHandle {
  /** The names of the metrics added. */
  readonly names: readonly string[];
  /** Removes them from the registry, and closes the file opened for `path`. Idempotent. */
  unregister(): void;
}

type PromClient = { register: ServableRegistry; Registry: new () => ServableRegistry };

let promClient: PromClient | undefined;

/** prom-client, loaded on first use; SESSMAP_ERR_METRICS_CLIENT when it is not installed. */
export function loadPromClient(): PromClient {
  if (promClient !== undefined) return promClient;
  try {
    promClient = createRequire(import.meta.url)('prom-client') as PromClient;
  } catch (err) {
    throw sessmapError(
      'SESSMAP_ERR_METRICS_CLIENT',
      'sessmap metrics need prom-client: npm install prom-client (it is an optional peer dependency of sessmap, loaded only for metrics)',
      { cause: (err as Error).message },
    );
  }
  return promClient;
}

/** A registry of its own (prom-client's `Registry`), for an endpoint that serves sessmap's metrics alone. */
export function newRegistry(): ServableRegistry {
  return new (loadPromClient().Registry)();
}

function isRegistry(r: unknown): r is MetricsRegistry {
  const o = r as Partial<Record<keyof MetricsRegistry, unknown>> | null;
  return typeof o === 'object' && o !== null && typeof o.registerMetric === 'function' && typeof o.removeSingleMetric === 'function' && typeof o.getSingleMetric === 'function';
}

/** The file's stats at a scrape: of the cache given, or of a handle on `path` (opened again when the file was reinitialised). */
function fileSource(o: MetricsOptions): { stats: () => CacheStats; close(): void } | undefined {
  if (o.cache !== undefined) {
    if (typeof o.cache?.stats !== 'function') invalidOption('cache', 'an open SharedCache (an object with stats())', o.cache);
    const cache = o.cache;
    return { stats: () => cache.stats(), close() {} };
  }
  if (o.path === undefined) return undefined;
  if (typeof o.path !== 'string' || o.path === '') invalidOption('path', 'the path of a cache file', o.path);
  const path = o.path;
  let cache = SharedCache.open(path, { listed: false });
  return {
    stats() {
      try {
        return cache.stats();
      } catch (err) {
        if (!isSessmapError(err, 'SESSMAP_ERR_STALE_HANDLE')) throw err;
        cache.close();
        cache = SharedCache.open(path, { listed: false });
        return cache.stats();
      }
    },
    close: () => cache.close(),
  };
}

/**
 * Adds sessmap's metrics to a prom-client registry: the file's (`cache` or `path`) and a store's
 * backend's (`store`). At least one of them; `cache` and `path` not both.
 */
export function registerMetrics(options: MetricsOptions = {}): MetricsHandle {
  if (typeof options !== 'object' || options === null) invalidOption('options', 'an object', options);
  if (options.cache !== undefined && options.path !== undefined) invalidOption('cache', 'given without path (one file per call)', options.cache);
  if (options.cache === undefined && options.path === undefined && options.store === undefined) {
    invalidOption('options', 'an object with cache, path or store (what to export)', JSON.stringify(Object.keys(options)));
  }
  if (options.store !== undefined && typeof options.store?.backendMetrics !== 'function') {
    invalidOption('store', 'a session store with backendMetrics() (a store of sessmap)', options.store);
  }
  if (options.register !== undefined && !isRegistry(options.register)) invalidOption('register', 'a prom-client Registry', options.register);
  const registry: MetricsRegistry = options.register ?? loadPromClient().register;

  const file = fileSource(options);
  const metrics: CollectedMetric[] = [];
  if (file !== undefined) metrics.push(...fileMetrics(perScrape(file.stats)));
  const store = options.store;
  if (store !== undefined) metrics.push(...backendMetrics(perScrape(() => store.backendMetrics?.())));
  const names = metrics.map((m) => m.name);

  const taken = names.find((n) => registry.getSingleMetric(n) !== undefined);
  if (taken !== undefined) {
    file?.close();
    throw sessmapError('SESSMAP_ERR_INVALID_OPTION', `option "register" already holds a metric named ${taken}: sessmap's metrics were registered on it before (unregister them first)`, {
      option: 'register',
      metric: taken,
    });
  }
  for (const m of metrics) registry.registerMetric(m as never);

  let done = false;
  return {
    names,
    unregister() {
      if (done) return;
      done = true;
      for (const n of names) registry.removeSingleMetric(n);
      file?.close();
    },
  };
}
