/**
 * Session data is JSON: what a store returns is what `JSON.parse(JSON.stringify(data))` gives
 * (connect-redis, MemoryStore and every other store keep it so, and frameworks count on it: an
 * express-session Cookie is stored through its toJSON, a Date comes back as its ISO string, an
 * undefined field is left out). Stores that keep binary records (msgpackr) must give the same:
 * `asJson` hands back the data itself when it is already plain JSON (plain objects and arrays of
 * strings, finite numbers, booleans and null: the common case, checked with one walk and no
 * allocation), and its JSON round trip otherwise.
 */
import { sessmapError } from '../errors.js';

/** Depth past which a value is not walked but round-tripped (JSON.stringify finds any cycle). */
const MAX_DEPTH = 64;

/** True when `v` is plain JSON: its JSON round trip would give an equal value. */
export function isPlainJson(v: unknown, depth = 0): boolean {
  if (v === null) return true;
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      // NaN and ±Infinity become null, -0 becomes 0.
      return Number.isFinite(v) && !Object.is(v, -0);
    case 'object': {
      if (depth >= MAX_DEPTH) return false;
      if (Array.isArray(v)) {
        if (Object.getPrototypeOf(v) !== Array.prototype) return false;
        for (let i = 0; i < v.length; i++) {
          // A hole reads as undefined, and becomes null.
          if (!(i in v) || !isPlainJson(v[i], depth + 1)) return false;
        }
        return true;
      }
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) return false;
      if ('toJSON' in (v as object)) return false;
      for (const k in v as Record<string, unknown>) {
        if (!Object.prototype.hasOwnProperty.call(v, k)) return false;
        if (!isPlainJson((v as Record<string, unknown>)[k], depth + 1)) return false;
      }
      // Symbol keys: JSON leaves them out.
      return Object.getOwnPropertySymbols(v).length === 0;
    }
    default:
      // undefined, functions, symbols and bigints are left out, refused or turned into null by JSON.
      return false;
  }
}

/**
 * The data as JSON gives it back: itself when plain, else its JSON round trip. Data that JSON
 * cannot hold (a cycle, a BigInt, no JSON form at all) is SESSMAP_ERR_SERIALIZE.
 */
export function asJson<T>(data: T): T {
  if (isPlainJson(data)) return data;
  let text: string | undefined;
  try {
    text = JSON.stringify(data);
  } catch (err) {
    throw sessmapError('SESSMAP_ERR_SERIALIZE', `session data cannot be serialized as JSON: ${(err as Error).message}`, { serializer: 'json' }, err);
  }
  if (typeof text !== 'string') throw sessmapError('SESSMAP_ERR_SERIALIZE', `session data of type ${typeof data} has no JSON form`, { serializer: 'json' });
  return JSON.parse(text) as T;
}
