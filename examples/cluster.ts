/**
 * A primary and two workers serving HTTP, with sessions in a file of the demo's own,
 * `<defaultCacheDir()>/example-cluster.smap` (not the default file of your app's own
 * setupPrimary(); no server to run). The primary prints the cluster-wide events; after start-up
 * it sends itself a few requests with one cookie, to show both workers serving the same session.
 *
 *   npm start                  (or: npx tsx examples/cluster.ts; PORT=8080 to change the port)
 *   curl -c /tmp/jar -b /tmp/jar http://127.0.0.1:3000/        a visit counter per session
 *   curl -c /tmp/jar -b /tmp/jar http://127.0.0.1:3000/login   attaches the session to user "alice" (new id)
 *   curl -c /tmp/jar -b /tmp/jar http://127.0.0.1:3000/logout-everywhere
 *
 * Pass --demo-only to exit after the demonstration.
 */
import cluster from 'node:cluster';
import http from 'node:http';
import pino from 'pino';
import { attachWorker, isValidSessionId, type SessionStore } from '../src/index.js';
import { setupDemoPrimary } from './demo-primary.js';

const PORT = Number(process.env.PORT ?? 3000);
const WORKERS = 2;

if (cluster.isPrimary) {
  const logger = pino({ level: 'info', transport: undefined });
  const service = setupDemoPrimary('cluster', { maxSessions: 10_000, averageSessionBytes: 512, idleTimeout: 15 * 60_000, logger });
  for (const name of ['created', 'updated', 'destroyed', 'regenerated', 'expired', 'evicted', 'lockRecovered', 'capacity'] as const) {
    service.events.on(name, (e: object) => console.log(`[primary] event ${name}`, JSON.stringify(e)));
  }
  let listening = 0;
  cluster.on('listening', () => {
    if (++listening === WORKERS) void demo(service.path);
  });
  for (let i = 0; i < WORKERS; i++) cluster.fork();
  cluster.on('exit', (w, code, signal) => {
    if (!shuttingDown) {
      console.log(`[primary] worker ${w.process.pid} exited (${signal ?? code}); starting another`);
      cluster.fork();
    }
  });
  let shuttingDown = false;
  const stop = async (): Promise<void> => {
    shuttingDown = true;
    for (const w of Object.values(cluster.workers ?? {})) w?.kill();
    await service.close();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);

  async function demo(file: string): Promise<void> {
    console.log(`[primary] sessions in ${file}; listening on http://127.0.0.1:${PORT}/`);
    let cookie = '';
    for (const path of ['/', '/', '/', '/login', '/', '/']) {
      const res = await fetch(`http://127.0.0.1:${PORT}${path}`, { headers: cookie ? { cookie } : {} });
      const set = res.headers.get('set-cookie');
      if (set) cookie = set.split(';')[0];
      console.log(`[primary] GET ${path} ->`, await res.text());
    }
    if (process.argv.includes('--demo-only')) await stop();
    else console.log(`[primary] try: curl -c /tmp/jar -b /tmp/jar http://127.0.0.1:${PORT}/   (Ctrl-C to stop)`);
  }
} else {
  const store = await attachWorker();
  http.createServer((req, res) => {
    handle(store, req, res).catch((err) => {
      res.writeHead(500).end(String((err as Error).message));
    });
  }).listen(PORT, '127.0.0.1');
}

async function handle(store: SessionStore, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const raw = /(?:^|;\s*)sid=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
  // A malformed id never reaches the store: treat it as no session.
  let id = raw !== undefined && isValidSessionId(raw) ? raw : undefined;
  let session = id ? await store.getSession(id) : undefined;
  if (!session) {
    session = await store.createSession({ views: 0 });
    id = session.id;
  }
  if (req.url === '/login') {
    // A new id on privilege change (session fixation), then the user is recorded.
    session = (await store.regenerateSession(id!))!;
    session = (await store.setSession(session.id, { ...session.data, userId: 'alice' }))!;
    id = session.id;
  } else if (req.url === '/logout-everywhere' && session.userId) {
    const n = await store.destroySessionsOf(session.userId);
    res.writeHead(200, { 'set-cookie': 'sid=; Max-Age=0; HttpOnly; SameSite=Lax; Path=/' }).end(`logged out of ${n} sessions\n`);
    return;
  }
  const updated = await store.updateSession(id!, (d) => ({ ...d, views: Number(d.views ?? 0) + 1 }));
  res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': `sid=${id}; HttpOnly; SameSite=Lax; Path=/` });
  res.end(JSON.stringify({ worker: process.pid, views: updated?.data.views, user: updated?.userId ?? null }) + '\n');
}
