/**
 * The commands that check or change the file, one page lock at a time while its processes go on:
 *
 * - `verify FILE`: every page checked as a process checks it on first touch (its items' headers,
 *   lengths, checksums and keyed hashes, the slot table, the counts, the bounds), under its lock,
 *   repairing nothing. Exit 0 when every page is sound, 1 when a page needs repair (each named with
 *   what is wrong), 2 when the file cannot be read (its header: the coded error). `--repair`
 *   rebuilds the damaged pages (what they lose is reported, as on first touch), takes over the
 *   locks of dead holders and reclaims dead listings; it exits 0 when every page is sound after.
 * - `purge FILE`: removes the expired entries now, waiting for each page's lock in turn.
 * - `clear FILE --yes`: removes every entry; without `--yes`, SESSMAP_ERR_CONFIRMATION_REQUIRED.
 * - `resize FILE --size S`: gives the file another page count, and with it another length, without
 *   stopping its processes (SharedCache.resize; docs/file-format.md, "Online resize"): grows it, or
 *   shrinks it when the live entries fit; a resize a killed process left under way is finished
 *   first. Progress per page moved on stderr; the result on stdout, or as JSON.
 */
import { sessmapError } from '../errors.js';
import type { ResizeResult, SharedCache } from '../core/index.js';
import { EXIT_FOUND, EXIT_OK, parse, say, sayJson, usage, withFile, type Io, type Parsed } from './args.js';
import { Progress, bytes, count, duration } from './format.js';

export interface VerifyReport {
  file: string;
  pages: number;
  /** Pages that failed the check, with what is wrong. */
  damaged: Array<{ page: number; problems: string[] }>;
  /** With --repair: what each rebuild found and dropped. */
  repaired: Array<{ page: number; problems: readonly string[]; dropped: number }>;
  /** With --repair: locks of dead holders taken over. */
  locksRecovered: number;
  /** Pages that fail the check at the end (with --repair, after it). */
  remaining: Array<{ page: number; problems: string[] }>;
  /** Listings of processes that are gone (an open, or --repair, reclaims them). */
  deadListings: number;
}

function checkAll(cache: SharedCache, progress: Progress): Array<{ page: number; problems: string[] }> {
  const out: Array<{ page: number; problems: string[] }> = [];
  for (let p = 0; p < cache.geometry.pageCount; p++) {
    const problems = cache.verifyPage(p);
    if (problems.length > 0) out.push({ page: p, problems });
    progress.update(p + 1);
  }
  progress.end();
  return out;
}

/** Checks every page, and with `repair` rebuilds the damaged ones and checks them again. */
export function verifyFile(cache: SharedCache, repair: boolean, io: Io, quiet: boolean): VerifyReport {
  const pages = cache.geometry.pageCount;
  const damaged = checkAll(cache, new Progress(io, 'verify', pages, 'pages', quiet));
  const repaired: VerifyReport['repaired'] = [];
  let locksRecovered = 0;
  let remaining = damaged;
  if (repair) {
    locksRecovered = cache.recoverDeadOwners();
    const progress = new Progress(io, 'repair', damaged.length, 'pages', quiet);
    damaged.forEach((d, i) => {
      const r = cache.repairPage(d.page);
      if (r.problems.length > 0) repaired.push(r);
      progress.update(i + 1);
    });
    progress.end();
    remaining = damaged.map((d) => ({ page: d.page, problems: cache.verifyPage(d.page) })).filter((d) => d.problems.length > 0);
  }
  const deadListings = cache.stats().processes.list.filter((l) => !l.alive).length;
  return { file: cache.path, pages, damaged, repaired, locksRecovered, remaining, deadListings };
}

export function renderVerify(r: VerifyReport, repair: boolean): string {
  const out = [`sessmap verify ${r.file}: ${count(r.pages)} pages`];
  for (const d of r.damaged) out.push(`  page ${d.page}: ${d.problems.join('; ')}`);
  for (const x of r.repaired) out.push(`  page ${x.page} rebuilt: ${count(x.dropped)} entr${x.dropped === 1 ? 'y' : 'ies'} dropped`);
  if (r.locksRecovered > 0) out.push(`  ${count(r.locksRecovered)} lock${r.locksRecovered === 1 ? '' : 's'} of dead processes taken over`);
  if (r.deadListings > 0) out.push(`  ${count(r.deadListings)} listing${r.deadListings === 1 ? '' : 's'} of processes that are gone (the next open reclaims them)`);
  if (r.remaining.length === 0) out.push(r.damaged.length === 0 ? '  every page is sound' : `  ${count(r.damaged.length)} damaged page${r.damaged.length === 1 ? '' : 's'} repaired; every page is sound now`);
  else out.push(`  ${count(r.remaining.length)} of ${count(r.pages)} pages need repair${repair ? ' (still, after --repair)' : ' (sessmap verify --repair rebuilds them)'}`);
  return out.join('\n');
}

