/**
 * Writes: set / add / replace, update (read-modify-write under the page lock), touch and
 * expireAt (a new expiry, the value not rewritten), delete. A value is serialized and checked
 * against maxItemBytes before any lock is taken (in update, the callback's result under it).
 * Under the lock an expired old entry is removed first, and the page is marked mid-change only
 * from the first store that changes it. See docs/architecture.md, "The path of a write".
 */
import { sessmapError } from '../../errors.js';
import { FAULTS, fault } from '../faults.js';
import { I_EXPIRES_OFF, I_PRIORITY_OFF, I_TYPE_OFF, PRIORITY_CODES, PRIORITY_NAMES, beginChange, endChange } from '../layout.js';
import { validateEnum, validateTtl } from '../options.js';
import { expireEntry, noteExpiry, removeEntry, valueOf } from '../page/log.js';
import { PageDamaged } from '../page/pages.js';
import { findSlot, nextTick, slotOffset, tickIdx } from '../page/slots.js';
import { storeEntry } from '../page/write.js';
import { decode, encode, encodedLength, typeOfEncoded, type Encoded } from '../serializer.js';
import type { Priority, SetOptions, UpdateOptions } from '../types.js';
import type { Handle } from './handle.js';
import { lockKey, repair, unlock } from './locking.js';

export const MODE_SET = 0;
export const MODE_ADD = 1;
export const MODE_REPLACE = 2;
const PRIORITIES: readonly Priority[] = PRIORITY_NAMES;

/** Returned by an update callback to leave the entry exactly as it is (nothing is written). */
export const UNCHANGED: unique symbol = Symbol('sessmap.unchanged');

/** An update callback: the current value (or undefined) to the new one, undefined to delete, UNCHANGED to keep. */
export type UpdateFn<V> = (current: V | undefined) => V | undefined | typeof UNCHANGED;

/** What runs under the lock of a write: the key's live slot (-1: none) and its item's page offset. */
type Locked<R> = (si: number, off: number, now: number) => R;

/** Wraps an error thrown by an update callback, which changed nothing. */
class CallbackError {
  constructor(readonly error: unknown) {}
}

/** The absolute expiry (0: none) of an entry given `ttl` ms at `now`. */
function expiry(ttl: number, now: number): number {
  return ttl === 0 || ttl === Infinity ? 0 : now + ttl;
}

/** set (MODE_SET), add (MODE_ADD: only when absent) or replace (MODE_REPLACE: only when present); whether it stored. */
export function store(h: Handle, mode: number, key: string, value: unknown, options: SetOptions | undefined): boolean {
  const ttl = options?.ttl === undefined ? h.defaultTtl : validateTtl('ttl', options.ttl);
  const prio = options?.priority === undefined ? PRIORITY_CODES.normal : PRIORITY_CODES[validateEnum('priority', options.priority, PRIORITIES)];
  h.enter();
  // Serialize first: a toJSON hook may call the cache, which reuses the key scratch buffer.
  const enc = encode(h.type, value, h.codec);
  h.keys.locate(key);
  const vlen = checkSize(h, h.keys.klen, enc);
  return mutate(h, key, true, (si, off, now) => {
    if (mode === MODE_ADD && si >= 0) return false;
    if (mode === MODE_REPLACE && si < 0) return false;
    write(h, si, off, enc, vlen, expiry(ttl, now), prio, now);
    return true;
  });
}

/** Removes the entry; whether a live one was there. */
export function deleteKey(h: Handle, key: string): boolean {
  return mutate(h, key, false, (si, off) => remove(h, si, off));
}

/** A new TTL from now (default: defaultTtl); whether the entry exists. */
export function touchKey(h: Handle, key: string, ttl: number | undefined): boolean {
  return retime(h, key, expiry(ttl === undefined ? h.defaultTtl : validateTtl('ttl', ttl), h.clock()));
}

/** A new absolute expiry (0 or Infinity: never); whether the entry exists. */
export function expireKeyAt(h: Handle, key: string, at: number): boolean {
  validateTtl('at', at);
  return retime(h, key, at === Infinity ? 0 : at);
}

/** See SharedCache.update. */
export function updateKey<V>(h: Handle, key: string, fn: UpdateFn<V>, options: UpdateOptions<V> | undefined): V | undefined {
  const ttlOpt = options?.ttl;
  const prioOpt = options?.priority;
  const atOpt = options?.expiresAt;
  if (ttlOpt !== undefined && typeof ttlOpt !== 'function') validateTtl('ttl', ttlOpt);
  if (atOpt !== undefined && typeof atOpt !== 'function') validateTtl('expiresAt', atOpt);
  if (prioOpt !== undefined && typeof prioOpt !== 'function') validateEnum('priority', prioOpt, PRIORITIES);
  return mutate(h, key, false, (si, off, now) => {
    const s = h.keys.seg;
    let current: V | undefined;
    let oldExp = 0;
    let oldPrio: number = PRIORITY_CODES.normal;
    if (si >= 0) {
      const a = h.keys.base + off;
      current = decode(s.buf[a + I_TYPE_OFF], valueOf(s, a), h.codec) as V;
      oldExp = s.f64[(a + I_EXPIRES_OFF) >> 3];
      oldPrio = s.buf[a + I_PRIORITY_OFF];
    }
    let next: V | undefined | typeof UNCHANGED;
    let ttl: number | undefined;
    let at: number | undefined;
    let prio = -1;
    try {
      next = fn(current);
      if (next === UNCHANGED) {
        h.lastExpiry = oldExp;
        return current;
      }
      if (next !== undefined) {
        if (atOpt !== undefined) at = validateTtl('expiresAt', typeof atOpt === 'function' ? atOpt(next) : atOpt);
        else if (ttlOpt !== undefined) ttl = validateTtl('ttl', typeof ttlOpt === 'function' ? ttlOpt(next) : ttlOpt);
        if (prioOpt !== undefined) prio = PRIORITY_CODES[validateEnum('priority', typeof prioOpt === 'function' ? prioOpt(next) : prioOpt, PRIORITIES)];
      }
    } catch (err) {
      throw new CallbackError(err);
    }
    if (next !== null && typeof next === 'object' && typeof (next as { then?: unknown }).then === 'function') {
      throw sessmapError('SESSMAP_ERR_UPDATE_ASYNC', 'the update callback returned a promise; it runs under a page lock and must return the new value synchronously');
    }
    if (next === undefined) {
      remove(h, si, off);
      return undefined;
    }
    const enc = encode(h.type, next, h.codec);
    const vlen = checkSize(h, h.keys.klen, enc);
    const expires = at !== undefined ? (at === Infinity ? 0 : at) : ttl !== undefined ? expiry(ttl, now) : si >= 0 ? oldExp : expiry(h.defaultTtl, now);
    write(h, si, off, enc, vlen, expires, prio >= 0 ? prio : si >= 0 ? oldPrio : PRIORITY_CODES.normal, now);
    return next;
  });
}

