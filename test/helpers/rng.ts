/** A small seeded PRNG (mulberry32) so fuzz runs are reproducible from their seed. */
export class Rng {
  #s: number;
  constructor(readonly seed: number) {
    this.#s = seed >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    this.#s = (this.#s + 0x6d2b79f5) >>> 0;
    let t = this.#s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)];
  }
  bool(p = 0.5): boolean {
    return this.next() < p;
  }
  /** A printable ASCII string of the given length. */
  ascii(len: number): string {
    let s = '';
    for (let i = 0; i < len; i++) s += String.fromCharCode(this.int(33, 126));
    return s;
  }
  bytes(len: number): Buffer {
    const b = Buffer.alloc(len);
    for (let i = 0; i < len; i++) b[i] = this.int(0, 255);
    return b;
  }
}

/** A seed from SESSMAP_TEST_SEED when set (to replay a failure), else a fresh random one. */
export function seedFromEnv(): number {
  const s = process.env.SESSMAP_TEST_SEED;
  if (s !== undefined && s !== '') return Number(s) >>> 0;
  return (Math.random() * 2 ** 32) >>> 0;
}
