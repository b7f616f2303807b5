/**
 * Session ids: generated from crypto.randomBytes (192 bits, 32 base64url characters), and
 * checked before any use as a key.
 *
 * The check accepts every id a framework can produce: express-session's `genid` and
 * @fastify/session's `idGenerator` may return any string, and koa-session's documented
 * `prefix: 'sess:'` puts a colon in every id. Frameworks encode the id into the cookie
 * (encodeURIComponent, signing), so an id may hold any character a cookie value can carry once
 * encoded. Refused is only what cannot be an id: not a string, empty, longer than
 * {@link MAX_SESSION_ID_BYTES} UTF-8 bytes, a control character (Unicode category Cc: C0, DEL,
 * C1), or a lone surrogate (not representable in UTF-8: two ids would share one key).
 *
 * Accepting an id is not adopting it: a store only ever finds sessions it stored, so a client
 * that sends an unknown id gets no session, and the framework makes a new one with its own id.
 */
import { randomBytes } from 'node:crypto';
import { sessmapError } from '../errors.js';

/** The longest session id accepted, in UTF-8 bytes. */
export const MAX_SESSION_ID_BYTES = 512;

/** The common case, decided by one scan: printable ASCII, at most MAX_SESSION_ID_BYTES characters. */
const PRINTABLE_ASCII = /^[\x20-\x7e]{1,512}$/;
const CONTROL = /\p{Cc}/u;

export function newSessionId(): string {
  return randomBytes(24).toString('base64url');
}

/** Why `id` is not a session id, or undefined when it is one. */
function problemOf(id: unknown): string | undefined {
  if (typeof id !== 'string') return `got ${id === null ? 'null' : typeof id}, not a string`;
  if (PRINTABLE_ASCII.test(id)) return undefined;
  if (id.length === 0) return 'got an empty string';
  if (CONTROL.test(id)) return 'it holds a control character';
  if (!id.isWellFormed()) return 'it holds a lone surrogate (not representable in UTF-8)';
  const bytes = Buffer.byteLength(id);
  if (bytes > MAX_SESSION_ID_BYTES) return `got ${bytes} bytes`;
  return undefined;
}

export function isValidSessionId(id: unknown): id is string {
  return problemOf(id) === undefined;
}

/** Throws SESSMAP_ERR_INVALID_SESSION_ID (without echoing the id) unless `id` can be a session id. */
export function checkSessionId(id: unknown): string {
  const problem = problemOf(id);
  if (problem !== undefined) {
    throw sessmapError(
      'SESSMAP_ERR_INVALID_SESSION_ID',
      `session id must be a string of 1 to ${MAX_SESSION_ID_BYTES} UTF-8 bytes without control characters; ${problem}`,
      { maxBytes: MAX_SESSION_ID_BYTES },
    );
  }
  return id as string;
}

/** User ids are free-form but bounded (they become part of an index key). */
export function checkUserId(userId: unknown): string {
  if (typeof userId !== 'string' || userId.length === 0 || Buffer.byteLength(userId) > 512) {
    throw sessmapError('SESSMAP_ERR_INVALID_OPTION', 'userId must be a non-empty string of at most 512 bytes', { option: 'userId' });
  }
  return userId;
}