function checkSize(h: Handle, klen: number, enc: Encoded): number {
  const vlen = encodedLength(enc);
  if (klen + vlen > h.maxItemBytes) {
    throw sessmapError('SESSMAP_ERR_VALUE_TOO_LARGE', `key and value take ${klen + vlen} bytes; the largest item this cache stores is ${h.maxItemBytes} bytes (half a page less headers)`, { bytes: klen + vlen, maxItemBytes: h.maxItemBytes });
  }
  return vlen;
}

/** Deletes the located key's entry, if live (lock held); whether it was. */
function remove(h: Handle, si: number, off: number): boolean {
  if (si < 0) return false;
  const k = h.keys;
  beginChange(k.seg.i32, k.base);
  removeEntry(h.pages, k.page, k.seg, k.base, si, off, 'deleted');
  return true;
}

/** Sets the located entry's expiry in place (one 8-byte store), counted as a use. */
function retime(h: Handle, key: string, expires: number): boolean {
  return mutate(h, key, false, (si, off, now) => {
    if (si < 0) return false;
    const s = h.keys.seg;
    const b = h.keys.base;
    s.f64[(b + off + I_EXPIRES_OFF) >> 3] = expires;
    noteExpiry(s, b, expires);
    s.f64[tickIdx(b, si)] = nextTick(now);
    return true;
  });
}

/** Writes the located key's new entry in place of its old one (lock held). */
function write(h: Handle, si: number, off: number, enc: Encoded, vlen: number, expires: number, prio: number, now: number): void {
  const k = h.keys;
  const d = h.item;
  d.hash = k.hash;
  d.keyLength = k.klen;
  d.value = enc;
  d.valueLength = vlen;
  d.type = typeOfEncoded(h.type, enc, vlen);
  d.expires = expires;
  d.priority = prio;
  beginChange(k.seg.i32, k.base);
  try {
    storeEntry(h.pages, k.page, k.seg, k.base, si, off, d, now);
  } finally {
    d.value = ''; // hold no value past the write
  }
  h.lastExpiry = expires;
}

/**
 * Runs `fn` on the key's page, locked, with the key's live slot (an expired entry is removed
 * first and passed as absent). `located`: the key was just located (by store, which encodes
 * the value first). Repairs the page if `fn` fails half-way, and retries once if the page
 * turned out damaged.
 */
function mutate<R>(h: Handle, key: string, located: boolean, fn: Locked<R>): R {
  const before = h.keys;
  h.enter();
  if (h.keys !== before) located = false; // a new layout: the key is located in it
  for (let attempt = 0; ; attempt++) {
    const pages = h.pages;
    const keys = h.keys;
    if (!located || attempt > 0) keys.locate(key);
    if (!lockKey(h)) {
      // A resize published a new layout since this call began: follow it, and locate the key again.
      h.enter();
      attempt = -1;
      located = false;
      continue;
    }
    const p = keys.page;
    const s = keys.seg;
    const b = keys.base;
    let result: R;
    try {
      if (FAULTS) fault('lock:held');
      const now = h.clock();
      // The page is marked mid-change (its sequence made odd) only from the first store that
      // changes it (an expiry, a write, a removal): lock-free readers go on reading it while
      // this call looks up the key, decodes the old value and runs an update callback.
      let si = findSlot(pages, s, b, keys.hash, keys.klen);
      let off = si >= 0 ? slotOffset(s, b, si) : 0;
      if (si >= 0) {
        const exp = s.f64[(b + off + I_EXPIRES_OFF) >> 3];
        if (exp !== 0 && exp <= now) {
          expireEntry(pages, p, s, b, si, off);
          si = -1;
          off = 0;
        }
      }
      result = fn(si, off, now);
      endChange(s.i32, b);
    } catch (err) {
      if (err instanceof CallbackError) {
        endChange(s.i32, b);
        throw err.error;
      }
      if (err instanceof PageDamaged || !(err as { code?: string }).code?.startsWith('SESSMAP_ERR_')) {
        // The page may be half-changed: rebuild it before anyone else sees it.
        repair(h, p, s, b);
        if (err instanceof PageDamaged && attempt === 0) continue;
      } else endChange(s.i32, b);
      throw err;
    } finally {
      unlock(s, b);
      h.hooks.maybeFlush();
    }
    return result;
  }
}
