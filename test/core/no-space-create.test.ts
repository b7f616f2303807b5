/**
 * A cache file on a filesystem without room for it. Every case runs on a real 8 MiB tmpfs;
 * whatever might die of SIGBUS (the failure these guard against) runs in a forked child.
 */
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import { SharedCache } from '../../src/index.js';
import { useChildCleanup } from '../helpers/child.js';
import { expectCode } from '../helpers/errors.js';
import { KILLED, runSpaceChild } from '../helpers/space-child.js';
import { TMPFS_UNAVAILABLE, allocated, fillUp, useTmpfs } from '../helpers/tmpfs.js';

describe.skipIf(TMPFS_UNAVAILABLE !== undefined)('creating a cache file on a filesystem without room for it', () => {
  const fsys = useTmpfs('8m');
  useChildCleanup();

  it('refuses a cache larger than the free space with SESSMAP_ERR_NO_SPACE naming the path, the size and the space free, and leaves no file', () => {
    const path = fsys.path();
    const free = fsys.free();
    const err = expectCode(() => SharedCache.create(path, { size: '32m' }), 'SESSMAP_ERR_NO_SPACE');
    expect(err.message).toContain(path);
    expect(err.details).toMatchObject({ path, free });
    const size = err.details!.size as number;
    expect(size).toBeGreaterThan(31 * 1024 * 1024); // the file a 32m cache takes
    expect(size).toBeLessThanOrEqual(32 * 1024 * 1024);
    expect(err.message).toContain(String(size));
    expect(err.message).toContain(String(free));
    expect(fs.readdirSync(fsys.dir), 'a half-made file was left behind').toEqual([]);
    expect(fsys.free(), 'blocks of the failed create were not given back').toBe(free);
  });

  it('allocates every block of the file when it creates it', () => {
    const path = fsys.path();
    const c = SharedCache.create(path, { size: '4m' });
    expect(allocated(path)).toBeGreaterThanOrEqual(c.geometry.fileSize);
    c.close();
  });

  it('keeps taking writes from another process after the filesystem was filled up by another file', async () => {
    const path = fsys.path();
    const c = SharedCache.create<string>(path, { size: '4m' });
    c.set('before', 'the filesystem filled up');
    fillUp(fsys.dir);
    expect(fsys.free()).toBe(0);
    // Twice the file's size in entries: every byte of every page is written, most of them more than once.
    const { result, exit } = await runSpaceChild({ path, write: { count: 4000, valueBytes: 2000 } });
    expect(exit, KILLED).toEqual({ code: 0, signal: null });
    expect(result).toMatchObject({ ok: true, written: 4000 });
    expect(c.get(result!.lastKey!)).toBe('v'.repeat(2000));
    c.close();
  });
});
