/**
 * express + express-session on sessmap, in a two-worker cluster (no session server to run).
 *
 *   npx tsx examples/express.ts        then: curl -c /tmp/jar -b /tmp/jar http://127.0.0.1:3001/
 *
 * On Redis (REDIS_URL set), sessions can be unavailable while Redis is: the store emits
 * `disconnect`, express-session then serves requests without `req.session`, and a call that was
 * under way fails with SESSMAP_ERR_BACKEND_UNAVAILABLE. Both are answered 503 here.
 */
import cluster from 'node:cluster';
import express from 'express';
import session from 'express-session';
import { setupDemoPrimary } from './demo-primary.js';
import { SessmapStore } from '../src/adapters/express-session.js';
import { isSessmapError } from '../src/index.js';

const PORT = Number(process.env.PORT ?? 3001);

if (cluster.isPrimary) {
  const sessions = setupDemoPrimary('express', { maxSessions: 10_000 });
  sessions.events.on('created', (e) => console.log('[primary] session created', e.sid));
  for (let i = 0; i < 2; i++) cluster.fork();
  console.log(`listening on http://127.0.0.1:${PORT}/ (/, /login, /logout)`);
} else {
  const store = new SessmapStore();
  const app = express();
  app.use(session({ store, secret: process.env.SESSION_SECRET ?? 'change-me', resave: false, saveUninitialized: false, cookie: { maxAge: 30 * 60_000, httpOnly: true, sameSite: 'lax' } }));
  // The store is disconnected (Redis down): express-session gave this request no session.
  app.use((req, res, next) => (req.session === undefined ? res.status(503).json({ error: 'sessions unavailable, try again' }) : next()));
  app.get('/', (req, res) => {
    const s = req.session as session.Session & { views?: number; user?: string };
    s.views = (s.views ?? 0) + 1;
    res.json({ worker: process.pid, views: s.views, user: s.user ?? null });
  });
  app.get('/login', (req, res, next) => {
    // A new id on login (no session fixation). express-session's regenerate destroys the old
    // session and starts an empty one: the view count starts again; copy what should survive.
    req.session.regenerate((err) => {
      if (err) return next(err);
      (req.session as session.Session & { user?: string }).user = 'alice';
      res.json({ worker: process.pid, loggedIn: 'alice' });
    });
  });
  app.get('/logout', (req, res, next) => req.session.destroy((err) => (err ? next(err) : res.json({ loggedOut: true }))));
  // A session call failed while it ran: Redis went away (or hung) during this request.
  app.use((err: unknown, _req: express.Request, res: express.Response, next: express.NextFunction) => {
    if (isSessmapError(err, 'SESSMAP_ERR_BACKEND_UNAVAILABLE')) res.status(503).json({ error: 'sessions unavailable, try again' });
    else next(err);
  });
  app.listen(PORT, '127.0.0.1');
}
