/**
 * setupPrimary's `metrics` option: the primary serves `/metrics` on node:http, with sessmap's
 * metrics (metrics/) on a registry of its own or the app's. The file's counters are every
 * process's on the host, so the primary's endpoint is the host's: the workers need nothing.
 *
 * The option is checked before anything else is set up; the metrics code and prom-client are
 * loaded with import() only when the option is given, after setupPrimary has returned (the
 * endpoint is listening when `handle.metrics` resolves). `GET /metrics` (and `HEAD`) answers with
 * the registry's text exposition, any other path 404, another method on `/metrics` 405; the
 * server listens on loopback unless told otherwise, keeps no process alive by itself (unref),
 * and its close ends the connections kept alive too.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sessmapError } from '../errors.js';
import type { CacheStats } from '../core/types.js';
import type { ServableRegistry } from '../metrics/register.js';
import type { SessionStore } from '../sessions/types.js';
import { invalidOption, validateInt } from '../util/validate.js';

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
    const r = register as unknown as Record<string, unknown> | null;
    const calls = ['metrics', 'registerMetric', 'removeSingleMetric', 'getSingleMetric'];
    if (typeof r !== 'object' || r === null || calls.some((c) => typeof r[c] !== 'function') || typeof r.contentType !== 'string') {
      invalidOption('metrics.register', 'a prom-client Registry', register);
    }
  }
  return { port, host, register };
}

/** Where the endpoint listens. */
export interface MetricsEndpoint {
  readonly host: string;
  /** The port (the one the system chose when 0 was asked). */
  readonly port: number;
  /** `http://host:port/metrics`. */
  readonly url: string;
}

interface MetricsServer {
  readonly endpoint: MetricsEndpoint;
  close(): Promise<void>;
}

/** A scrape takes this long at most before the connection is dropped. */
const REQUEST_TIMEOUT_MS = 10_000;

function answer(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}, head = false): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers, 'content-length': String(Buffer.byteLength(body)) });
  res.end(head ? undefined : body);
}

async function handle(registry: ServableRegistry, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  if (path !== '/metrics') return answer(res, 404, 'not found: the metrics are at /metrics\n');
  if (req.method !== 'GET' && req.method !== 'HEAD') return answer(res, 405, 'method not allowed\n', { allow: 'GET, HEAD' });
  let text: string;
  try {
    text = await registry.metrics();
  } catch (err) {
    return answer(res, 500, `metrics could not be collected: ${(err as Error).message}\n`);
  }
  answer(res, 200, text, { 'content-type': registry.contentType }, req.method === 'HEAD');
}

/** Listens on `host:port`; SESSMAP_ERR_METRICS_LISTEN when it cannot (the port in use, the host not this machine's). */
function serveMetrics(registry: ServableRegistry, host: string, port: number): Promise<MetricsServer> {
  const server = createServer((req, res) => {
    handle(registry, req, res).catch(() => res.destroy());
  });
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    let listening = false;
    server.on('error', (err: NodeJS.ErrnoException) => {
      // Once it listens, a failed connection is that connection's business, not the endpoint's.
      if (listening) return;
      reject(
        sessmapError('SESSMAP_ERR_METRICS_LISTEN', `the metrics endpoint cannot listen on ${host}:${port}: ${err.message}`, { host, port, errno: err.code, syscall: err.syscall }, err),
      );
    });
    server.listen({ host, port }, () => {
      listening = true;
      server.unref();
      const a = server.address() as AddressInfo;
      const shown = a.family === 'IPv6' ? `[${a.address}]` : a.address;
      let closing: Promise<void> | undefined;
      resolve({
        endpoint: { host: a.address, port: a.port, url: `http://${shown}:${a.port}/metrics` },
        close: () =>
          (closing ??= new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          })),
      });
    });
  });
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
    const { newRegistry, registerMetrics } = await import('../metrics/register.js');
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
