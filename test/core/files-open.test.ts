import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, openSync, readFileSync, closeSync, symlinkSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { SharedCache } from '../../src/index.js';
import { H_STATE_OFF, STATE_INITIALISING } from '../../src/core/layout.js';
import type { ErrorCode } from '../../src/errors.js';
import { openChild, useChildCleanup } from '../helpers/child.js';
import { expectCode, expectOneOfCodes } from '../helpers/errors.js';
import { useTmpDir } from '../helpers/tmp.js';

const GEO = { pageCount: 3, pageSize: 16384 } as const;
const FILE_SIZE = 20480 + 3 * 16384;

/** Writes `bytes` at `offset` of the file. */
function patch(path: string, offset: number, bytes: Buffer): void {
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, bytes, 0, bytes.length, offset);
  } finally {
    closeSync(fd);
  }
}

describe('opening a file that is not a usable cache', () => {
  const tmp = useTmpDir();
  useChildCleanup();

  /** A valid cache file with one entry, closed. */
  function validFile(name = 'cache.smap'): string {
    const path = tmp.path(name);
    const c = SharedCache.create(path, GEO);
    c.set('k', 'v');
    c.close();
    return path;
  }

  /** Asserts open (and create with attach) refuse with `code` and leave the bytes as they were. */
  function expectRefused(path: string, code: ErrorCode): void {
    let before: Buffer | undefined;
    try {
      before = readFileSync(path);
    } catch {
      before = undefined;
    }
    expectCode(() => SharedCache.open(path, { lockTimeout: 200 }), code);
    expectCode(() => SharedCache.create(path, { ...GEO, ifExists: 'attach', lockTimeout: 200 }), code);
    if (before) expect(readFileSync(path).equals(before), 'a refused file was modified').toBe(true);
  }

  it('opens a valid file (the baseline the refusals are measured against)', () => {
    const c = SharedCache.open(validFile());
    expect(c.get('k')).toBe('v');
    expect(c.geometry).toMatchObject({ ...GEO, fileSize: FILE_SIZE });
    c.close();
  });

  it('refuses a missing file with SESSMAP_ERR_FILE_NOT_FOUND', () => {
    expectCode(() => SharedCache.open(tmp.path('missing.smap')), 'SESSMAP_ERR_FILE_NOT_FOUND');
  });

  it('refuses a symbolic link with SESSMAP_ERR_FILE_SYMLINK', () => {
    const path = validFile();
    const link = tmp.path('link.smap');
    symlinkSync(path, link);
    expectRefused(link, 'SESSMAP_ERR_FILE_SYMLINK');
    const dirLink = tmp.path('dirlink');
    symlinkSync(tmp.dir, dirLink);
    expectCode(() => SharedCache.open(dirLink), 'SESSMAP_ERR_FILE_SYMLINK');
  });

  it.each([0o620, 0o602, 0o666, 0o660])('refuses a file with mode %o (writable by group or others) with SESSMAP_ERR_FILE_PERMISSIONS', (mode) => {
    const path = validFile();
    chmodSync(path, mode);
    expectRefused(path, 'SESSMAP_ERR_FILE_PERMISSIONS');
  });

  it('refuses a file owned by another user with SESSMAP_ERR_FILE_OWNER', () => {
    expect(process.getuid!(), 'this test needs root to chown').toBe(0);
    const path = validFile();
    chownSync(path, 65534, 65534);
    expectRefused(path, 'SESSMAP_ERR_FILE_OWNER');
  });

  it('refuses random bytes and other files with SESSMAP_ERR_FILE_FOREIGN', () => {
    const rnd = tmp.path('random.bin');
    writeFileSync(rnd, randomBytes(FILE_SIZE), { mode: 0o600 });
    expectRefused(rnd, 'SESSMAP_ERR_FILE_FOREIGN');
    const text = tmp.path('text.txt');
    writeFileSync(text, 'hello world\n'.repeat(10_000), { mode: 0o600 });
    expectRefused(text, 'SESSMAP_ERR_FILE_FOREIGN');
    const short = tmp.path('short.txt');
    writeFileSync(short, 'hello', { mode: 0o600 });
    expectOneOfCodes(() => SharedCache.open(short, { lockTimeout: 200 }), ['SESSMAP_ERR_FILE_FOREIGN', 'SESSMAP_ERR_FILE_TRUNCATED']);
    expect(readFileSync(short, 'utf8')).toBe('hello');
  });

  it('refuses a file shorter than its header says with SESSMAP_ERR_FILE_TRUNCATED', () => {
    const a = validFile('a.smap');
    truncateSync(a, 20480 + 16384 + 100);
    expectRefused(a, 'SESSMAP_ERR_FILE_TRUNCATED');
    const b = validFile('b.smap');
    truncateSync(b, FILE_SIZE - 1);
    expectRefused(b, 'SESSMAP_ERR_FILE_TRUNCATED');
    const c = validFile('c.smap');
    truncateSync(c, 4096);
    expectRefused(c, 'SESSMAP_ERR_FILE_TRUNCATED');
  });

  // 1 to 3 are earlier formats (8-byte slots, no access tick; no structure table; 64-byte items on
  // 16-byte boundaries): refused, never misread.
  it.each([0, 1, 2, 3, 5, 0xffffffff])('refuses format version %i with SESSMAP_ERR_FILE_VERSION', (version) => {
    const path = validFile();
    const b = Buffer.alloc(4);
    b.writeUInt32LE(version);
    patch(path, 8, b);
    expectRefused(path, 'SESSMAP_ERR_FILE_VERSION');
  });

  it.each([16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 95, 96, 99])('refuses a header altered at byte %i with SESSMAP_ERR_FILE_CORRUPT', (offset) => {
    const path = validFile();
    const b = readFileSync(path).subarray(offset, offset + 1);
    patch(path, offset, Buffer.from([b[0] ^ 0x10]));
    expectRefused(path, 'SESSMAP_ERR_FILE_CORRUPT');
  });

  it('refuses a file still being initialised with SESSMAP_ERR_FILE_NOT_READY, without waiting forever', () => {
    const path = validFile();
    const b = Buffer.alloc(4);
    b.writeInt32LE(STATE_INITIALISING);
    patch(path, H_STATE_OFF, b);
    expectRefused(path, 'SESSMAP_ERR_FILE_NOT_READY');
    // What the error suggests for a creator that died while initialising: reinit the file.
    const fresh = SharedCache.create(path, { ...GEO, ifExists: 'reinit' });
    fresh.set('k', 'again');
    fresh.close();
    const reopened = SharedCache.open(path);
    expect(reopened.get('k')).toBe('again');
    reopened.close();
    const empty = tmp.path('empty.smap');
    writeFileSync(empty, '', { mode: 0o600 });
    expectOneOfCodes(() => SharedCache.open(empty, { lockTimeout: 200 }), ['SESSMAP_ERR_FILE_NOT_READY', 'SESSMAP_ERR_FILE_TRUNCATED', 'SESSMAP_ERR_FILE_FOREIGN']);
  });

  it('refuses a directory with SESSMAP_ERR_FILE_NOT_REGULAR', () => {
    const dir = tmp.path('adir');
    mkdirSync(dir, { mode: 0o700 });
    expectCode(() => SharedCache.open(dir), 'SESSMAP_ERR_FILE_NOT_REGULAR');
    expectCode(() => SharedCache.create(dir, { ...GEO, ifExists: 'attach' }), 'SESSMAP_ERR_FILE_NOT_REGULAR');
    expectCode(() => SharedCache.create(dir, { ...GEO, ifExists: 'reinit' }), 'SESSMAP_ERR_FILE_NOT_REGULAR');
  });

  it('refuses a FIFO with SESSMAP_ERR_FILE_NOT_REGULAR instead of blocking on it', async () => {
    const fifo = tmp.path('fifo');
    execFileSync('mkfifo', ['-m', '600', fifo]);
    // In a child: a blocking open of a FIFO would hang the test runner itself.
    const child = await openChild(validFile());
    const result = await child.open(fifo, { lockTimeout: 200 });
    expect(result.ok ? 'opened' : result.error.code).toBe('SESSMAP_ERR_FILE_NOT_REGULAR');
    await child.close();
  });
});
