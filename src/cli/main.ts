#!/usr/bin/env node
/**
 * The `sessmap` command (package.json `bin`, `npx sessmap --help`): looks at and maintains a
 * cache file while the processes that use it go on, reading counters without locks and pages
 * one lock at a time. This file is the entry: the help, which command runs, and how a failure
 * ends (one line `sessmap: SESSMAP_ERR_...: message` on stderr, exit 2). The commands are
 * stats.ts / watch.ts, keys.ts (keys, get), sizes.ts and maintain.ts (verify, purge, clear, resize).
 * See docs/operations.md, "The sessmap command".
 */
import { isSessmapError } from '../errors.js';
import { EXIT_ERROR, EXIT_OK, parse, say, sayJson, usage, withFile, type Io } from './args.js';
import { getCommand, keysCommand } from './keys.js';
import { clearCommand, purgeCommand, resizeCommand, verifyCommand } from './maintain.js';
import { sizesCommand } from './sizes.js';
import { renderStats, statsReport } from './stats.js';
import { watch } from './watch.js';

const HELP = `sessmap: look at and maintain a sessmap cache file while processes use it

Usage: sessmap <command> FILE [options]

Commands:
  stats FILE [--json]          geometry, fill and the fullest pages, hit ratio, sets, removals by
                               reason, live evictions with the TTL they still had, lock waits and
                               recoveries, repairs, attached processes alive and dead
        --watch [--interval MS] [--count N]
                               the same again every MS ms (1000) with rates per second, until
                               Ctrl-C or N readings
  keys FILE [--prefix P] [--limit N] [--show-ids] [--json]
                               keys with value size, TTL left, priority and last use (no values)
  get FILE KEY [--show-ids]    the value stored under KEY (exit 1 when there is none)
  sizes FILE [--limit N] [--show-ids] [--json]
                               entry sizes: histogram, percentiles, the N largest (10), bytes by
                               prefix, and how many entries the file holds at this mix
  verify FILE [--repair] [--json]
                               checks every page, changing nothing: exit 0 sound, 1 a page needs
                               repair (each named), 2 unreadable; --repair rebuilds damaged pages
  purge FILE [--json]          removes the expired entries now
  clear FILE --yes [--json]    removes every entry
  resize FILE --size S [--grace MS] [--json]
                               gives the file another size while processes use it: pages move
                               one at a time; grows it, or shrinks it when the entries fit; the
                               old pages are released MS ms (5000) after the move

Options of every command:
  -q, --quiet                  no progress on stderr
  -h, --help                   this text

Session ids are secrets: keys under s: (sessions) and u: (users' session lists) are printed as
the keyed hash the events and logs use (s:#<sid>, u:#<uid>) unless --show-ids. Every command
works on a file in use, holding at most one page lock at a time, and opens it as its own user
(the file's owner). A failure is one line on stderr, "sessmap: SESSMAP_ERR_...: what went wrong",
and exit code 2.
`;

type Command = (argv: string[], io: Io) => Promise<number>;

async function statsCommand(argv: string[], io: Io): Promise<number> {
  const opts = { json: { type: 'boolean' }, watch: { type: 'boolean' }, interval: { type: 'string' }, count: { type: 'string' } } as const;
  const { positionals, values } = parse('stats', argv, opts, ['file']);
  if (values.watch !== true && (values.interval !== undefined || values.count !== undefined)) throw usage('stats: --interval and --count go with --watch');
  return withFile(positionals[0], async (cache) => {
    if (values.watch === true) return watch(cache, values, io);
    const r = statsReport(cache);
    if (values.json === true) sayJson(io, r);
    else say(io.out, renderStats(r));
    return EXIT_OK;
  });
}

const COMMANDS: Record<string, Command> = {
  stats: statsCommand,
  keys: keysCommand,
  get: getCommand,
  sizes: sizesCommand,
  verify: verifyCommand,
  purge: purgeCommand,
  clear: clearCommand,
  resize: resizeCommand,
};

/** One line for a failure: the code and the message (never a stack, never several lines). */
function failureLine(err: unknown): string {
  const text = (s: string): string => s.replace(/\s*\n\s*/g, ' ');
  if (isSessmapError(err)) return `sessmap: ${err.code}: ${text(err.message)}`;
  return `sessmap: ${err instanceof Error ? `${err.name}: ${text(err.message)}` : text(String(err))}`;
}

/** Runs the command line `argv` (without node and the script); resolves to the exit code. */
async function main(argv: string[], io: Io): Promise<number> {
  const [name, ...rest] = argv;
  try {
    if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
      (name === undefined ? io.err : io.out).write(HELP);
      return name === undefined ? EXIT_ERROR : EXIT_OK;
    }
    const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
    if (command === undefined) throw usage(`unknown command ${JSON.stringify(name)}`);
    if (rest.includes('--help') || rest.includes('-h')) {
      io.out.write(HELP);
      return EXIT_OK;
    }
    return await command(rest, io);
  } catch (err) {
    say(io.err, failureLine(err));
    if (process.env.SESSMAP_DEBUG === '1' && err instanceof Error) say(io.err, err.stack ?? '');
    return EXIT_ERROR;
  }
}

// A reader that goes away (`sessmap keys FILE | head`) ends the command, not with a stack trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(EXIT_OK);
  throw err;
});
process.exitCode = await main(process.argv.slice(2), { out: process.stdout, err: process.stderr });
