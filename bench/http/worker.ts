/**
 * An HTTP worker of the benchmark: express 5 + express-session 1.x on one of the stores, chosen
 * by the primary through the environment. Routes:
 *
 *   POST /login   regenerates the session and stores a logged-in user's data (as a login would)
 *   GET  /read    reads the session and answers small JSON; the session is unchanged, so
 *                 express-session calls store.touch
 *   POST /write   increments a counter in the session, so express-session calls store.set
 *
 * /read and /write answer 401 when the request has no logged-in session: a lost session shows up
 * as non-2xx responses instead of passing unnoticed.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { Session as InspectorSession } from 'node:inspector';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import session from 'express-session';
import {
  emptyCounters,
  ENV_PROF_DIR,
  ENV_REDIS_URL,
  ENV_SECRET,
  ENV_STORE,
  isBenchMessage,
  SID_HEADER,
  STORE_KINDS,
  type PrimaryMessage,
  type StoreKind,
  type WorkerCounters,
  type WorkerMessage,
} from './protocol.js';

type BenchSession = session.Session &
  Partial<session.SessionData> & {
    passport?: { user: string };
    views?: number;
    csrfSecret?: string;
    locale?: string;
    cart?: Array<{ sku: string; qty: number }>;
    returnTo?: string;
  };

const send = (m: WorkerMessage): void => {
  process.send?.(m);
};

let counters: WorkerCounters = emptyCounters();
let cpuAtReset = process.cpuUsage();
let eluAtReset = performance.eventLoopUtilization();

/** Counts the calls express-session makes to the store (one increment; the same for every store). */
function countCalls(store: session.Store): void {
  const s = store as unknown as Record<'get' | 'set' | 'touch' | 'destroy', ((...args: unknown[]) => unknown) | undefined>;
  for (const name of ['get', 'set', 'touch', 'destroy'] as const) {
    const original = s[name];
    if (typeof original !== 'function') continue;
    s[name] = function (this: unknown, ...args: unknown[]) {
      counters.storeCalls[name]++;
      return original.apply(store, args);
    };
  }
}

/** A CPU profile of the measured phase only (started at 'reset', written at 'report'). */
function profiler(dir: string | undefined, kind: StoreKind): { start(): void; stop(): Promise<void> } {
  if (!dir) return { start() {}, stop: async () => {} };
  const inspector = new InspectorSession();
  inspector.connect();
  const post = (method: string, params?: object): Promise<unknown> =>
    new Promise((resolve, reject) => inspector.post(method, params ?? {}, (err, result) => (err ? reject(err) : resolve(result))));
  let running = false;
  return {
    start() {
      if (running) return;
      running = true;
      void post('Profiler.enable')
        .then(() => post('Profiler.setSamplingInterval', { interval: 100 }))
        .then(() => post('Profiler.start'));
    },
    async stop() {
      if (!running) return;
      running = false;
      const { profile } = (await post('Profiler.stop')) as { profile: unknown };
      writeFileSync(join(dir, `${kind}-${process.pid}.cpuprofile`), JSON.stringify(profile));
    },
  };
}

async function makeStore(kind: StoreKind): Promise<{ store: session.Store; close: () => Promise<void> }> {
  switch (kind) {
    case 'sessmap':
    case 'sessmap-redis':
    case 'sessmap-near': {
      // The same code for both: the backend (mmap file or Redis) is what the primary's
      // setupPrimary chose, handed to the workers through the environment.
      const { SessmapStore } = await import('../../src/adapters/express-session.js');
      const store = new SessmapStore();
      const sessions = await store.ready;
      return { store, close: () => sessions.close() };
    }
    case 'connect-redis': {
      const { createClient } = await import('redis');
      const { RedisStore } = await import('connect-redis');
      const url = process.env[ENV_REDIS_URL];
      if (!url) throw new Error(`${ENV_REDIS_URL} is not set`);
      const client = createClient({ url });
      client.on('error', (err: Error) => {
        if (counters.errors.length < 5) counters.errors.push(`redis client: ${err.message}`);
      });
      await client.connect();
      const store = new RedisStore({ client, prefix: 'sess:' });
      return {
        store,
        close: async () => {
          await client.close();
        },
      };
    }
    case 'memory':
      return { store: new session.MemoryStore(), close: async () => {} };
  }
}

