/**
 * Self-describing 'raw' values for the getInto tests (get-into.test.ts and its forked writer,
 * fixtures/core/raw-writer.ts): a value read for the wrong key, torn, or of the wrong length is
 * caught by looking at it alone.
 */

/** A self-describing value: u32 length, u32 key index, u32 sequence, then bytes derived from the three. */
export function rawValue(len: number, key: number, seq: number): Buffer {
  const b = Buffer.allocUnsafe(len);
  b.writeUInt32LE(len, 0);
  b.writeUInt32LE(key, 4);
  b.writeUInt32LE(seq, 8);
  for (let j = 12; j < len; j++) b[j] = (seq * 31 + key * 7 + j) & 0xff;
  return b;
}

/** What is wrong with `n` bytes read for key index `key` at `at` in `buf` (undefined: nothing); their sequence goes to `out.seq`. */
export function rawValueProblem(buf: Uint8Array, at: number, n: number, key: number, out: { seq: number }): string | undefined {
  const v = Buffer.from(buf.buffer, buf.byteOffset + at, n);
  if (n < 12) return `${n} bytes, shorter than any value written`;
  if (v.readUInt32LE(0) !== n) return `getInto returned ${n}, the value says ${v.readUInt32LE(0)}`;
  if (v.readUInt32LE(4) !== key) return `read under key ${key}, the value is key ${v.readUInt32LE(4)}'s`;
  const seq = v.readUInt32LE(8);
  for (let j = 12; j < n; j++) if (v[j] !== ((seq * 31 + key * 7 + j) & 0xff)) return `byte ${j} of seq ${seq} differs (torn)`;
  out.seq = seq;
  return undefined;
}
