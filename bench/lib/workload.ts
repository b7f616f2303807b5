/**
 * The session-shaped workload: keys like express-session ids, values like the sessions an app
 * with login, CSRF protection and a cart keeps (about 400 bytes as JSON). Everything is derived
 * from a seed, so two runs (and two processes of one run) see identical data.
 */
import { mulberry32, pick, randBase64url, randIndices, randInt, type Rng } from './prng.js';

export interface CartItem {
  sku: string;
  qty: number;
  price: number;
}

/** What express-session would keep for a logged-in shopper. `views` is the counter `update` bumps. */
export interface Session {
  cookie: {
    originalMaxAge: number;
    expires: string;
    secure: boolean;
    httpOnly: boolean;
    path: string;
    sameSite: string;
  };
  passport: { user: string };
  csrfSecret: string;
  views: number;
  lastSeen: number;
  locale: string;
  returnTo: string;
  cart: CartItem[];
  flash: Record<string, string[]>;
}

const LOCALES = ['en-US', 'en-GB', 'de-DE', 'fr-FR', 'es-ES', 'ja-JP'] as const;
const FLASH = ['Item added to your cart', 'Welcome back!', 'Your address was saved'] as const;
const BASE_TIME = 1_750_000_000_000;

/** A 32-character base64url id, the shape of `crypto.randomBytes(24).toString('base64url')`. */
export function makeKey(rng: Rng): string {
  return randBase64url(rng, 24);
}

export function makeSession(rng: Rng): Session {
  const maxAge = 86_400_000 * (1 + randInt(rng, 14));
  const lastSeen = BASE_TIME + randInt(rng, 86_400_000);
  const items = randInt(rng, 4);
  const cart: CartItem[] = [];
  for (let i = 0; i < items; i++) {
    cart.push({
      sku: `SKU-${String(100000 + randInt(rng, 900000))}`,
      qty: 1 + randInt(rng, 4),
      price: 99 + randInt(rng, 20000),
    });
  }
  return {
    cookie: {
      originalMaxAge: maxAge,
      expires: new Date(lastSeen + maxAge).toISOString(),
      secure: true,
      httpOnly: true,
      path: '/',
      sameSite: 'lax',
    },
    passport: { user: `u_${randBase64url(rng, 12)}` },
    csrfSecret: randBase64url(rng, 18),
    views: randInt(rng, 100),
    lastSeen,
    locale: pick(rng, LOCALES),
    returnTo: `/account/orders/${String(randInt(rng, 1_000_000))}`,
    cart,
    flash: rng() < 0.3 ? { info: [pick(rng, FLASH)] } : {},
  };
}

/** The read-modify-write of the `update` phase: bump the view counter. */
export function bumpViews(s: Session): Session {
  s.views++;
  return s;
}

export interface WorkloadSizes {
  /** Entries loaded into the store. */
  entries: number;
  /** Length of each precomputed random index stream. */
  ops: number;
  /** Fraction of writes in the mixed phases. */
  setRatio: number;
}

export interface Workload {
  keys: string[];
  sessions: Session[];
  /** Replacement values written by the `set`s of the mixed phases. */
  altSessions: Session[];
  /** Random indices into `keys` for the read and update phases. */
  idx: Uint32Array;
  /** 1 where the mixed phase does a set, 0 for a get. */
  kind: Uint8Array;
}

/** Keys, values and op streams. `streamSeed` varies the access pattern (one per process in mix2). */
export function makeWorkload(seed: number, sizes: WorkloadSizes, streamSeed = 0): Workload {
  const rng = mulberry32(seed);
  const keys: string[] = [];
  const sessions: Session[] = [];
  for (let i = 0; i < sizes.entries; i++) {
    keys.push(makeKey(rng));
    sessions.push(makeSession(rng));
  }
  const altSessions: Session[] = [];
  for (let i = 0; i < 1024; i++) altSessions.push(makeSession(rng));
  const opRng = mulberry32(seed ^ (0x9e3779b9 * (streamSeed + 1)));
  const idx = randIndices(opRng, sizes.ops, sizes.entries);
  const kind = new Uint8Array(sizes.ops);
  for (let i = 0; i < sizes.ops; i++) kind[i] = opRng() < sizes.setRatio ? 1 : 0;
  return { keys, sessions, altSessions, idx, kind };
}

/** Distinct keys for warm-up writes, so warm-up does not pre-load the keys a phase measures. */
export function makeWarmKeys(seed: number, n: number): string[] {
  const rng = mulberry32(seed ^ 0x5bd1e995);
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(makeKey(rng));
  return out;
}

/** Mean, min and max of the JSON sizes of `values`, in bytes. */
export function jsonSizes(values: readonly unknown[]): { mean: number; min: number; max: number } {
  let sum = 0;
  let min = Infinity;
  let max = 0;
  for (const v of values) {
    const n = Buffer.byteLength(JSON.stringify(v));
    sum += n;
    if (n < min) min = n;
    if (n > max) max = n;
  }
  return { mean: sum / values.length, min, max };
}
