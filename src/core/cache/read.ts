/**
 * Reads. A get on a page this handle has validated runs without the lock, checked by the page's
 * change sequence (a seqlock); the first read of a page, a read that keeps meeting a change
 * under way, an expired entry to remove and anything out of range go through the lock. getInto
 * is a get that copies a 'raw' value into the caller's buffer instead of a new one. has, ttl and
 * inspect do the same without counting as a use. See docs/architecture.md, "The path of a read".
 */
import { crc32 } from 'node:zlib';
import { sessmapError, type SessmapError } from '../../errors.js';
import type { Segment } from '../file.js';
import {
  ITEM_HEADER_SIZE, I_CRC_OFF, I_CRC_START, I_CREATED_OFF, I_EXPIRES_OFF, I_LEN_OFF, I_PRIORITY_OFF, I_TYPE_OFF, I_VERSION_OFF,
  PRIORITY_NAMES, P_DIRTY_IDX, P_HITS_IDX, P_MISSES_IDX, P_MOVED_IDX,
} from '../layout.js';
import { expireEntry, valueLength } from '../page/log.js';
import { TICKS_PER_MS, findSlot, idealSlot, nextTick, slotOffset, tickIdx } from '../page/slots.js';
import { TYPE_MAX, TYPE_OF, TYPE_RAW, TYPE_STRUCTURED, copyOut, decode } from '../serializer.js';
import type { EntryInfo } from '../types.js';
import { invalidOption, validateInt } from '../../util/validate.js';
import type { Handle } from './handle.js';
import { lockKey, repair, unlock, withPageLock } from './locking.js';
import { countHit, countMiss } from './stats.js';

/** From the lock-free read: try again without the lock / take the locked path. */
const RETRY: unique symbol = Symbol('retry');
const LOCKED: unique symbol = Symbol('locked');
/** From a read: the page is moved by a resize (the key lives in the new layout's page now); the layout is gone. */
const MOVED: unique symbol = Symbol('moved');
const RELAYOUT: unique symbol = Symbol('relayout');
/** Lock-free attempts of a read while writes keep changing its page, before it takes the lock. */
const OPTIMISTIC_TRIES = 256;
/** The most value bytes a read touches ahead (prefetch): 8 cache lines. */
const PREFETCH_BYTES = 512;
/** Where prefetch puts what it loaded, so that its loads are kept. */
let prefetched = 0;

/** What a peek runs on the entry's item address (-1 when there is no live entry). */
type PeekFn = (s: Segment, a: number) => unknown;
/** The slot of the item the last liveItem found (for a PeekFn that reads the slot's tick). */
let peekSlot = 0;

/** The value under `key` (undefined when none), counted as a use; its expiry goes to h.lastExpiry. */
export function getValue(h: Handle, key: string): unknown {
  return read(h, key, null, 0);
}

/**
 * Copies the 'raw' value under `key` into `into` from byte `at` and returns its length; -1 when
 * there is none. Counted as a use, as getValue is; its expiry goes to h.lastExpiry. A value that
 * does not fit, or is not raw bytes, throws (SESSMAP_ERR_TARGET_TOO_SMALL, SESSMAP_ERR_NOT_RAW)
 * and counts as nothing. No Buffer is allocated.
 */
export function getValueInto(h: Handle, key: string, into: Uint8Array, at: number): number {
  if (!(into instanceof Uint8Array)) invalidOption('target', 'a Buffer or Uint8Array', into);
  validateInt('offset', at, 0, into.length);
  const n = read(h, key, into, at);
  return n === undefined ? -1 : (n as number);
}

/**
 * A get: the value (into === null), or the byte count copied into `into` at `at`; undefined when
 * there is no live entry.
 */
function read(h: Handle, key: string, into: Uint8Array | null, at: number): unknown {
  for (;;) {
    // Read without the lock when the page is known sound; the locked path handles the rest. A
    // write under way on the page makes the read try again (a few microseconds' worth of tries)
    // rather than queue for the lock behind the writer.
    if (begin(h, key)) {
      const k = h.keys;
      for (let n = 0; n < OPTIMISTIC_TRIES; n++) {
        const r = getOptimistic(h, k.page, k.seg, k.base, k.hash, k.klen, into, at);
        if (r === MOVED) {
          if (followMove(h)) continue;
          break;
        }
        if (r === LOCKED) break;
        if (r !== RETRY) return r;
      }
    }
    const r = getLocked(h, into, at);
    if (r !== RELAYOUT) return r;
  }
}

/**
 * After a lock-free read found its page moved by a resize: points the key at its page in the new
 * layout; true when that page may be read without the lock too (this handle checked it already),
 * false to take the locked path (which follows the move, or this handle's new layout, itself).
 */
