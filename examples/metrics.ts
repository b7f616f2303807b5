/**
 * Prometheus metrics of a cluster: the primary serves `/metrics` (setupPrimary's `metrics`
 * option) on loopback, with sessmap's figures for the whole host, read from the file every
 * process counts into (the workers take no part in it), next to the primary's own process
 * metrics from prom-client on the same registry. Needs prom-client (`npm install prom-client`).
 *
 *   npx tsx examples/metrics.ts      (PORT=3000 for the app, METRICS_PORT=9464 for /metrics)
 *   curl http://127.0.0.1:9464/metrics
 *
 * After start-up the primary sends a few requests to the workers (new sessions, visits, a
 * logout), then prints the sessmap_ lines of its own /metrics. Pass --demo-only to exit then.
 * The sessions are in a file of the demo's own (examples/demo-primary.ts).
 */
import cluster from 'node:cluster';
import http from 'node:http';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { attachWorker, isValidSessionId, type SessionStore } from '../src/index.js';
import { setupDemoPrimary } from './demo-primary.js';

const PORT = Number(process.env.PORT ?? 3000);
const METRICS_PORT = Number(process.env.METRICS_PORT ?? 9464);
const WORKERS = 2;

if (cluster.isPrimary) {
  // The app's own registry: sessmap adds its metrics to it, the endpoint serves both.
  const register = new Registry();
  collectDefaultMetrics({ register });
  const service = setupDemoPrimary('metrics', { maxSessions: 10_000, metrics: { port: METRICS_PORT, register } });
  service.metrics?.catch((err: Error) => console.error(`[primary] no /metrics: ${err.message}`));
  const stop = async (): Promise<void> => {
    for (const w of Object.values(cluster.workers ?? {})) w?.kill();
    await service.close(); // closes /metrics too
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  let listening = 0;
  cluster.on('listening', () => {
    if (++listening === WORKERS) void demo().catch((err: Error) => console.error(`[primary] demo failed: ${err.message}`));
  });
  for (let i = 0; i < WORKERS; i++) cluster.fork();

  async function demo(): Promise<void> {
    const { url } = (await service.metrics)!;
    // Three visitors: two visits each, then the first logs out.
    const cookies: string[] = [];
    for (let v = 0; v < 3; v++) {
      const res = await fetch(`http://127.0.0.1:${PORT}/`);
      cookies.push(res.headers.get('set-cookie')!.split(';')[0]);
      await fetch(`http://127.0.0.1:${PORT}/`, { headers: { cookie: cookies[v] } });
    }
    await fetch(`http://127.0.0.1:${PORT}/logout`, { headers: { cookie: cookies[0] } });
    const text = await (await fetch(url)).text();
    console.log(`[primary] ${url}:`);
    for (const line of text.split('\n')) if (line.startsWith('sessmap_')) console.log(`  ${line}`);
    if (process.argv.includes('--demo-only')) await stop();
    else console.log(`[primary] try: curl ${url}   (Ctrl-C to stop)`);
  }
} else {
  const store = await attachWorker();
  http
    .createServer((req, res) => {
      handle(store, req, res).catch((err: Error) => res.writeHead(500).end(err.message));
    })
    .listen(PORT, '127.0.0.1');
}

async function handle(store: SessionStore, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const raw = /(?:^|;\s*)sid=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
  const id = raw !== undefined && isValidSessionId(raw) ? raw : undefined;
  if (req.url === '/logout') {
    if (id !== undefined) await store.destroySession(id);
    res.writeHead(200, { 'set-cookie': 'sid=; Max-Age=0; Path=/' }).end('bye\n');
    return;
  }
  const session = (id !== undefined ? await store.getSession(id) : undefined) ?? (await store.createSession({ views: 0 }));
  const updated = await store.updateSession(session.id, (d) => ({ ...d, views: Number(d.views ?? 0) + 1 }));
  res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': `sid=${session.id}; HttpOnly; SameSite=Lax; Path=/` });
  res.end(`${JSON.stringify({ worker: process.pid, views: updated?.data.views })}\n`);
}
