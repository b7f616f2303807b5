/**
 * fastify + @fastify/session on sessmap, in a two-worker cluster.
 *
 *   npx tsx examples/fastify.ts        then: curl -c /tmp/jar -b /tmp/jar http://127.0.0.1:3002/
 *
 * On Redis (REDIS_URL set), a session call fails with SESSMAP_ERR_BACKEND_UNAVAILABLE while
 * Redis is down; @fastify/session hands the error to fastify, whose error handler answers 503.
 */
import cluster from 'node:cluster';
import Fastify from 'fastify';
import fastifyCookie from '@fastify/cookie';
import fastifySession from '@fastify/session';
import { setupDemoPrimary } from './demo-primary.js';
import { SessmapFastifyStore } from '../src/adapters/fastify-session.js';
import { isSessmapError } from '../src/index.js';

const PORT = Number(process.env.PORT ?? 3002);

if (cluster.isPrimary) {
  setupDemoPrimary('fastify', { maxSessions: 10_000 });
  for (let i = 0; i < 2; i++) cluster.fork();
  console.log(`listening on http://127.0.0.1:${PORT}/ (/, /login, /logout)`);
} else {
  const app = Fastify();
  app.setErrorHandler((err, _req, reply) => {
    if (isSessmapError(err, 'SESSMAP_ERR_BACKEND_UNAVAILABLE')) return reply.code(503).send({ error: 'sessions unavailable, try again' });
    return reply.send(err);
  });
  await app.register(fastifyCookie);
  await app.register(fastifySession, {
    secret: process.env.SESSION_SECRET ?? 'a secret of at least thirty-two characters!',
    store: new SessmapFastifyStore(),
    cookie: { secure: false, maxAge: 30 * 60_000, httpOnly: true, sameSite: 'lax' },
    saveUninitialized: false,
  });
  app.get('/', async (req) => {
    const views = ((req.session.get('views' as never) as number | undefined) ?? 0) + 1;
    req.session.set('views' as never, views as never);
    return { worker: process.pid, views, user: req.session.get('user' as never) ?? null };
  });
  app.get('/login', async (req) => {
    await req.session.regenerate();
    req.session.set('user' as never, 'alice' as never);
    return { worker: process.pid, loggedIn: 'alice' };
  });
  app.get('/logout', async (req) => {
    await req.session.destroy();
    return { loggedOut: true };
  });
  await app.listen({ port: PORT, host: '127.0.0.1' });
}