function followMove(h: Handle): boolean {
  return h.keys.toTarget() && h.validated[h.keys.page] === 1;
}

/**
 * The prologue of every read: checks the handle and locates the key (see Keys); true when its
 * page may be read without the lock (this handle validated it, and verifyReads is off).
 */
function begin(h: Handle, key: string): boolean {
  h.enter();
  const p = h.keys.locate(key);
  return h.validated[p] === 1 && !h.verifyReads;
}

/**
 * A read without the lock, validated by the page's change sequence (a seqlock): readers never
 * wait for each other or write shared state but the entry's access tick, and a writer only
 * makes them retry. A change under way (or made meanwhile) returns RETRY; what needs the lock
 * (an expired entry to remove, lengths or types that are wrong on a page that did not change)
 * returns LOCKED. The access tick is stored after the value was validated; if a writer
 * rearranged the slot table in between, the store lands on another slot's tick, which can only
 * misorder recency (never data): see docs/file-format.md.
 */
function getOptimistic(h: Handle, p: number, s: Segment, b: number, hash: number, klen: number, into: Uint8Array | null, at: number): unknown {
  const pages = h.pages;
  const i32 = s.i32;
  const seqIdx = (b >> 2) + P_DIRTY_IDX;
  const seq = Atomics.load(i32, seqIdx);
  if ((seq & 1) !== 0) return RETRY;
  if (s.u32[(b >> 2) + P_MOVED_IDX] !== 0) return MOVED;
  prefetch(h, s, b, hash, klen);
  const si = findSlot(pages, s, b, hash, klen);
  if (si < 0) {
    if (Atomics.load(i32, seqIdx) !== seq) return RETRY;
    countMiss(h, p);
    h.hooks.maybeFlush();
    return undefined;
  }
  const off = slotOffset(s, b, si);
  const a = b + off;
  const vlen = s.u32[(a + I_LEN_OFF) >> 2] - ITEM_HEADER_SIZE - klen;
  const start = a + ITEM_HEADER_SIZE + klen;
  if (vlen < 0 || vlen > h.maxItemBytes || off + ITEM_HEADER_SIZE + klen + vlen > pages.pageSize) return Atomics.load(i32, seqIdx) === seq ? LOCKED : RETRY;
  const now = h.clock();
  const exp = s.f64[(a + I_EXPIRES_OFF) >> 3];
  if (exp !== 0 && exp <= now) return LOCKED;
  const type = s.buf[a + I_TYPE_OFF];
  if (type < 1 || type > TYPE_MAX) return Atomics.load(i32, seqIdx) === seq ? LOCKED : RETRY;
  if (into !== null) return readInto(h, p, s, b, si, seq, type, start, vlen, now, exp, into, at);
  if (type === TYPE_STRUCTURED) return readStructured(h, p, s, b, si, seq, start, vlen, now, exp);
  const raw = copyOut(s.buf, type, start, start + vlen);
  if (Atomics.load(i32, seqIdx) !== seq) return RETRY;
  countUse(h, p, s, b, si, now, exp, vlen);
  h.hooks.maybeFlush();
  // 'raw' bytes are the value: no decode to try.
  return type === TYPE_RAW ? raw : decodeValue(h, p, type, raw);
}

/**
 * Touches the cache lines after the header of the item at the key's ideal slot (where it is
 * unless its slot was taken): its key and as many value bytes as the last value this handle read
 * (at most PREFETCH_BYTES). They are then fetched from memory together with the header that
 * findSlot reads next, not one after the other: the copy finds them in cache. Only reads; a wrong
 * guess costs a few loads.
 */
function prefetch(h: Handle, s: Segment, b: number, hash: number, klen: number): void {
  const off = slotOffset(s, b, idealSlot(h.pages, hash));
  const end = off + ITEM_HEADER_SIZE + klen + h.valueHint;
  if (off === 0 || end > h.pages.pageSize) return;
  const u32 = s.u32;
  let x = 0;
  for (let at = b + off + ITEM_HEADER_SIZE; at < b + end; at += 64) x += u32[at >> 2];
  prefetched = x;
}

/** A lock-free read whose copy passed the sequence check: the entry's access tick, a hit, its expiry, the length for prefetch. */
function countUse(h: Handle, p: number, s: Segment, b: number, si: number, now: number, exp: number, vlen: number): void {
  s.f64[tickIdx(b, si)] = nextTick(now);
  countHit(h, p, now);
  h.lastExpiry = exp;
  h.valueHint = vlen < PREFETCH_BYTES ? vlen : PREFETCH_BYTES;
}

/**
 * getInto without the lock: the value's bytes straight into the caller's buffer. A copy the
 * sequence check then refuses is overwritten by the retry; a value that does not fit (or is not
 * raw) throws only once the check confirmed it.
 */
