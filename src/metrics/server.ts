/**
 * A `/metrics` endpoint on node:http, for setupPrimary's `metrics` option: `GET /metrics` (and
 * `HEAD`) answers with the registry's text exposition, any other path 404, another method on
 * `/metrics` 405. It listens on loopback unless told otherwise, keeps no process alive by itself
 * (unref), and its close ends the connections kept alive too.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sessmapError } from '../errors.js';
import type { ServableRegistry } from './register.js';

/** Where the endpoint listens. */
export interface MetricsEndpoint {
  readonly host: string;
  /** The port (the one the system chose when 0 was asked). */
  readonly port: number;
  /** `http://host:port/metrics`. */
  readonly url: string;
}

export interface MetricsServer {
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
export function serveMetrics(registry: ServableRegistry, host: string, port: number): Promise<MetricsServer> {
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
