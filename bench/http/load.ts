/**
 * The client side: logging in (plain node:http, one fresh connection per request, so the cluster
 * hands successive requests to successive workers) and driving the 90/10 load with autocannon.
 * runLoad runs in the load generator's own process (loader-child.ts), so that its CPU time is
 * not the cluster primary's.
 */
import http from 'node:http';
import autocannon from 'autocannon';
import { SID_HEADER } from './protocol.js';

export interface Reply {
  status: number;
  setCookie: string[];
  body: string;
}

/** One request on a connection of its own (no keep-alive). */
export function request(port: number, method: string, path: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers: { ...headers, connection: 'close' }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        const sc = res.headers['set-cookie'];
        resolve({ status: res.statusCode ?? 0, setCookie: sc ?? [], body });
      });
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${path}: no answer within 10 s`)));
    req.on('error', reject);
    req.end();
  });
}

/** `sid=s%3A...` from the Set-Cookie headers of a reply. */
function sessionCookie(r: Reply, name = 'sid'): string | undefined {
  for (const c of r.setCookie) {
    const pair = c.split(';')[0].trim();
    if (pair.startsWith(`${name}=`)) return pair;
  }
  return undefined;
}

function workerOf(r: Reply): number | undefined {
  try {
    const w = (JSON.parse(r.body) as { worker?: unknown }).worker;
    return typeof w === 'number' ? w : undefined;
  } catch {
    return undefined;
  }
}

export interface Login {
  cookie: string;
  /** How many POST /login requests it took, and the workers that answered them. */
  logins: number;
  loginWorkers: number[];
  /** Workers that answered GET /read with the cookie (200) in the check after logging in. */
  readWorkers: number[];
}

/**
 * Logs in and checks that the cookie is good on every worker.
 *
 * Shared stores: one POST /login; the cookie it sets is the one express-session signed.
 * MemoryStore (`fixedSid`): each worker has its own sessions, so the same login is made on each
 * worker with the same session id (the worker's genid takes it from a header), until every worker
 * has answered one; every reply must set the same cookie.
 */
export async function login(port: number, workerCount: number, fixedSid?: string): Promise<Login> {
  const loginWorkers = new Set<number>();
  let cookie: string | undefined;
  let logins = 0;
  const headers: Record<string, string> = fixedSid ? { [SID_HEADER]: fixedSid } : {};
  while (logins < (fixedSid ? 8 * workerCount : 1)) {
    const r = await request(port, 'POST', '/login', headers);
    logins++;
    if (r.status !== 200) throw new Error(`POST /login answered ${r.status}: ${r.body.slice(0, 200)}`);
    const c = sessionCookie(r);
    if (c === undefined) throw new Error('POST /login set no sid cookie');
    if (cookie !== undefined && c !== cookie) throw new Error('POST /login set a different cookie on another worker');
    cookie = c;
    const w = workerOf(r);
    if (w !== undefined) loginWorkers.add(w);
    if (loginWorkers.size >= workerCount) break;
  }
  if (cookie === undefined) throw new Error('no cookie');
  if (fixedSid && loginWorkers.size < workerCount) throw new Error(`logged in on ${loginWorkers.size} of ${workerCount} workers after ${logins} tries`);

  // Every worker must know the session: a 401 here would turn the whole run into non-2xx.
  const readWorkers = new Set<number>();
  for (let i = 0; i < 8 * workerCount && readWorkers.size < workerCount; i++) {
    const r = await request(port, 'GET', '/read', { cookie });
    if (r.status !== 200) throw new Error(`GET /read with the login cookie answered ${r.status} (worker ${String(workerOf(r))}): ${r.body.slice(0, 200)}`);
    const w = workerOf(r);
    if (w !== undefined) readWorkers.add(w);
  }
  return { cookie, logins, loginWorkers: [...loginWorkers], readWorkers: [...readWorkers] };
}

export interface LoadOptions {
  port: number;
  /** Connection i sends cookies[i mod length]. */
  cookies: readonly string[];
  connections: number;
  /** seconds */
  duration: number;
  /** Requests per cycle of each connection: `reads` GET /read then one POST /write. */
  reads: number;
  /** autocannon's `overallRate`: at most this many requests per second in all (spread over the connections); none: as fast as it goes. */
  rate?: number;
}

export interface LoadResult {
  /** autocannon's mean of its per-second request counts. */
  reqPerSec: number;
  /** All responses over the measured wall time. */
  responses: number;
  seconds: number;
  latency: Percentiles;
  read: Percentiles;
  write: Percentiles;
  errors: number;
  timeouts: number;
  non2xx: number;
  statusCodes: Record<string, number>;
  readCount: number;
  writeCount: number;
  /** Responses per 100 ms over the run (the first and last, partial, windows left out). */
  steadiness: Steadiness;
}

export interface Percentiles {
  count: number;
  p50: number;
  p99: number;
  p999: number;
  mean: number;
}

/** How even the response rate was: counts of responses in consecutive 100 ms windows. */
export interface Steadiness {
  windows: number;
  mean: number;
  /** Coefficient of variation of the window counts (0: perfectly even). */
  cv: number;
  /** Share of windows with less than a quarter of the mean count (pauses of the load). */
  quiet: number;
}

function steadiness(times: readonly number[], seconds: number): Steadiness {
  const binMs = 100;
  const n = Math.floor((seconds * 1000) / binMs);
  const bins = new Float64Array(Math.max(n, 0));
  for (const t of times) {
    const i = Math.floor(t / binMs);
    if (i >= 0 && i < n) bins[i]++;
  }
  const inner = n > 2 ? bins.subarray(1, n - 1) : bins;
  if (inner.length === 0) return { windows: 0, mean: NaN, cv: NaN, quiet: NaN };
  let sum = 0;
  for (const x of inner) sum += x;
  const mean = sum / inner.length;
  let sq = 0;
  let quiet = 0;
  for (const x of inner) {
    sq += (x - mean) ** 2;
    if (x < mean / 4) quiet++;
  }
  return { windows: inner.length, mean, cv: mean > 0 ? Math.sqrt(sq / inner.length) / mean : NaN, quiet: quiet / inner.length };
}

function percentiles(samples: number[]): Percentiles {
  const a = Float64Array.from(samples).sort();
  const at = (q: number): number => (a.length === 0 ? NaN : a[Math.min(a.length - 1, Math.max(0, Math.ceil(q * a.length) - 1))]);
  let sum = 0;
  for (const x of a) sum += x;
  return { count: a.length, p50: at(0.5), p99: at(0.99), p999: at(0.999), mean: a.length ? sum / a.length : NaN };
}

/**
 * One autocannon run. Each connection repeats a fixed cycle of `reads` GET /read and one POST
 * /write, rotated per connection (connection i starts at position i mod cycle), so the mix is
 * exact on every connection and the writes of different connections are spread out in time.
 * Latency is taken per response (float ms, from autocannon's own per-request timer) and split by
 * route; autocannon's histogram rounds to whole milliseconds.
 */
export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const readLat: number[] = [];
  const writeLat: number[] = [];
  const times: number[] = [];
  let clientIndex = 0;
  const cycle = o.reads + 1;
  const started = performance.now();
  const result = await autocannon({
    url: `http://127.0.0.1:${o.port}`,
    connections: o.connections,
    pipelining: 1,
    duration: o.duration,
    ...(o.rate !== undefined ? { overallRate: o.rate } : {}),
    headers: { cookie: o.cookies[0] },
    setupClient: (client) => {
      const i = clientIndex++;
      const offset = i % cycle;
      const headers = { cookie: o.cookies[i % o.cookies.length] };
      let last: 'read' | 'write' = 'read';
      const read = (): autocannon.Request => ({ method: 'GET', path: '/read', headers, onResponse: () => void (last = 'read') });
      const write = (): autocannon.Request => ({ method: 'POST', path: '/write', headers, onResponse: () => void (last = 'write') });
      const requests: autocannon.Request[] = [];
      for (let i = 0; i < cycle; i++) requests.push((i + offset) % cycle === o.reads ? write() : read());
      client.setRequests(requests);
      client.on('response', (_status: number, _bytes: number, ms: number) => {
        (last === 'read' ? readLat : writeLat).push(ms);
        times.push(performance.now() - started);
      });
    },
  });
  const seconds = (performance.now() - started) / 1000;
  const statusCodes: Record<string, number> = {};
  for (const [code, v] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = v.count ?? 0;
  return {
    reqPerSec: result.requests.average,
    responses: readLat.length + writeLat.length,
    seconds,
    latency: percentiles([...readLat, ...writeLat]),
    read: percentiles(readLat),
    write: percentiles(writeLat),
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    statusCodes,
    readCount: readLat.length,
    writeCount: writeLat.length,
    steadiness: steadiness(times, seconds),
  };
}
