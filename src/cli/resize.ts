/**
 * `sessmap resize FILE --size S`: gives a file that processes are using another page count, and
 * with it another length, without stopping them (SharedCache.resize; docs/file-format.md, "Online
 * resize"). It grows a file, or shrinks it when the live entries fit; a resize that a killed
 * process left under way is finished first (`--size` may then repeat its size). Progress per page
 * moved on stderr (a bar on a terminal); the result on stdout, or as JSON.
 */
import { usage, EXIT_OK, parse, say, sayJson, withFile, type Io } from './args.js';
import { bytes, count, duration, Progress } from './format.js';
import type { ResizeResult } from '../core/index.js';

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