function readInto(h: Handle, p: number, s: Segment, b: number, si: number, seq: number, type: number, start: number, vlen: number, now: number, exp: number, into: Uint8Array, at: number): number | typeof RETRY {
  const fits = type === TYPE_RAW && vlen <= into.length - at;
  if (fits) into.set(new Uint8Array(s.buf.buffer, s.buf.byteOffset + start, vlen), at);
  if (Atomics.load(s.i32, (b >> 2) + P_DIRTY_IDX) !== seq) return RETRY;
  if (!fits) throw unfit(type, vlen, into, at);
  countUse(h, p, s, b, si, now, exp, vlen);
  h.hooks.maybeFlush();
  return vlen;
}

/** Why getInto cannot copy a value of `type` and `vlen` bytes into `into` at `at`. */
function unfit(type: number, vlen: number, into: Uint8Array, at: number): SessmapError {
  if (type !== TYPE_RAW) {
    const serializer = (Object.keys(TYPE_OF) as (keyof typeof TYPE_OF)[]).find((n) => TYPE_OF[n] === type) ?? 'json';
    return sessmapError('SESSMAP_ERR_NOT_RAW', `getInto copies 'raw' values only; this entry was stored with serializer '${serializer}' (read it with get)`, { serializer });
  }
  return sessmapError('SESSMAP_ERR_TARGET_TOO_SMALL', `the value is ${vlen} bytes; the target has ${into.length - at} from offset ${at}`, { size: vlen, available: into.length - at, offset: at });
}

/**
 * A 'structured' value: copied into the handle's reused scratch (no allocation), checked against
 * the sequence, and decoded from there, before any hook can run (a hook that reads would reuse
 * the scratch). Only bytes that passed the check are decoded.
 */
function readStructured(h: Handle, p: number, s: Segment, b: number, si: number, seq: number, start: number, vlen: number, now: number, exp: number): unknown {
  const scratch = h.valueScratch;
  scratch.set(new Uint8Array(s.buf.buffer, s.buf.byteOffset + start, vlen));
  if (Atomics.load(s.i32, (b >> 2) + P_DIRTY_IDX) !== seq) return RETRY;
  countUse(h, p, s, b, si, now, exp, vlen);
  let value: unknown;
  try {
    value = h.codec.decodeScratch(scratch, vlen);
  } catch {
    // Checksummed bytes that do not decode: as decodeValue does, from a copy.
    value = decodeValue(h, p, TYPE_STRUCTURED, Buffer.from(scratch.subarray(0, vlen)));
  }
  h.hooks.maybeFlush();
  return value;
}

/**
 * The read under the lock: removes an expired entry, verifies the checksum with verifyReads.
 * With `into`, copies the value there (or throws, counting nothing) and returns its length.
 */
function getLocked(h: Handle, into: Uint8Array | null, at: number): unknown {
  const pages = h.pages;
  const k = h.keys;
  if (!lockKey(h)) {
    h.enter();
    return RELAYOUT;
  }
  const { page: p, seg: s, base: b, hash, klen } = k;
  let raw: string | Buffer | number;
  let type: number;
  try {
    const now = h.clock();
    const si = findSlot(pages, s, b, hash, klen);
    if (si < 0) {
      s.f64[(b >> 3) + P_MISSES_IDX]++;
      return undefined;
    }
    const off = slotOffset(s, b, si);
    const a = b + off;
    const exp = s.f64[(a + I_EXPIRES_OFF) >> 3];
    if (exp !== 0 && exp <= now) {
      expireEntry(pages, p, s, b, si, off);
      s.f64[(b >> 3) + P_MISSES_IDX]++;
      return undefined;
    }
    const start = a + ITEM_HEADER_SIZE + klen;
    const vlen = valueLength(s, a);
    const end = start + vlen;
    if (h.verifyReads && crc32(s.buf.subarray(a + I_CRC_START, end)) !== s.u32[(a + I_CRC_OFF) >> 2]) {
      repair(h, p, s, b);
      s.f64[(b >> 3) + P_MISSES_IDX]++;
      return undefined;
    }
    type = s.buf[a + I_TYPE_OFF];
    if (into === null) raw = copyOut(s.buf, type, start, end);
    else if (type === TYPE_RAW && vlen <= into.length - at) {
      into.set(new Uint8Array(s.buf.buffer, s.buf.byteOffset + start, vlen), at);
      raw = vlen;
    } else throw unfit(type, vlen, into, at);
    s.f64[tickIdx(b, si)] = nextTick(now);
    s.f64[(b >> 3) + P_HITS_IDX]++;
    h.lastExpiry = exp;
  } finally {
    unlock(s, b);
    h.hooks.maybeFlush();
  }
  return into === null && type !== TYPE_RAW ? decodeValue(h, p, type, raw as string | Buffer) : raw;
}

