/**
 * koa + koa-session (external store) on sessmap, in a two-worker cluster.
 *
 *   npx tsx examples/koa.ts            then: curl -c /tmp/jar -b /tmp/jar http://127.0.0.1:3003/
 *
 * On Redis (REDIS_URL set), a session call fails with SESSMAP_ERR_BACKEND_UNAVAILABLE while
 * Redis is down; koa-session throws it, and the first middleware answers 503.
 */
import cluster from 'node:cluster';
import Koa from 'koa';
import session from 'koa-session';
import { setupDemoPrimary } from './demo-primary.js';
import { SessmapKoaStore } from '../src/adapters/koa-session.js';
import { isSessmapError } from '../src/index.js';

const PORT = Number(process.env.PORT ?? 3003);

if (cluster.isPrimary) {
  setupDemoPrimary('koa', { maxSessions: 10_000 });
  for (let i = 0; i < 2; i++) cluster.fork();
  console.log(`listening on http://127.0.0.1:${PORT}/ (/, /logout)`);
} else {
  const app = new Koa();
  app.keys = [process.env.SESSION_SECRET ?? 'change-me'];
  app.use(async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      if (!isSessmapError(err, 'SESSMAP_ERR_BACKEND_UNAVAILABLE')) throw err;
      ctx.status = 503;
      ctx.body = { error: 'sessions unavailable, try again' };
    }
  });
  app.use(session({ store: new SessmapKoaStore(), key: 'sid', maxAge: 30 * 60_000, httpOnly: true, sameSite: 'lax' }, app));
  app.use(async (ctx) => {
    if (ctx.path === '/logout') {
      ctx.session = null;
      ctx.body = { loggedOut: true };
      return;
    }
    const s = ctx.session!;
    s.views = Number(s.views ?? 0) + 1;
    ctx.body = { worker: process.pid, views: s.views };
  });
  app.listen(PORT, '127.0.0.1');
}