/** `sessmap verify FILE [--repair] [--json]` */
export async function verifyCommand(argv: string[], io: Io): Promise<number> {
  const { positionals, values } = parse('verify', argv, { repair: { type: 'boolean' }, json: { type: 'boolean' } }, ['file']);
  const repair = values.repair === true;
  return withFile(positionals[0], (cache) => {
    const r = verifyFile(cache, repair, io, values.quiet === true);
    if (values.json === true) sayJson(io, r);
    else say(io.out, renderVerify(r, repair));
    return r.remaining.length === 0 ? EXIT_OK : EXIT_FOUND;
  });
}

/** `sessmap purge FILE`: the expired entries of every page removed, page by page. */
export async function purgeCommand(argv: string[], io: Io): Promise<number> {
  const { positionals, values } = parse('purge', argv, { json: { type: 'boolean' } }, ['file']);
  return withFile(positionals[0], (cache) => {
    const pages = cache.geometry.pageCount;
    const progress = new Progress(io, 'purge', pages, 'pages', values.quiet === true);
    let removed = 0;
    for (let p = 0; p < pages; p++) {
      removed += cache.purgeExpiredPages(p, 1, { wait: true });
      progress.update(p + 1);
    }
    progress.end();
    report(io, values, { removed, entries: cache.stats().entries }, `removed ${count(removed)} expired entr${removed === 1 ? 'y' : 'ies'}`);
    return EXIT_OK;
  });
}

/** `sessmap clear FILE --yes`: every entry removed (reason 'cleared'), page by page. */
export async function clearCommand(argv: string[], io: Io): Promise<number> {
  const { positionals, values } = parse('clear', argv, { yes: { type: 'boolean' }, json: { type: 'boolean' } }, ['file']);
  if (values.yes !== true) {
    throw sessmapError('SESSMAP_ERR_CONFIRMATION_REQUIRED', `clear removes every entry of ${positionals[0]} (every session: every user logged out); run it again with --yes to do so`, { command: 'clear' });
  }
  return withFile(positionals[0], (cache) => {
    const before = cache.stats().removals.cleared;
    cache.clear();
    const removed = cache.stats().removals.cleared - before;
    report(io, values, { removed, entries: cache.stats().entries }, `removed ${count(removed)} entr${removed === 1 ? 'y' : 'ies'}`);
    return EXIT_OK;
  });
}

function report(io: Io, values: Parsed['values'], json: Record<string, number>, text: string): void {
  if (values.json === true) sayJson(io, json);
  else say(io.out, text);
}

export function renderResize(file: string, r: ResizeResult): string {
  const out = [`sessmap resize ${file}:`];
  if (r.resumed) out.push('  finished the resize a killed process had left under way');
  if (r.from.pageCount === r.to.pageCount && r.pagesMoved === 0) out.push(`  already ${count(r.to.pageCount)} pages (${bytes(r.to.fileSize)}): nothing to move`);
  else out.push(`  ${count(r.from.pageCount)} pages -> ${count(r.to.pageCount)} pages; ${count(r.entriesMoved)} entries moved with ${count(r.pagesMoved)} pages in ${duration(r.ms)}`);
  out.push(`  file length ${bytes(r.to.fileSize)}${r.releasedBytes > 0 ? `; ${bytes(r.releasedBytes)} of the old layout's pages released` : ''}`);
  return out.join('\n');
}

/** `sessmap resize FILE --size S [--grace MS] [--json]` */
export async function resizeCommand(argv: string[], io: Io): Promise<number> {
  const opts = { size: { type: 'string' }, grace: { type: 'string' }, json: { type: 'boolean' } } as const;
  const { positionals, values } = parse('resize', argv, opts, ['file']);
  if (typeof values.size !== 'string') throw usage('resize: --size S is required (the most bytes the pages may take, e.g. 256m)');
  const grace = typeof values.grace === 'string' ? Number(values.grace) : undefined;
  if (grace !== undefined && !Number.isSafeInteger(grace)) throw usage('resize: --grace takes whole milliseconds');
  const size: string | number = /^\d+$/.test(values.size) ? Number(values.size) : values.size;
  return withFile(positionals[0], async (cache) => {
    let bar: Progress | undefined;
    let phase = '';
    const r = await cache.resize({
      size,
      graceMs: grace,
      onProgress: (p) => {
        if (p.phase !== phase) {
          bar?.end();
          phase = p.phase;
          bar = new Progress(io, p.phase === 'moving' ? 'resize: moving' : 'resize: releasing', p.total, 'pages', values.quiet === true);
        }
        bar?.update(p.done);
      },
    });
    bar?.end();
    if (values.json === true) sayJson(io, { file: cache.path, ...r });
    else say(io.out, renderResize(cache.path, r));
    return EXIT_OK;
  });
}
