import { describe, expect, it } from 'vitest';
import { chmodSync, existsSync, lstatSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { SharedCache } from '../../src/index.js';
import type { CreateOptions } from '../../src/core/types.js';
import { openChild, useChildCleanup } from '../helpers/child.js';
import { expectCode, expectOneOfCodes } from '../helpers/errors.js';
import { useTmpDir } from '../helpers/tmp.js';

const GEO = { pageCount: 3, pageSize: 16384 } as const;

describe('creating and attaching to a cache file', () => {
  const tmp = useTmpDir();
  useChildCleanup();

  it('creates the file with mode 0600 whatever the umask', () => {
    const old = process.umask(0);
    try {
      const c = SharedCache.create(tmp.path(), GEO);
      c.close();
    } finally {
      process.umask(old);
    }
    const st = statSync(tmp.path());
    expect(st.mode & 0o7777).toBe(0o600);
    expect(st.isFile()).toBe(true);
    expect(st.uid).toBe(process.getuid!());
    expect(st.size).toBe(20480 + 3 * 16384);
  });

  it("refuses to create over an existing file with SESSMAP_ERR_FILE_EXISTS (ifExists 'error'), leaving it untouched", () => {
    const path = tmp.path();
    const c = SharedCache.create(path, GEO);
    c.set('k', 'v');
    const bytes = readFileSync(path);
    expectCode(() => SharedCache.create(path, GEO), 'SESSMAP_ERR_FILE_EXISTS');
    expectCode(() => SharedCache.create(path, { ...GEO, ifExists: 'error' }), 'SESSMAP_ERR_FILE_EXISTS');
    expect(readFileSync(path).equals(bytes)).toBe(true);
    expect(c.get('k')).toBe('v');
    c.close();

    const other = tmp.path('notes.txt');
    writeFileSync(other, 'not a cache', { mode: 0o600 });
    expectCode(() => SharedCache.create(other, GEO), 'SESSMAP_ERR_FILE_EXISTS');
    expect(readFileSync(other, 'utf8')).toBe('not a cache');
  });

  it('never follows a symbolic link at the path it creates', () => {
    const target = tmp.path('target.smap');
    const link = tmp.path('link.smap');
    symlinkSync(target, link);
    expectOneOfCodes(() => SharedCache.create(link, GEO), ['SESSMAP_ERR_FILE_EXISTS', 'SESSMAP_ERR_FILE_SYMLINK']);
    expect(existsSync(target), 'the link was followed').toBe(false);

    const real = SharedCache.create(target, GEO);
    real.set('k', 'v');
    const bytes = readFileSync(target);
    expectCode(() => SharedCache.create(link, { ...GEO, ifExists: 'attach' }), 'SESSMAP_ERR_FILE_SYMLINK');
    expectCode(() => SharedCache.create(link, { ...GEO, ifExists: 'reinit' }), 'SESSMAP_ERR_FILE_SYMLINK');
    expect(readFileSync(target).equals(bytes)).toBe(true);
    expect(real.get('k')).toBe('v');
    real.close();
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
  });

  it("attaches to an existing file with ifExists 'attach', taking the geometry from its header", () => {
    const path = tmp.path();
    const a = SharedCache.create(path, { ...GEO, maxKeyBytes: 200, slotsPerPage: 32 });
    a.set('k', 'v');
    const b = SharedCache.create(path, { ifExists: 'attach' });
    const c = SharedCache.create(path, { ...GEO, maxKeyBytes: 200, slotsPerPage: 32, ifExists: 'attach' });
    expect(b.geometry).toEqual(a.geometry);
    expect(b.geometry).toMatchObject({ ...GEO, maxKeyBytes: 200, slotsPerPage: 32 });
    expect(b.get('k')).toBe('v');
    expect(c.get('k')).toBe('v');
    b.set('k2', 'v2');
    expect(a.get('k2')).toBe('v2');
    for (const h of [a, b, c]) h.close();
    // attach to a missing file creates it
    const fresh = SharedCache.create(tmp.path('fresh.smap'), { ...GEO, ifExists: 'attach' });
    expect(fresh.geometry).toMatchObject(GEO);
    fresh.close();
  });

  it.each([
    ['pageSize', { pageSize: 32768 }],
    ['pageCount', { pageCount: 5 }],
    ['slotsPerPage', { slotsPerPage: 64 }],
    ['maxKeyBytes', { maxKeyBytes: 100 }],
    ['evictionPolicy', { evictionPolicy: 'none' }],
  ] as Array<[string, CreateOptions]>)('refuses an attach whose %s contradicts the header with SESSMAP_ERR_GEOMETRY_MISMATCH, leaving the file untouched', (name, opts) => {
    const path = tmp.path();
    const a = SharedCache.create(path, GEO);
    a.set('k', 'v');
    const bytes = readFileSync(path);
    const st = statSync(path);
    const err = expectCode(() => SharedCache.create(path, { ...GEO, ...opts, ifExists: 'attach' }), 'SESSMAP_ERR_GEOMETRY_MISMATCH');
    expect(`${err.message} ${JSON.stringify(err.details ?? {})}`).toContain(name);
    expect(readFileSync(path).equals(bytes), 'the file was modified').toBe(true);
    expect(statSync(path).ino).toBe(st.ino);
    expect(a.get('k')).toBe('v');
    a.set('k', 'still works');
    expect(a.get('k')).toBe('still works');
    a.close();
  });

  it('says in a geometry mismatch what differs and what to do: open without the options, or delete or reinit the file when unused', () => {
    const path = tmp.path();
    SharedCache.create(path, GEO).close();
    const err = expectCode(() => SharedCache.create(path, { pageCount: 5, pageSize: 16384, ifExists: 'attach' }), 'SESSMAP_ERR_GEOMETRY_MISMATCH');
    expect(err.message).toContain(path);
    expect(err.message).toContain('pageCount is 3 in the file, 5 in the options');
    expect(err.message).toMatch(/open it without these options/);
    expect(err.message).toMatch(/geometry comes from the file/);
    expect(err.message).toMatch(/when no process uses it, delete/);
    expect(err.message).toContain("ifExists: 'reinit'");
    expect(err.details).toEqual({ path, differences: ['pageCount is 3 in the file, 5 in the options'] });
    // What the message offers works: the file's own geometry without the options.
    const opened = SharedCache.create(path, { ifExists: 'attach' });
    expect(opened.geometry).toMatchObject(GEO);
    opened.close();
  });

  it("reinitialises in place with ifExists 'reinit' and makes every other handle stale", async () => {
    const path = tmp.path();
    const a = SharedCache.create(path, GEO);
    a.set('k', 'v');
    const b = SharedCache.open(path);
    const child = await openChild(path);
    const ino = statSync(path).ino;

    const r = SharedCache.create(path, { pageCount: 2, pageSize: 32768, ifExists: 'reinit' });
    expect(r.geometry).toMatchObject({ pageCount: 2, pageSize: 32768 });
    expect(r.get('k')).toBeUndefined();
    expect(r.stats().entries).toBe(0);
    const st = statSync(path);
    expect(st.ino, 'reinit replaced the file instead of wiping it in place').toBe(ino);
    expect(st.mode & 0o777).toBe(0o600);
    expect(st.size).toBe(20480 + 2 * 32768);

    for (const h of [a, b]) {
      expectCode(() => h.get('k'), 'SESSMAP_ERR_STALE_HANDLE');
      expectCode(() => h.set('k', 'stale'), 'SESSMAP_ERR_STALE_HANDLE');
      expectCode(() => h.update('k', () => 1), 'SESSMAP_ERR_STALE_HANDLE');
      expectCode(() => h.delete('k'), 'SESSMAP_ERR_STALE_HANDLE');
      expectCode(() => h.stats(), 'SESSMAP_ERR_STALE_HANDLE');
    }
    const fromChild = await child.call('get', 'k');
    expect(fromChild.ok ? 'no error' : fromChild.error.code).toBe('SESSMAP_ERR_STALE_HANDLE');
    const setFromChild = await child.call('set', 'k', 'stale');
    expect(setFromChild.ok ? 'no error' : setFromChild.error.code).toBe('SESSMAP_ERR_STALE_HANDLE');

    r.set('new', 1);
    const again = SharedCache.open(path);
    expect(again.get('new')).toBe(1);
    expect(again.get('k')).toBeUndefined();
    for (const h of [a, b]) h.close();
    again.close();
    r.close();
    await child.close();
  });

  it('keeps entries in the file after every handle is closed', () => {
    const path = tmp.path();
    const a = SharedCache.create(path, GEO);
    a.set('k', { persisted: true });
    a.close();
    const b = SharedCache.open(path);
    expect(b.get('k')).toEqual({ persisted: true });
    b.close();
  });

  it('refuses to create a file in a directory writable by others without the sticky bit', () => {
    chmodSync(tmp.dir, 0o777);
    try {
      expectCode(() => SharedCache.create(tmp.path('new.smap'), GEO), 'SESSMAP_ERR_FILE_PERMISSIONS');
      expect(existsSync(tmp.path('new.smap'))).toBe(false);
      chmodSync(tmp.dir, 0o770);
      expectCode(() => SharedCache.create(tmp.path('new.smap'), GEO), 'SESSMAP_ERR_FILE_PERMISSIONS');
      // A sticky world-writable directory such as /tmp or /dev/shm is fine.
      chmodSync(tmp.dir, 0o1777);
      SharedCache.create(tmp.path('new.smap'), GEO).close();
      SharedCache.open(tmp.path('new.smap')).close();
    } finally {
      chmodSync(tmp.dir, 0o700);
    }
  });
});
