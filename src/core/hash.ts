/**
 * HalfSipHash-1-3 with a 64-bit key and a 32-bit result: a keyed hash, so that nobody who
 * does not know the file's random seed can craft keys that all land in one page or slot chain.
 * (HalfSipHash is the 32-bit-word member of the SipHash family, the hash Linux uses for the
 * same purpose as `hsiphash`.) Works on whole 32-bit words read from an Int32Array view of a
 * scratch buffer, so the hot path allocates nothing.
 */

function rotl(x: number, b: number): number {
  return (x << b) | (x >>> (32 - b));
}

/**
 * Hashes `len` bytes held in `bytes` (whose words are also visible through `words`, the same
 * memory as an Int32Array, starting at byte 0). Bytes past `len` in the last word are ignored.
 */
export function halfSipHash(k0: number, k1: number, bytes: Uint8Array, words: Int32Array, len: number): number {
  let v0 = k0 | 0;
  let v1 = k1 | 0;
  let v2 = (0x6c796765 ^ k0) | 0;
  let v3 = (0x74656462 ^ k1) | 0;
  const whole = len >>> 2;
  // The last block: the bytes past the whole words, and the length in the top byte.
  let b = len << 24;
  const rest = len & 3;
  const at = whole << 2;
  if (rest === 3) b |= bytes[at + 2] << 16;
  if (rest >= 2) b |= bytes[at + 1] << 8;
  if (rest >= 1) b |= bytes[at];
  // One compression SipRound (c = 1) per block, the whole words and then the last block.
  for (let i = 0; i <= whole; i++) {
    const m = i < whole ? words[i] : b;
    v3 ^= m;
    v0 = (v0 + v1) | 0; v1 = rotl(v1, 5); v1 ^= v0; v0 = rotl(v0, 16);
    v2 = (v2 + v3) | 0; v3 = rotl(v3, 8); v3 ^= v2;
    v0 = (v0 + v3) | 0; v3 = rotl(v3, 7); v3 ^= v0;
    v2 = (v2 + v1) | 0; v1 = rotl(v1, 13); v1 ^= v2; v2 = rotl(v2, 16);
    v0 ^= m;
  }
  // Three finalization SipRounds (d = 3).
  v2 ^= 0xff;
  for (let r = 0; r < 3; r++) {
    v0 = (v0 + v1) | 0; v1 = rotl(v1, 5); v1 ^= v0; v0 = rotl(v0, 16);
    v2 = (v2 + v3) | 0; v3 = rotl(v3, 8); v3 ^= v2;
    v0 = (v0 + v3) | 0; v3 = rotl(v3, 7); v3 ^= v0;
    v2 = (v2 + v1) | 0; v1 = rotl(v1, 13); v1 ^= v2; v2 = rotl(v2, 16);
  }
  return (v1 ^ v3) >>> 0;
}
