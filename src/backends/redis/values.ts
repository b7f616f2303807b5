/**
 * What crosses to and from Redis as values: session data as JSON (encode, decode), reply fields
 * as numbers and strings, and the scripts' own error replies as the coded errors the service
 * throws on every backend.
 */
import { sessmapError } from '../../errors.js';

/** A reply field as a number, or undefined. */
export function num(x: unknown): number | undefined {
  if (x === null || x === undefined || x === false) return undefined;
  const n = Number(x);
  return Number.isFinite(n) ? n : undefined;
}

export function str(x: unknown): string | undefined {
  return typeof x === 'string' ? x : x instanceof Buffer ? x.toString() : undefined;
}

export function decode(json: unknown): unknown {
  const text = str(json);
  if (text === undefined) throw sessmapError('SESSMAP_ERR_SERIALIZE', 'a session stored in Redis has no data field');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw sessmapError('SESSMAP_ERR_SERIALIZE', `a session stored in Redis is not valid JSON: ${(err as Error).message}`);
  }
}

export function encode(data: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(data);
  } catch (err) {
    throw sessmapError('SESSMAP_ERR_SERIALIZE', `session data cannot be serialized as JSON: ${(err as Error).message}`);
  }
  if (text === undefined) throw sessmapError('SESSMAP_ERR_SERIALIZE', 'session data cannot be serialized as JSON (undefined or a function)');
  return text;
}

/** Maps a script's own error replies to the coded errors the service throws on every backend. */
export function scriptError(err: unknown): unknown {
  const raw = (err as { replyError?: boolean; message?: string }).replyError === true ? (err as Error).message : undefined;
  if (raw === undefined) return err;
  const m = raw.replace(/^ERR /, '');
  if (m.startsWith('SESSMAP_NEW_TAKEN')) return sessmapError('SESSMAP_ERR_VERSION_CONFLICT', 'a freshly generated session id is already in use');
  if (m.startsWith('SESSMAP_GONE')) return sessmapError('SESSMAP_ERR_SESSION_GONE', 'the session was destroyed, expired or evicted since it was read; nothing was written');
  if (m.startsWith('SESSMAP_VERSION')) {
    const actual = m.split(' ')[1];
    return sessmapError('SESSMAP_ERR_VERSION_CONFLICT', `session is at version ${actual}`, { actual: actual === 'none' ? undefined : Number(actual) });
  }
  return err;
}
