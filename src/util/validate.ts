/**
 * Validators used by every layer. Each names the option and the expected range, and throws
 * SESSMAP_ERR_INVALID_OPTION; `undefined` is never passed here: it means the default, which the
 * caller applies before (or instead of) validating.
 */
import { sessmapError } from '../errors.js';

const SIZE_RE = /^\s*(\d+(?:\.\d+)?)\s*([kmg]?)i?b?\s*$/i;
const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** Throws SESSMAP_ERR_INVALID_OPTION naming `name`, what was `expected`, and what it got. */
export function invalidOption(name: string, expected: string, got: unknown): never {
  let shown: string;
  try {
    shown = typeof got === 'string' ? JSON.stringify(got) : String(got);
  } catch {
    shown = typeof got;
  }
  throw sessmapError('SESSMAP_ERR_INVALID_OPTION', `option "${name}" must be ${expected}; got ${shown}`, { option: name, expected });
}

/** Parses a byte size given as a number or a string with an optional k/m/g suffix (powers of 1024). */
export function parseSize(name: string, value: number | string): number {
  let n: number;
  if (typeof value === 'number') n = value;
  else if (typeof value === 'string') {
    const m = SIZE_RE.exec(value);
    if (!m) invalidOption(name, "a byte count or a string like '64m'", value);
    n = Math.floor(Number(m[1]) * UNITS[m[2].toLowerCase()]);
  } else invalidOption(name, "a byte count or a string like '64m'", value);
  if (!Number.isSafeInteger(n) || n <= 0) invalidOption(name, 'a positive whole number of bytes', value);
  return n;
}

export function validateInt(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    invalidOption(name, `an integer from ${min} to ${max}`, value);
  }
  return value;
}

/** A duration in ms: a finite number >= 0, or Infinity. `0` and `Infinity` mean "no expiry" for TTLs. */
export function validateTtl(name: string, value: unknown): number {
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0) invalidOption(name, 'a number of milliseconds >= 0 (0 or Infinity: no expiry)', value);
  return value;
}

export function validateTimeout(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) invalidOption(name, 'a positive, finite number of milliseconds', value);
  return value;
}

export function validateEnum<T extends string>(name: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    invalidOption(name, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, value);
  }
  return value as T;
}

export function validateFunction<F>(name: string, value: unknown): F {
  if (typeof value !== 'function') invalidOption(name, 'a function', value);
  return value as F;
}

export function validateBoolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') invalidOption(name, 'true or false', value);
  return value;
}
