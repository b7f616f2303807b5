/**
 * Attaching to a sparse cache file (made by an older sessmap, which sized files with a sparse
 * ftruncate, or copied with holes): its holes are allocated at attach without changing a byte, so
 * that no later write can meet a full filesystem; without room, the attach is refused with
 * SESSMAP_ERR_NO_SPACE and the file is left as it was. Real 8 MiB tmpfs; forked children.
 */
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import { SharedCache } from '../../src/index.js';
import { useChildCleanup } from '../helpers/child.js';
import { KILLED, runSpaceChild } from '../helpers/space-child.js';
import { useTmpDir } from '../helpers/tmp.js';
import { TMPFS_UNAVAILABLE, allocated, fillUp, sparseCopy, useTmpfs } from '../helpers/tmpfs.js';

const ENTRIES = 50;

describe.skipIf(TMPFS_UNAVAILABLE !== undefined)('attaching to a sparse cache file', () => {
  const fsys = useTmpfs('8m');
  const disk = useTmpDir();
  useChildCleanup();

  /** A 2 MiB cache file with entries k0..k49, copied onto the tmpfs with holes. */
  function sparseFile(): { path: string; size: number; bytes: Buffer } {
    const made = SharedCache.create<string>(disk.path(), { size: '2m' });
    for (let i = 0; i < ENTRIES; i++) made.set(`k${i}`, `old ${i}`);
    made.close();
    const path = fsys.path();
    sparseCopy(disk.path(), path);
    const size = fs.statSync(path).size;
    expect(allocated(path), 'the copy has no holes').toBeLessThan(size);
    return { path, size, bytes: fs.readFileSync(path) };
  }

  it('allocates its holes without changing a byte, so writes after the filesystem filled up do not kill the writer', async () => {
    const { path, size, bytes } = sparseFile();
    const attach = await runSpaceChild({ path });
    expect(attach.exit, KILLED).toEqual({ code: 0, signal: null });
    expect(attach.result).toMatchObject({ ok: true });
    expect(allocated(path)).toBeGreaterThanOrEqual(size);
    expect(fs.readFileSync(path).equals(bytes), 'attaching changed the file').toBe(true);
    const c = SharedCache.open<string>(path);
    for (let i = 0; i < ENTRIES; i++) expect(c.get(`k${i}`)).toBe(`old ${i}`);

    fillUp(fsys.dir);
    const writer = await runSpaceChild({ path, write: { count: 2000, valueBytes: 2000 } });
    expect(writer.exit, KILLED).toEqual({ code: 0, signal: null });
    expect(writer.result).toMatchObject({ ok: true, written: 2000 });
    expect(c.get(writer.result!.lastKey!)).toBe('v'.repeat(2000));
    c.close();
  });

  it('refuses the attach with SESSMAP_ERR_NO_SPACE when there is no room for its holes, changing nothing', async () => {
    const { path, bytes } = sparseFile();
    const before = allocated(path);
    fillUp(fsys.dir);
    const { result, exit } = await runSpaceChild({ path, write: { count: 2000, valueBytes: 2000 } });
    expect(exit, KILLED).toEqual({ code: 0, signal: null });
    expect(result).toMatchObject({ ok: false, step: 'open', error: { code: 'SESSMAP_ERR_NO_SPACE', details: { path, free: 0 } } });
    expect(result!.error!.message).toContain('sparse');
    expect(fs.readFileSync(path).equals(bytes), 'the file was changed').toBe(true);
    expect(allocated(path)).toBe(before);
  });
});