/** The default express-session id shape (uid-safe, 24 bytes, base64url). */
const generateId = (): string => randomBytes(24).toString('base64url');
const SID_SHAPE = /^[A-Za-z0-9_-]{32}$/;

async function main(): Promise<void> {
  const kind = process.env[ENV_STORE] as StoreKind;
  if (!STORE_KINDS.includes(kind)) throw new Error(`${ENV_STORE} must be one of ${STORE_KINDS.join(', ')}; got ${String(kind)}`);
  const secret = process.env[ENV_SECRET] ?? 'bench-secret';
  const { store, close } = await makeStore(kind);
  countCalls(store);
  const prof = profiler(process.env[ENV_PROF_DIR], kind);

  const app = express();
  app.disable('x-powered-by');
  app.use(
    session({
      store,
      secret,
      name: 'sid',
      resave: false,
      saveUninitialized: false,
      cookie: { maxAge: 30 * 60_000, httpOnly: true, sameSite: 'lax' },
      // MemoryStore keeps sessions per worker. So that one cookie is valid on both workers, the
      // primary logs in once on each with the same id (sent in a header). Other stores share
      // their sessions and keep express-session's own genid.
      genid: kind === 'memory' ? (req) => (SID_SHAPE.test(String(req.headers[SID_HEADER] ?? '')) ? String(req.headers[SID_HEADER]) : generateId()) : undefined,
    }),
  );
  app.use((req, res, next) => {
    res.on('finish', () => {
      const key = `${req.method} ${req.path} ${res.statusCode}`;
      counters.responses[key] = (counters.responses[key] ?? 0) + 1;
    });
    next();
  });

  app.post('/login', (req, res, next) => {
    req.session.regenerate((err) => {
      if (err) return next(err);
      const s = req.session as BenchSession;
      s.passport = { user: 'u-1001' };
      s.views = 0;
      s.csrfSecret = 'Jx3kQv9TzP1mW8rLa0nYcB2d';
      s.locale = 'en-GB';
      s.cart = [
        { sku: 'SKU-10442', qty: 1 },
        { sku: 'SKU-20931', qty: 2 },
      ];
      s.returnTo = '/account/orders';
      res.json({ worker: process.pid, user: s.passport.user });
    });
  });

  app.get('/read', (req, res) => {
    const s = req.session as BenchSession;
    if (s.passport?.user === undefined) return void res.status(401).json({ error: 'not logged in' });
    res.json({ worker: process.pid, user: s.passport.user, views: s.views ?? 0, items: s.cart?.length ?? 0 });
  });

  app.post('/write', (req, res) => {
    const s = req.session as BenchSession;
    if (s.passport?.user === undefined) return void res.status(401).json({ error: 'not logged in' });
    s.views = (s.views ?? 0) + 1;
    res.json({ worker: process.pid, user: s.passport.user, views: s.views });
  });

  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (counters.errors.length < 5) counters.errors.push(err instanceof Error ? `${err.name}: ${err.message}` : String(err));
    res.status(500).json({ error: 'internal' });
  });

  const server = app.listen(0, '127.0.0.1');
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });

  process.on('message', (m: unknown) => {
    if (!isBenchMessage(m)) return;
    const msg = m as PrimaryMessage;
    if (msg.kind === 'reset') {
      counters = emptyCounters();
      cpuAtReset = process.cpuUsage();
      eluAtReset = performance.eventLoopUtilization();
      prof.start();
    } else if (msg.kind === 'report') {
      const cpu = process.cpuUsage(cpuAtReset);
      counters.cpuMicros = cpu.user + cpu.system;
      counters.elu = performance.eventLoopUtilization(eluAtReset).utilization;
      const report = counters;
      void prof.stop().finally(() => send({ bench: 1, kind: 'report', pid: process.pid, counters: report }));
    }
    else if (msg.kind === 'exit') {
      // A clean exit, so that --cpu-prof writes its profile.
      server.closeAllConnections();
      server.close();
      close()
        .catch(() => {})
        .finally(() => process.exit(0));
    }
  });
  send({ bench: 1, kind: 'listening', port: (server.address() as AddressInfo).port, pid: process.pid });
}

main().catch((err: unknown) => {
  send({ bench: 1, kind: 'failed', error: err instanceof Error ? (err.stack ?? err.message) : String(err), pid: process.pid });
  setTimeout(() => process.exit(1), 100);
});
