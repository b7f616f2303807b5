/**
 * The Redis key scheme; it stays in this folder. Everything lives under the prefix P.
 *
 * keys: 'hashed' (the default). A session id is never stored: its token is
 * HMAC-SHA256(secret, 'sid:' + id) in hex, 32 characters (128 bits), and the event `sid` is its
 * first 16 (the mmap backend's digest of the same text, so `hashId` is the same function on both).
 *   P + 's:{' + b + '}:' + token     the session, a hash (d = data JSON, c, a, i, v, u)
 *   P + 'sessmap:d:{' + b + '}'      its bucket's deadline index: token -> idle/absolute deadline
 * where b is the token's first two hex digits: 256 buckets, each one hash tag, so a session and
 * its deadline entry share a slot on Redis Cluster and every step on them is one script.
 * Listings hand out `~` + token, a handle that the backend takes wherever it takes an id.
 *
 * keys: 'plain'. connect-redis's layout: the session is P + id (a hash written by sessmap, or the
 * JSON string connect-redis wrote, read as a session until its first write); no deadline index.
 *
 * Both: P + 'sessmap:u:{' + HMAC('uid:' + user) + '}' the user's index (a sorted set of tokens,
 * or of ids when plain, scored by their absolute deadline), P + 'sessmap:secret' the digest
 * secret, P + 'sessmap:events' the event channel. In plain mode a session id that starts with
 * 'sessmap:' would meet these keys: it is refused.
 */
import { createHmac } from 'node:crypto';
import { sessmapError } from '../../errors.js';

export const BUCKETS = 256;

/*
 * Handles: what listings (`allSessions`, `sessionsOf`) give for a session on Redis with hashed
 * keys, where the session id itself is not stored anywhere. A handle is `~` followed by the 32
 * hex digits of the session's token; `destroySession` takes it. It is no way into a session: the
 * service finds nothing by handle in a read, write or touch.
 */
const HANDLE = /^~[0-9a-f]{32}$/;

/** Whether `s` is a handle (not a session id). */
export function isHandle(s: string): boolean {
  return s.length === 33 && HANDLE.test(s);
}

/** The handle of a session token. */
export function handleOf(token: string): string {
  return `~${token}`;
}

const MEMO_MAX = 10_000;

export class KeyScheme {
  readonly prefix: string;
  readonly plain: boolean;
  readonly secretKey: string;
  readonly channel: string;
  readonly #secret: Buffer;
  readonly #tokens = new Map<string, string>();

  constructor(prefix: string, plain: boolean, secret: string) {
    this.prefix = prefix;
    this.plain = plain;
    this.#secret = Buffer.from(secret, 'utf8');
    this.secretKey = KeyScheme.secretKeyOf(prefix);
    this.channel = `${prefix}sessmap:events`;
  }

  sameSecret(secret: string): boolean {
    return this.#secret.equals(Buffer.from(secret, 'utf8'));
  }

  /** The secret, to put back into a server that lost it. */
  get secret(): string {
    return this.#secret.toString('utf8');
  }

  static secretKeyOf(prefix: string): string {
    return `${prefix}sessmap:secret`;
  }

  hmac(text: string): string {
    return createHmac('sha256', this.#secret).update(text).digest('hex');
  }

  digest(text: string): string {
    return this.hmac(text).slice(0, 16);
  }

  /** What the session is called in Redis: its token (hashed) or its id (plain); a handle resolves to its token. */
  token(id: string): string {
    if (this.plain) {
      if (id.startsWith('sessmap:')) {
        throw sessmapError('SESSMAP_ERR_INVALID_SESSION_ID', "with redis.keys 'plain', a session id may not start with 'sessmap:' (sessmap's own keys live there)");
      }
      return id;
    }
    if (isHandle(id)) return id.slice(1);
    const known = this.#tokens.get(id);
    if (known !== undefined) return known;
    const t = this.hmac(`sid:${id}`).slice(0, 32);
    if (this.#tokens.size >= MEMO_MAX) this.#tokens.delete(this.#tokens.keys().next().value as string);
    this.#tokens.set(id, t);
    return t;
  }

  /** The event sid of a session id or handle. */
  sid(id: string): string {
    return this.plain ? this.digest(`sid:${id}`) : this.token(id).slice(0, 16);
  }

  /** What listings and the removal feed call the session with this token. */
  handleOf(token: string): string {
    return this.plain ? token : handleOf(token);
  }

  /** The handle of a session id (listings give it; the backend takes it). */
  handle(id: string): string {
    return this.handleOf(this.token(id));
  }

  bucketOf(token: string): string {
    return token.slice(0, 2);
  }

  sessionKey(token: string): string {
    return this.plain ? `${this.prefix}${token}` : `${this.prefix}s:{${this.bucketOf(token)}}:${token}`;
  }

  /** What every session key starts with (the near-cache's tracking prefix). */
  sessionPrefix(): string {
    return this.plain ? this.prefix : `${this.prefix}s:`;
  }

  /** The prefix of a bucket's session keys (the sweep script appends the token). */
  bucketSessionPrefix(bucket: string): string {
    return `${this.prefix}s:{${bucket}}:`;
  }

  deadlineKey(bucket: string): string {
    return `${this.prefix}sessmap:d:{${bucket}}`;
  }

  /** Every bucket's deadline index (hashed only). */
  deadlineKeys(): string[] {
    const out: string[] = [];
    for (let i = 0; i < BUCKETS; i++) out.push(this.deadlineKey(i.toString(16).padStart(2, '0')));
    return out;
  }

  userKey(userId: string): string {
    return `${this.prefix}sessmap:u:{${this.hmac(`uid:${userId}`).slice(0, 32)}}`;
  }

  /** The token of a session key (a keyspace notification's), or undefined when it is not a session of this scheme. */
  tokenOfKey(key: string): string | undefined {
    if (!key.startsWith(this.prefix)) return undefined;
    const rest = key.slice(this.prefix.length);
    if (this.plain) return rest.startsWith('sessmap:') ? undefined : rest;
    const m = /^s:\{[0-9a-f]{2}\}:([0-9a-f]{32})$/.exec(rest);
    return m?.[1];
  }

  /** A SCAN MATCH pattern for every key under the prefix (glob characters in it escaped). */
  scanPattern(): string {
    return `${this.prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
  }
}
