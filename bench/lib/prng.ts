/**
 * Seeded pseudo-random numbers, so every run of the benchmark uses the same keys, values and
 * access pattern. mulberry32: 32-bit state, good enough for workload generation, not for crypto.
 */

export type Rng = () => number;

/** A generator of floats in [0, 1) from a 32-bit seed. */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An integer in [0, n). */
export function randInt(rng: Rng, n: number): number {
  return Math.floor(rng() * n);
}

/** `n` pseudo-random bytes: a deterministic stand-in for `crypto.randomBytes(n)`. */
export function randBytes(rng: Rng, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (rng() * 256) | 0;
  return b;
}

/** Same shape as `crypto.randomBytes(bytes).toString('base64url')`. */
export function randBase64url(rng: Rng, bytes: number): string {
  return randBytes(rng, bytes).toString('base64url');
}

/** One element of `items`. */
export function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[randInt(rng, items.length)];
}

/** `n` indices in [0, range), uniformly distributed. */
export function randIndices(rng: Rng, n: number, range: number): Uint32Array {
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = randInt(rng, range);
  return out;
}
