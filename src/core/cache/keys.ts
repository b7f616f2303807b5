/**
 * The key codec: validates a key, puts its UTF-8 bytes into the page engine's scratch buffer
 * (ASCII keys four characters to a word, no encoder call) and finds where it lives: its keyed
 * hash, its page, the mapping holding that page and the page's offset in it. One object per
 * handle, holding the key of the operation under way (like the scratch buffer its bytes are in),
 * so that the read and write paths share one prologue and allocate nothing.
 */
import { sessmapError, type SessmapError } from '../../errors.js';
import type { Segment } from '../file.js';
import type { Pages } from '../page/pages.js';

export class Keys {
  readonly #pages: Pages;
  readonly #scratch: Buffer;
  /** The same bytes as 32-bit words. */
  readonly #words: Int32Array;
  readonly #maxKeyBytes: number;
  /** Of the key last located: its byte length (the bytes are in scratch), hash, page, mapping and page base. */
  klen: number;
  hash: number;
  page: number;
  seg: Segment;
  base: number;

  constructor(pages: Pages, maxKeyBytes: number) {
    this.#pages = pages;
    this.#scratch = pages.scratch;
    this.#words = pages.scratchI32;
    this.#maxKeyBytes = maxKeyBytes;
    this.klen = 0;
    this.hash = 0;
    this.page = 0;
    this.seg = pages.segs[0];
    this.base = 0;
  }

  /** Encodes `key` and finds its page (see the fields); returns the page. Throws SESSMAP_ERR_INVALID_KEY. */
  locate(key: string): number {
    const pages = this.#pages;
    const klen = this.encode(key);
    const h = pages.hashKey(klen);
    const p = pages.pageOf(h);
    this.klen = klen;
    this.hash = h;
    this.page = p;
    this.seg = pages.segs[pages.segOf[p]];
    this.base = pages.baseOf[p];
    return p;
  }

  /**
   * During a resize, points the located key at its page in the new layout (its page in the old
   * one is moved); false when there is none to go to (no resize, or already there).
   */
  toTarget(): boolean {
    const pages = this.#pages;
    if (pages.toCount === 0 || this.page >= pages.count) return false;
    const p = pages.targetOf(this.hash);
    this.page = p;
    this.seg = pages.segs[pages.segOf[p]];
    this.base = pages.baseOf[p];
    return true;
  }

  /** Validates a key and leaves its UTF-8 bytes in scratch; returns their count. */
  encode(key: string): number {
    if (typeof key !== 'string' || key.length === 0 || key.length > this.#maxKeyBytes) {
      throw this.#badKey(key);
    }
    // ASCII keys (session ids, most cache keys) are copied without an encoder call, four
    // characters to a little-endian word: the hash and the key compare read whole words, and a
    // word stored whole is read back at once, where one stored as four bytes would stall the load.
    const words = this.#words;
    const n = key.length;
    const whole = n & ~3;
    let i = 0;
    for (; i < whole; i += 4) {
      const c0 = key.charCodeAt(i);
      const c1 = key.charCodeAt(i + 1);
      const c2 = key.charCodeAt(i + 2);
      const c3 = key.charCodeAt(i + 3);
      if ((c0 | c1 | c2 | c3) >= 0x80) return this.#encodeUtf8(key);
      words[i >> 2] = c0 | (c1 << 8) | (c2 << 16) | (c3 << 24);
    }
    const scratch = this.#scratch;
    for (; i < n; i++) {
      const c = key.charCodeAt(i);
      if (c >= 0x80) return this.#encodeUtf8(key);
      scratch[i] = c;
    }
    return n;
  }

  #encodeUtf8(key: string): number {
    const klen = this.#scratch.write(key, 0, 'utf8');
    if (klen > this.#maxKeyBytes || !key.isWellFormed()) throw this.#badKey(key);
    return klen;
  }

  #badKey(key: unknown): SessmapError {
    if (typeof key !== 'string') return sessmapError('SESSMAP_ERR_INVALID_KEY', `key must be a string; got ${key === null ? 'null' : typeof key}`);
    if (key.length === 0) return sessmapError('SESSMAP_ERR_INVALID_KEY', 'key must not be empty');
    if (!key.isWellFormed()) return sessmapError('SESSMAP_ERR_INVALID_KEY', 'key contains a lone UTF-16 surrogate (not valid Unicode)');
    return sessmapError('SESSMAP_ERR_INVALID_KEY', `key is ${Buffer.byteLength(key)} bytes in UTF-8; the limit is ${this.#maxKeyBytes}`, { bytes: Buffer.byteLength(key), maxKeyBytes: this.#maxKeyBytes });
  }
}
