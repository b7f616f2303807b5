/**
 * The client side of the adapter tests' HTTP: a cookie jar kept by hand (Set-Cookie values in,
 * a Cookie header out; no expiry handling, so a test can replay any cookie it kept), requests
 * through global fetch with `redirect: 'manual'`, and the cookies a client could forge: a
 * tampered signature and a malformed id signed with the app's own secret.
 */
import { createHmac } from 'node:crypto';
import { APP_SECRET, COOKIE_NAME, type Framework, type Me } from '../fixtures/adapters/wire.js';

export class CookieJar {
  readonly #cookies = new Map<string, string>();

  constructor(entries: Iterable<[string, string]> = []) {
    for (const [k, v] of entries) this.#cookies.set(k, v);
  }

  header(): string {
    return [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  get(name: string): string | undefined {
    return this.#cookies.get(name);
  }

  set(name: string, value: string): void {
    this.#cookies.set(name, value);
  }

  clone(): CookieJar {
    return new CookieJar(this.#cookies);
  }

  get size(): number {
    return this.#cookies.size;
  }

  /** Takes in a response's Set-Cookie headers: new values replace old ones, cleared cookies go (expiry is the server's business here). */
  absorb(setCookies: string[]): void {
    for (const line of setCookies) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const cleared =
        value === '' ||
        attrs.some((a) => {
          const [k, v = ''] = a.split('=');
          const key = k.trim().toLowerCase();
          if (key === 'max-age') return Number(v) <= 0;
          // Frameworks clear a cookie with a date in 1970; a date a moment ago (HTTP dates have
          // whole seconds, so a cookie of a few hundred ms can carry one) is not a clearing.
          if (key === 'expires') return Date.parse(v) < Date.now() - 86_400_000;
          return false;
        });
      if (cleared) this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }
}

export interface Reply {
  status: number;
  body: Me;
  setCookies: string[];
}

/** One request with the jar's cookies; the jar takes the response's Set-Cookie (unless `keep`). */
export async function request(port: number, jar: CookieJar, method: 'GET' | 'POST', path: string, options: { keep?: boolean } = {}): Promise<Reply> {
  const headers: Record<string, string> = {};
  const cookie = jar.header();
  if (cookie !== '') headers.cookie = cookie;
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { method, headers, redirect: 'manual' });
  const text = await res.text();
  let body: Me;
  try {
    body = JSON.parse(text) as Me;
  } catch {
    throw new Error(`${method} ${path} answered ${res.status} with a body that is not JSON: ${text.slice(0, 300)}`);
  }
  if (body.error !== undefined) throw new Error(`${method} ${path} failed in the app (pid ${body.pid}): ${body.error}`);
  const setCookies = res.headers.getSetCookie();
  if (!options.keep) jar.absorb(setCookies);
  return { status: res.status, body, setCookies };
}

/** `count` requests at once; their replies in order. */
export function parallel(count: number, one: (i: number) => Promise<Reply>): Promise<Reply[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => one(i)));
}

/** The session id inside a framework's session cookie (unsigned, undecorated). */
export function sessionIdOf(framework: Framework, jar: CookieJar): string | undefined {
  const raw = jar.get(COOKIE_NAME[framework]);
  if (raw === undefined) return undefined;
  const value = decodeURIComponent(raw);
  switch (framework) {
    case 'express':
      return value.startsWith('s:') ? value.slice(2, value.lastIndexOf('.')) : undefined;
    case 'fastify':
      return value.slice(0, value.lastIndexOf('.'));
    case 'koa':
      return value;
  }
}

const b64 = (algorithm: 'sha1' | 'sha256', secret: string, text: string): string => createHmac(algorithm, secret).update(text).digest('base64');

/**
 * Cookies that carry `id` as the framework would have signed it with the app's secret (so the
 * framework accepts them and hands `id` to the store): express-session's `s:<id>.<hmac-sha256>`,
 * @fastify/cookie's `<id>.<hmac-sha256>`, koa's `<id>` plus a keygrip (hmac-sha1) `.sig` cookie.
 */
export function signedJar(framework: Framework, id: string): CookieJar {
  const name = COOKIE_NAME[framework];
  switch (framework) {
    case 'express':
      return new CookieJar([[name, encodeURIComponent(`s:${id}.${b64('sha256', APP_SECRET, id).replace(/=+$/, '')}`)]]);
    case 'fastify':
      return new CookieJar([[name, encodeURIComponent(`${id}.${b64('sha256', APP_SECRET, id).replace(/=+$/, '')}`)]]);
    case 'koa': {
      const sig = b64('sha1', APP_SECRET, `${name}=${id}`).replace(/\/|\+|=/g, (c) => ({ '/': '_', '+': '-', '=': '' })[c]!);
      return new CookieJar([[name, id], [`${name}.sig`, sig]]);
    }
  }
}

/** The jar with its session cookie's id changed in one character and the signature left as it was. */
export function tamperedJar(framework: Framework, jar: CookieJar): CookieJar {
  const name = COOKIE_NAME[framework];
  const raw = decodeURIComponent(jar.get(name) ?? '');
  const id = sessionIdOf(framework, jar);
  if (id === undefined || id.length === 0) throw new Error(`tamperedJar: no ${name} cookie in the jar`);
  const at = Math.floor(id.length / 2);
  const forged = id.slice(0, at) + (id[at] === 'A' ? 'B' : 'A') + id.slice(at + 1);
  const out = jar.clone();
  out.set(name, encodeURIComponent(raw.replace(id, forged)));
  return out;
}