/** True when a live entry is stored under `key` (not counted as a use). */
export function hasEntry(h: Handle, key: string): boolean {
  return peek(h, key, (s, a) => a >= 0) as boolean;
}

/** Remaining lifetime in ms (Infinity without expiry), or undefined when absent. */
export function entryTtl(h: Handle, key: string): number | undefined {
  const now = h.clock();
  return peek(h, key, (s, a) => {
    if (a < 0) return undefined;
    const exp = s.f64[(a + I_EXPIRES_OFF) >> 3];
    return exp === 0 ? Infinity : exp - now;
  }) as number | undefined;
}

/** Metadata of an entry, without its value. */
export function inspectEntry(h: Handle, key: string): EntryInfo | undefined {
  return peek(h, key, (s, a) => (a < 0 ? undefined : entryInfoAt(s, a, s.f64[tickIdx(h.keys.base, peekSlot)]))) as EntryInfo | undefined;
}

/** The metadata of the live item at `a`, whose slot holds access tick `tick`. */
export function entryInfoAt(s: Segment, a: number, tick: number): EntryInfo {
  const exp = s.f64[(a + I_EXPIRES_OFF) >> 3];
  const used = Math.floor(tick / TICKS_PER_MS);
  return {
    expiresAt: exp === 0 ? Infinity : exp,
    createdAt: s.f64[(a + I_CREATED_OFF) >> 3],
    version: s.u32[(a + I_VERSION_OFF) >> 2],
    priority: PRIORITY_NAMES[s.buf[a + I_PRIORITY_OFF]],
    size: valueLength(s, a),
    // A tick is written without the lock: one that is not a plain number says nothing.
    lastUsed: Number.isSafeInteger(used) && used >= 0 ? used : 0,
  };
}

/**
 * Runs `fn` with the key's live item address (-1 when absent), without changing recency: like a
 * get, without the lock (a seqlock read; `fn` only reads, and its result is dropped if the page
 * changed meanwhile), else under it.
 */
function peek(h: Handle, key: string, fn: PeekFn): unknown {
  for (;;) {
    if (begin(h, key)) {
      const k = h.keys;
      for (let n = 0; n < OPTIMISTIC_TRIES; n++) {
        const r = peekOptimistic(h, k.seg, k.base, k.hash, k.klen, fn);
        if (r === MOVED) {
          if (followMove(h)) continue;
          break;
        }
        if (r !== RETRY) return r;
      }
    }
    const k = h.keys;
    if (!lockKey(h)) {
      h.enter();
      continue;
    }
    const s = k.seg;
    const b = k.base;
    try {
      return fn(s, liveItem(h, s, b, k.hash, k.klen));
    } finally {
      unlock(s, b);
    }
  }
}

/** A peek without the lock: `fn`'s result, or RETRY when the page changed (or was changing) meanwhile. */
function peekOptimistic(h: Handle, s: Segment, b: number, hash: number, klen: number, fn: PeekFn): unknown {
  const seqIdx = (b >> 2) + P_DIRTY_IDX;
  const seq = Atomics.load(s.i32, seqIdx);
  if ((seq & 1) !== 0) return RETRY;
  if (s.u32[(b >> 2) + P_MOVED_IDX] !== 0) return MOVED;
  const a = liveItem(h, s, b, hash, klen);
  if (a === -2) return RETRY;
  const r = fn(s, a);
  return Atomics.load(s.i32, seqIdx) === seq ? r : RETRY;
}

/**
 * The address of the key's live item: -1 when it has none (absent or expired), -2 when the
 * slot points out of the page (only seen by a read racing a change).
 */
function liveItem(h: Handle, s: Segment, b: number, hash: number, klen: number): number {
  const pages = h.pages;
  const si = findSlot(pages, s, b, hash, klen);
  if (si < 0) return -1;
  peekSlot = si;
  const off = slotOffset(s, b, si);
  if (off + ITEM_HEADER_SIZE > pages.pageSize) return -2;
  const a = b + off;
  const exp = s.f64[(a + I_EXPIRES_OFF) >> 3];
  return exp !== 0 && exp <= h.clock() ? -1 : a;
}

function decodeValue(h: Handle, p: number, type: number, raw: string | Buffer): unknown {
  h.hooks.maybeFlush();
  try {
    return decode(type, raw, h.codec);
  } catch {
    // Checksummed bytes that do not decode: have the page checked again, report a miss.
    h.validated[p] = 0;
    withPageLock(h, p, () => undefined);
    return undefined;
  }
}
