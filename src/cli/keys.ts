/**
 * `sessmap keys FILE` and `sessmap get FILE KEY`. `keys` lists entries page by page (each page
 * read under its lock, then printed): key, value size, TTL left, priority, last use; never a
 * value. Session ids are secrets that log in whoever holds them, so keys under `s:` (sessions)
 * and `u:` (a user's session index) are printed as the keyed hash the events and logs use
 * (`s:#<sid>`, `u:#<uid>`: SharedCache.digest of `sid:<id>` / `uid:<user>`) unless `--show-ids`.
 * `get` prints one value, asked for by its key; a user's index lists its sessions hashed too.
 */
import { inspect } from 'node:util';
import type { EntryInfo, SharedCache } from '../core/index.js';
import { EXIT_FOUND, EXIT_OK, intOption, parse, say, sayJson, withFile, type Io } from './args.js';
import { bytes, duration, printable } from './format.js';

/** Prefixes whose keys end in a session id or a user id. */
const SESSION = 's:';
const USER = 'u:';

/** A key as it may be printed: ids hashed unless `showIds`. */
export function shownKey(cache: SharedCache, key: string, showIds: boolean): string {
  if (showIds) return key;
  if (key.startsWith(SESSION)) return `${SESSION}#${cache.digest(`sid:${key.slice(SESSION.length)}`)}`;
  if (key.startsWith(USER)) return `${USER}#${cache.digest(`uid:${key.slice(USER.length)}`)}`;
  return key;
}

/** One entry as `keys --json` gives it. */
export function entryJson(key: string, info: EntryInfo, page: number, now: number): Record<string, unknown> {
  return {
    key,
    page,
    size: info.size,
    ttlMs: info.expiresAt === Infinity ? null : Math.max(0, info.expiresAt - now),
    expiresAt: info.expiresAt === Infinity ? null : info.expiresAt,
    priority: info.priority,
    lastUsed: info.lastUsed,
    createdAt: info.createdAt,
    version: info.version,
  };
}

const HEAD = ['size', 'ttl', 'priority', 'last use'];

function cells(cs: string[]): string {
  return `${cs.map((c, i) => c.padStart(Math.max(HEAD[i].length, 10))).join('  ')}  `;
}

/** `sessmap keys FILE [--prefix P] [--limit N] [--show-ids] [--json]` */
export async function keysCommand(argv: string[], io: Io): Promise<number> {
  const { positionals, values } = parse('keys', argv, { prefix: { type: 'string' }, limit: { type: 'string' }, 'show-ids': { type: 'boolean' }, json: { type: 'boolean' } }, ['file']);
  const prefix = typeof values.prefix === 'string' ? values.prefix : '';
  const limit = intOption(values, 'limit', Infinity, 1, 1_000_000_000);
  const showIds = values['show-ids'] === true;
  const json = values.json === true;
  return withFile(positionals[0], (cache) => {
    if (!json) say(io.out, `${cells(HEAD)}key`);
    let n = 0;
    for (let p = 0; p < cache.geometry.pageCount && n < limit; p++) {
      const now = Date.now();
      for (const [key, info] of cache.inspectPage(p)) {
        if (!key.startsWith(prefix)) continue;
        const shown = shownKey(cache, key, showIds);
        if (json) sayJson(io, entryJson(shown, info, p, now));
        else {
          const ttl = info.expiresAt === Infinity ? 'never' : duration(Math.max(0, info.expiresAt - now));
          say(io.out, `${cells([bytes(info.size), ttl, info.priority, `${duration(Math.max(0, now - info.lastUsed))} ago`])}${printable(shown)}`);
        }
        if (++n >= limit) break;
      }
    }
    return EXIT_OK;
  });
}

/** Whether JSON shows `v` as it is (plain data), rather than as something else (a Map, a Date...). */
function plainData(v: unknown): boolean {
  if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return true;
  if (Array.isArray(v)) return true;
  return typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype;
}

/** A value as text: JSON for plain data, Node's inspection otherwise; safe to print either way. */
export function renderValue(v: unknown): string {
  const text = plainData(v) ? JSON.stringify(v, null, 2) : inspect(v, { depth: null, colors: false, maxArrayLength: null, maxStringLength: null });
  return text.split('\n').map(printable).join('\n');
}

/** `sessmap get FILE KEY [--show-ids]`: exit 1, with nothing on stdout, when no live entry is there. */
export async function getCommand(argv: string[], io: Io): Promise<number> {
  const { positionals, values } = parse('get', argv, { 'show-ids': { type: 'boolean' } }, ['file', 'key']);
  const [file, key] = positionals;
  return withFile(file, (cache) => {
    let value = cache.get(key);
    if (value === undefined) {
      say(io.err, 'sessmap: no live entry under that key');
      return EXIT_FOUND;
    }
    // A user's index is a list of session ids: hashed like keys, unless asked for.
    if (key.startsWith(USER) && values['show-ids'] !== true && Array.isArray(value) && value.every((x) => typeof x === 'string')) {
      value = value.map((id: string) => shownKey(cache, `${SESSION}${id}`, false));
    }
    if (value instanceof Uint8Array) {
      // Bytes go out as they are to a pipe or a file; a terminal gets them in base64.
      if (io.out.isTTY === true) say(io.out, `base64:${Buffer.from(value).toString('base64')}`);
      else io.out.write(value);
    } else say(io.out, renderValue(value));
    return EXIT_OK;
  });
}
