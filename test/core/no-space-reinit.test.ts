/**
 * `ifExists: 'reinit'` on a filesystem without room: the blocks a reinit needs (a larger
 * geometry, or the holes of a sparse file made by an older sessmap) are allocated before anything
 * changes, so a reinit without room fails with SESSMAP_ERR_NO_SPACE and leaves the file, and every
 * process using it, as they were. Real 8 MiB tmpfs; reinits run in forked children (without the
 * allocation they die of SIGBUS).
 */
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import { SharedCache } from '../../src/index.js';
import { useChildCleanup } from '../helpers/child.js';
import { KILLED, runSpaceChild } from '../helpers/space-child.js';
import { useTmpDir } from '../helpers/tmp.js';
import { TMPFS_UNAVAILABLE, allocated, fillUp, sparseCopy, useTmpfs } from '../helpers/tmpfs.js';

const MIB = 1024 * 1024;

describe.skipIf(TMPFS_UNAVAILABLE !== undefined)('reinitialising a cache file on a filesystem without room', () => {
  const fsys = useTmpfs('8m');
  const disk = useTmpDir();
  useChildCleanup();

  it('fails a reinit that grows the file past the free space with SESSMAP_ERR_NO_SPACE, leaving the file and its users as they were', async () => {
    const path = fsys.path();
    const c = SharedCache.create<string>(path, { size: '2m' });
    c.set('k', 'kept');
    const bytes = fs.readFileSync(path);
    fillUp(fsys.dir, MIB);
    const { result, exit } = await runSpaceChild({ path, create: { size: '6m', ifExists: 'reinit' } });
    expect(exit, KILLED).toEqual({ code: 0, signal: null });
    expect(result).toMatchObject({ ok: false, step: 'open', error: { code: 'SESSMAP_ERR_NO_SPACE', details: { path } } });
    const d = result!.error!.details!;
    expect(d.size as number).toBeGreaterThan(5 * MIB);
    expect(d.free as number).toBeLessThanOrEqual(MIB);
    expect(result!.error!.message).toContain(path);
    expect(fs.statSync(path).size, 'the file was left grown').toBe(bytes.length);
    expect(fs.readFileSync(path).equals(bytes), 'the file was changed').toBe(true);
    // Not reinitialised: the handle is not stale and its entry is there.
    expect(c.get('k')).toBe('kept');
    c.set('k', 'still works');
    expect(c.get('k')).toBe('still works');
    c.close();
  });

  it('allocates the holes of a sparse file before wiping it, failing with SESSMAP_ERR_NO_SPACE and changing nothing when there is no room', async () => {
    const made = SharedCache.create<string>(disk.path(), { size: '2m' });
    made.set('k', 'old');
    made.close();
    const path = fsys.path();
    sparseCopy(disk.path(), path);
    const size = fs.statSync(path).size;
    expect(allocated(path)).toBeLessThan(size);
    const bytes = fs.readFileSync(path);
    const filler = fillUp(fsys.dir);

    const full = await runSpaceChild({ path, create: { size: '2m', ifExists: 'reinit' } });
    expect(full.exit, KILLED).toEqual({ code: 0, signal: null });
    expect(full.result).toMatchObject({ ok: false, error: { code: 'SESSMAP_ERR_NO_SPACE', details: { path, free: 0 } } });
    expect(fs.readFileSync(path).equals(bytes), 'the file was changed').toBe(true);

    // With room, the reinit allocates every block: a full filesystem afterwards cannot hurt a writer.
    fs.rmSync(filler);
    const roomy = await runSpaceChild({ path, create: { size: '2m', ifExists: 'reinit' } });
    expect(roomy.result).toMatchObject({ ok: true });
    expect(allocated(path)).toBeGreaterThanOrEqual(size);
    fillUp(fsys.dir);
    const writer = await runSpaceChild({ path, write: { count: 2000, valueBytes: 2000 } });
    expect(writer.exit, KILLED).toEqual({ code: 0, signal: null });
    expect(writer.result).toMatchObject({ ok: true, written: 2000 });
  });
});
