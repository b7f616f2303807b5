/** Assertions on coded errors. */
import { expect } from 'vitest';
import { SessmapError, type ErrorCode } from '../../src/errors.js';

/** Runs `fn`, returns what it threw (fails the test when it did not throw). */
export function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  expect.fail('expected the call to throw, but it returned normally');
}

/** Asserts that `fn` throws a SessmapError with `code`; returns the error. */
export function expectCode(fn: () => unknown, code: ErrorCode): SessmapError {
  const err = thrownBy(fn);
  if (!(err instanceof SessmapError)) {
    expect.fail(`expected a SessmapError ${code}, got ${String(err)}${err instanceof Error ? `\n${err.stack}` : ''}`);
  }
  expect(err.code, err.message).toBe(code);
  expect(err.message.length).toBeGreaterThan(0);
  return err;
}

/** Asserts that `fn` throws a SessmapError whose code is one of `codes`. */
export function expectOneOfCodes(fn: () => unknown, codes: readonly ErrorCode[]): SessmapError {
  const err = thrownBy(fn);
  if (!(err instanceof SessmapError)) expect.fail(`expected a SessmapError (${codes.join('|')}), got ${String(err)}`);
  expect(codes, err.message).toContain(err.code);
  return err;
}
