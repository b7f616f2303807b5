import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SharedCache } from '../../src/index.js';
import { internals } from '../../src/core/cache/internals.js';
import { REPO_ROOT, fixture } from '../helpers/paths.js';
import { useTmpDir } from '../helpers/tmp.js';

const tmp = useTmpDir();

function readAllInChild(path: string, n: number, segmentBytes?: number): { found: number; wrong: number; pageCount: number } {
  const args = ['--import', 'tsx', fixture('core/read-all.ts'), path, String(n)];
  if (segmentBytes !== undefined) args.push(String(segmentBytes));
  return JSON.parse(execFileSync(process.execPath, args, { cwd: REPO_ROOT, encoding: 'utf8' }));
}

describe('files larger than one mapping', () => {
  it('spreads pages over several mappings and every process sees every page', () => {
    const path = tmp.path();
    // 4 pages per mapping, 24 pages: six mappings on a small file.
    const segmentBytes = 4 * 16384;
    const c = SharedCache.create<{ i: number }>(path, { pageSize: '16k', pageCount: 24, _segmentBytes: segmentBytes } as object);
    const n = 600;
    for (let i = 0; i < n; i++) c.set(`k${i}`, { i });
    const used = new Set(Array.from({ length: n }, (_, i) => internals(c).pageOf(`k${i}`)));
    expect(Math.max(...used), 'keys land in the last mapping too').toBeGreaterThanOrEqual(20);
    const stored = c.stats().entries;
    // A process that maps the file in one piece reads the same bytes.
    expect(readAllInChild(path, n)).toEqual({ found: stored, wrong: 0, pageCount: 24 });
    // And one that maps it in pieces writes where this one reads.
    expect(readAllInChild(path, n, segmentBytes)).toEqual({ found: stored, wrong: 0, pageCount: 24 });
    expect(c.get('written-by-child')).toEqual({ i: -1 });
    for (let p = 0; p < 24; p++) expect(internals(c).checkPage(p)).toEqual([]);
  });

  // Every block is allocated at create: the test needs 3 GiB free where the temp dir is.
  const free = (): number => {
    const st = fs.statfsSync(tmp.dir);
    return st.bavail * st.bsize;
  };
  it('creates and uses a 3 GiB file, beyond what one mapping of the binding can hold', (ctx) => {
    const path = tmp.path();
    if (free() < 3.5 * 2 ** 30) {
      console.warn(`skipped: ${(free() / 2 ** 30).toFixed(1)} GiB free in ${tmp.dir}, the 3 GiB file needs 3.5`);
      ctx.skip();
    }
    const c = SharedCache.create<{ i: number }>(path, { pageCount: 3072, pageSize: '1m' });
    expect(c.geometry.fileSize).toBe(20480 + 3072 * 1024 * 1024);
    expect(fs.statSync(path).size).toBe(c.geometry.fileSize);
    const n = 4000;
    for (let i = 0; i < n; i++) c.set(`k${i}`, { i });
    const pages = Array.from({ length: n }, (_, i) => internals(c).pageOf(`k${i}`));
    // Pages past 2 GiB into the file live in the second mapping.
    expect(pages.some((p) => 20480 + p * 1024 * 1024 > 2 ** 31)).toBe(true);
    expect(readAllInChild(path, n)).toEqual({ found: n, wrong: 0, pageCount: 3072 });
    expect(c.get('written-by-child')).toEqual({ i: -1 });
  });

  it('refuses a size the binding cannot map, naming the limit', () => {
    expect(() => SharedCache.create(tmp.path(), { size: '5g' })).toThrow(expect.objectContaining({ code: 'SESSMAP_ERR_INVALID_OPTION' }));
    expect(fs.existsSync(tmp.path())).toBe(false);
  });
});
