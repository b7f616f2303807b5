import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { SharedCache } from '../../src/index.js';
import { internals } from '../../src/core/cache/internals.js';
import { halfSipHash } from '../../src/core/hash.js';
import { H_SEED_OFF } from '../../src/core/layout.js';
import { expectCode } from '../helpers/errors.js';
import { useTmpDir } from '../helpers/tmp.js';

const MAX_KEY_BYTES = 16;

/** Every method that takes a key, called with `key`. */
function keyedCalls(c: SharedCache, key: unknown): Array<[string, () => unknown]> {
  const k = key as string;
  return [
    ['get', () => c.get(k)],
    ['getInto', () => c.getInto(k, Buffer.alloc(8))],
    ['has', () => c.has(k)],
    ['set', () => c.set(k, 1)],
    ['add', () => c.add(k, 1)],
    ['replace', () => c.replace(k, 1)],
    ['delete', () => c.delete(k)],
    ['touch', () => c.touch(k, 100)],
    ['ttl', () => c.ttl(k)],
    ['inspect', () => c.inspect(k)],
    ['update', () => c.update(k, () => 1)],
    ['getMany', () => c.getMany(['fine', k])],
    ['setMany', () => c.setMany([[k, 1]])],
  ];
}

describe('keys', () => {
  const tmp = useTmpDir();
  let c: SharedCache;
  beforeEach(() => {
    c = SharedCache.create(tmp.path(), { pageCount: 4, pageSize: 65536, maxKeyBytes: MAX_KEY_BYTES });
  });
  afterEach(() => c.close());

  const tooLong = 'é'.repeat(MAX_KEY_BYTES / 2 + 1); // 9 characters, 18 UTF-8 bytes
  it.each([
    ['the empty string', ''],
    ['a number', 42],
    ['undefined', undefined],
    ['null', null],
    ['an object', { toString: () => 'k' }],
    ['a Buffer', Buffer.from('k')],
    ['a String object', new String('k')],
    ['a key one byte over maxKeyBytes in UTF-8 though fewer characters', tooLong],
    ['a key of maxKeyBytes + 1 ASCII bytes', 'a'.repeat(MAX_KEY_BYTES + 1)],
    ['a lone high surrogate', '\uD800'],
    ['a lone low surrogate inside text', 'a\uDC00b'],
    ['a reversed surrogate pair', '\uDE00\uD83D'],
  ])('refuses %s with SESSMAP_ERR_INVALID_KEY in every method', (_label, key) => {
    c.set('fine', 'ok');
    for (const [name, call] of keyedCalls(c, key)) {
      const err = expectCode(call, 'SESSMAP_ERR_INVALID_KEY');
      expect(err.message.length, name).toBeGreaterThan(0);
    }
    expect([...c.keys()]).toEqual(['fine']);
    expect(c.get('fine')).toBe('ok');
  });

  it('accepts a key of exactly maxKeyBytes UTF-8 bytes', () => {
    const exact = 'é'.repeat(MAX_KEY_BYTES / 2);
    expect(Buffer.byteLength(exact)).toBe(MAX_KEY_BYTES);
    c.set(exact, 'v');
    expect(c.get(exact)).toBe('v');
    const fourByte = '😀'.repeat(MAX_KEY_BYTES / 4);
    c.set(fourByte, 'emoji');
    expect(c.get(fourByte)).toBe('emoji');
    expectCode(() => c.set(`${fourByte}a`, 'x'), 'SESSMAP_ERR_INVALID_KEY');
  });

  it('round-trips unicode keys byte for byte, without normalising them', () => {
    const keys = ['ключ', '鍵', '🔑', 'e\u0301', '\u00e9', 'a\u0000b', '\u0000', ' ', 'K', 'k', '𝔘'];
    keys.forEach((k, i) => c.set(k, i));
    keys.forEach((k, i) => expect(c.get(k), JSON.stringify(k)).toBe(i));
    expect(new Set(c.keys())).toEqual(new Set(keys));
    expect(new Map(c.entries())).toEqual(new Map(keys.map((k, i) => [k, i])));
    // NFD and NFC forms of é are two different keys.
    expect(c.get('e\u0301')).not.toBe(c.get('\u00e9'));
    for (const k of keys) expect(c.delete(k)).toBe(true);
    expect([...c.keys()]).toEqual([]);
  });

  it('keeps keys that share a prefix or differ in one byte apart', () => {
    const base = 'session:';
    const keys = [base, `${base}a`, `${base}b`, `${base}ab`, 'Session:', 'session;'];
    keys.forEach((k, i) => c.set(k, i));
    keys.forEach((k, i) => expect(c.get(k)).toBe(i));
    c.delete(`${base}a`);
    expect(c.get(`${base}ab`)).toBe(3);
    expect(c.get(base)).toBe(0);
  });

  it('hashes every key as the bytes of its UTF-8 encoding, however it is encoded (files keep their pages)', () => {
    const many = SharedCache.create(tmp.path('many.smap'), { pageCount: 509, pageSize: 8192 });
    try {
      const seed = readFileSync(many.path).subarray(H_SEED_OFF, H_SEED_OFF + 8);
      const k0 = seed.readInt32LE(0);
      const k1 = seed.readInt32LE(4);
      const expectedPage = (key: string): number => {
        const ab = new ArrayBuffer(4096);
        const bytes = Buffer.from(ab);
        const len = bytes.write(key, 'utf8');
        return halfSipHash(k0, k1, bytes, new Int32Array(ab), len) % 509;
      };
      const keys: string[] = [];
      for (let n = 1; n <= 70; n++) keys.push(Array.from({ length: n }, (_, i) => String.fromCharCode(33 + ((n * 7 + i * 13) % 94))).join(''));
      keys.push('\u007f', 'a\u0000b', `${'x'.repeat(9)}é`, `é${'x'.repeat(9)}`, 'abc😀', '鍵abcd', 'sess:' + 'Zz09-_'.repeat(5));
      for (const k of keys) expect(internals(many).pageOf(k), JSON.stringify(k)).toBe(expectedPage(k));
    } finally {
      many.close();
    }
  });

  it('refuses maxKeyBytes outside 1..4096 with SESSMAP_ERR_INVALID_OPTION', () => {
    for (const maxKeyBytes of [0, -1, 4097, 1.5, NaN]) {
      expectCode(() => SharedCache.create(tmp.path(`m${maxKeyBytes}.smap`), { size: '64m', maxKeyBytes }), 'SESSMAP_ERR_INVALID_OPTION');
    }
    const one = SharedCache.create(tmp.path('one.smap'), { size: '1m', maxKeyBytes: 1 });
    one.set('x', 1);
    expect(one.get('x')).toBe(1);
    expectCode(() => one.set('xy', 1), 'SESSMAP_ERR_INVALID_KEY');
    expectCode(() => one.set('é', 1), 'SESSMAP_ERR_INVALID_KEY');
    one.close();
  });
});
