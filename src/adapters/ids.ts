/**
 * Session ids: generated from crypto.randomBytes (192 bits, 32 base64url characters) and
 * validated before any use as a key. The accepted shape covers what the frameworks generate
 * (express-session and @fastify/session: uid-safe base64url; koa-session: UUIDs).
 */
import { randomBytes } from 'node:crypto';
import { sessmapError } from '../errors.js';

const ID_RE = /^[A-Za-z0-9_-]{16,128}$/;

export function newSessionId(): string {
  return randomBytes(24).toString('base64url');
}

export function isValidSessionId(id: unknown): id is string {
  return typeof id === 'string' && ID_RE.test(id);
}

/** Throws SESSMAP_ERR_INVALID_SESSION_ID (without echoing the id) unless `id` has a session id's shape. */
export function checkSessionId(id: unknown): string {
  if (!isValidSessionId(id)) {
    const what = typeof id === 'string' ? `a string of ${id.length} characters` : typeof id;
    throw sessmapError('SESSMAP_ERR_INVALID_SESSION_ID', `session id must be 16 to 128 characters of A-Z, a-z, 0-9, - and _; got ${what}`);
  }
  return id;
}

/** User ids are free-form but bounded (they become part of an index key). */
export function checkUserId(userId: unknown): string {
  if (typeof userId !== 'string' || userId.length === 0 || Buffer.byteLength(userId) > 512) {
    throw sessmapError('SESSMAP_ERR_INVALID_OPTION', 'userId must be a non-empty string of at most 512 bytes', { option: 'userId' });
  }
  return userId;
}
