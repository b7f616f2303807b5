/**
 * What every command of the `sessmap` command line shares: its arguments parsed (node:util's
 * parseArgs, strict: an unknown option is an error, never ignored), numeric options checked, the
 * file opened as an observer (not listed among the attached processes), and the streams it
 * writes to. A command line that cannot be run is SESSMAP_ERR_USAGE; an option value out of range
 * is SESSMAP_ERR_INVALID_OPTION, as in the library.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { sessmapError } from '../errors.js';
import { SharedCache } from '../core/index.js';

/** Where a command writes: stdout for what it reports, stderr for progress and errors. */
export interface Io {
  readonly out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  readonly err: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
}

/** Exit codes: done; verify found damage (or get found nothing); the command failed. */
export const EXIT_OK = 0;
export const EXIT_FOUND = 1;
export const EXIT_ERROR = 2;

type Options = NonNullable<ParseArgsConfig['options']>;

/** Options every command takes. */
const COMMON: Options = {
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'h' },
};

export interface Parsed {
  /** The positional arguments after the command's name. */
  readonly positionals: string[];
  readonly values: Record<string, string | boolean | undefined>;
}

/**
 * Parses a command's arguments: `options` besides --quiet and --help, and `names` for its
 * positional arguments (each required).
 */
export function parse(command: string, argv: string[], options: Options, names: readonly string[]): Parsed {
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options: { ...COMMON, ...options }, allowPositionals: true, strict: true });
  } catch (err) {
    // parseArgs's first sentence says what is wrong; the rest is advice about '--'.
    throw usage(`${command}: ${(err as Error).message.split(/\.\s|\n/)[0]}`);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (values.help === true) return { positionals: parsed.positionals, values };
  if (parsed.positionals.length < names.length) throw usage(`${command} needs ${names.map((n) => n.toUpperCase()).join(' ')}`);
  if (parsed.positionals.length > names.length) throw usage(`${command} takes ${names.map((n) => n.toUpperCase()).join(' ')}; got also ${JSON.stringify(parsed.positionals[names.length])}`);
  return { positionals: parsed.positionals, values };
}

/** A command line that cannot be run. */
export function usage(message: string): Error {
  return sessmapError('SESSMAP_ERR_USAGE', `${message} (sessmap --help lists the commands)`);
}

/** An integer option between `min` and `max`, or `fallback` when it is not given. */
export function intOption(values: Parsed['values'], name: string, fallback: number, min: number, max: number): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (typeof raw !== 'string' || !/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw sessmapError('SESSMAP_ERR_INVALID_OPTION', `option --${name} must be an integer from ${min} to ${max}; got ${JSON.stringify(raw)}`, { option: name, value: raw });
  }
  return n;
}

/**
 * Opens `file` to look at it: as any process attaches (never creating it, the geometry from its
 * header), but not listed among the attached processes.
 */
export function openFile(file: string): SharedCache {
  return SharedCache.open(file, { listed: false });
}

/** Runs `fn` on the file opened, closing it however `fn` ends. */
export async function withFile<R>(file: string, fn: (cache: SharedCache) => R | Promise<R>): Promise<R> {
  const cache = openFile(file);
  try {
    return await fn(cache);
  } finally {
    cache.close();
  }
}

/** Writes one line (or several) to a stream. */
export function say(stream: Io['out'], text: string): void {
  stream.write(text.endsWith('\n') ? text : `${text}\n`);
}

/** Writes a value as JSON, one document per line. */
export function sayJson(io: Io, value: unknown): void {
  say(io.out, JSON.stringify(value, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v)));
}
