/**
 * Value encoding. Each item records the serializer it was written with (its type byte), so
 * handles configured with different serializers still read each other's entries.
 */
import v8 from 'node:v8';
import { sessmapError } from '../errors.js';
import type { StructuredCodec } from './structures.js';
import type { SerializerName } from './types.js';

/** Node's own UTF-8 decoder behind Buffer#toString, without its argument handling. */
/** Node's own string writers behind Buffer#write, without its argument handling. */
type Writable = { latin1Write(s: string, at: number, len: number): number; utf8Write(s: string, at: number, len: number): number };
type Sliceable = { utf8Slice(start: number, end: number): string; latin1Slice(start: number, end: number): string };

/** Item type bytes: serializer code + 1 (0 never appears in a valid item). */
export const TYPE_JSON = 1;
export const TYPE_V8 = 2;
export const TYPE_RAW = 3;
/**
 * JSON text that is all ASCII (the writer knows: its UTF-8 length equals its length). Read back
 * with a plain byte copy instead of a UTF-8 decode; otherwise the same as TYPE_JSON.
 */
export const TYPE_JSON_ASCII = 4;
/** msgpackr records against the file's structure table (structures.ts). */
export const TYPE_STRUCTURED = 5;
export const TYPE_MAX = 5;

export const TYPE_OF: Record<SerializerName, number> = { json: TYPE_JSON, v8: TYPE_V8, raw: TYPE_RAW, structured: TYPE_STRUCTURED };

/** A serialized value: a string (JSON, written as UTF-8 straight into the mapping) or bytes. */
export type Encoded = string | Uint8Array;

/** `codec`: the handle's, over its file's structure table (for TYPE_STRUCTURED). */
export function encode(type: number, value: unknown, codec: StructuredCodec): Encoded {
  if (type === TYPE_STRUCTURED) {
    try {
      return codec.encode(value);
    } catch (err) {
      if ((err as { code?: string }).code?.startsWith('SESSMAP_ERR_')) throw err;
      throw sessmapError('SESSMAP_ERR_SERIALIZE', `value cannot be serialized with msgpackr: ${(err as Error).message}`, { serializer: 'structured' }, err);
    }
  }
  if (type === TYPE_JSON) {
    let s: string | undefined;
    try {
      s = JSON.stringify(value);
    } catch (err) {
      throw sessmapError('SESSMAP_ERR_SERIALIZE', `value cannot be serialized as JSON: ${(err as Error).message}`, { serializer: 'json' }, err);
    }
    if (typeof s !== 'string') throw sessmapError('SESSMAP_ERR_SERIALIZE', `value of type ${typeof value} has no JSON form`, { serializer: 'json' });
    return s;
  }
  if (type === TYPE_V8) {
    try {
      return v8.serialize(value);
    } catch (err) {
      throw sessmapError('SESSMAP_ERR_SERIALIZE', `value cannot be serialized with v8.serialize: ${(err as Error).message}`, { serializer: 'v8' }, err);
    }
  }
  if (value instanceof Uint8Array) return value;
  throw sessmapError('SESSMAP_ERR_SERIALIZE', `serializer 'raw' stores a Buffer or Uint8Array; got ${value === null ? 'null' : typeof value}`, { serializer: 'raw' });
}

export function encodedLength(e: Encoded): number {
  return typeof e === 'string' ? Buffer.byteLength(e, 'utf8') : e.byteLength;
}

/** The item type of an encoded value: JSON text whose UTF-8 length is its length is all ASCII. */
export function typeOfEncoded(serializerType: number, e: Encoded, len: number): number {
  return serializerType === TYPE_JSON && len === e.length ? TYPE_JSON_ASCII : serializerType;
}

/** Copies an encoded value of item type `type` into `buf` at `at`. */
export function writeEncoded(buf: Buffer, at: number, e: Encoded, len: number, type: number): void {
  if (typeof e !== 'string') buf.set(e, at);
  // All ASCII: a plain one-byte copy, no UTF-8 encoder.
  else if (type === TYPE_JSON_ASCII) (buf as unknown as Writable).latin1Write(e, at, len);
  else (buf as unknown as Writable).utf8Write(e, at, len);
}

/**
 * What a read copies out of the mapping while it holds the lock: the JSON text, or a
 * private copy of the bytes. Decoding happens after the lock is released.
 */
export function copyOut(buf: Buffer, type: number, start: number, end: number): string | Buffer {
  if (type === TYPE_JSON_ASCII) return (buf as unknown as Sliceable).latin1Slice(start, end);
  if (type === TYPE_JSON) return (buf as unknown as Sliceable).utf8Slice(start, end);
  const copy = Buffer.allocUnsafe(end - start);
  // TypedArray#set from a plain view is cheaper than Buffer#copy's argument handling.
  copy.set(new Uint8Array(buf.buffer, buf.byteOffset + start, end - start));
  return copy;
}

export function decode(type: number, raw: string | Buffer, codec: StructuredCodec): unknown {
  if (type === TYPE_JSON_ASCII || type === TYPE_JSON) return JSON.parse(raw as string);
  if (type === TYPE_STRUCTURED) return codec.decode(raw as Buffer);
  if (type === TYPE_V8) return v8.deserialize(raw as Buffer);
  return raw;
}
