/**
 * A file whose resize words were damaged or forged: a layout record that fails its checksum, or
 * names more page slots than the file has, is refused with a coded error on open (never mapped,
 * never misread); a moved mark on a page no resize moves is damage, cleared by repair with the
 * page's entries kept (never a reason to empty it); any other word there is damage too.
 */
import { openSync, closeSync, readSync, writeSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { SharedCache } from '../../src/index.js';
import { H_LAYOUT_GEN_OFF, H_RECORDS_OFF, H_RECORD_SIZE, PAGES_OFF, PAGE_MOVED, P_MOVED_OFF } from '../../src/core/layout.js';
import { internals } from '../../src/core/cache/internals.js';
import { useTmpDir } from '../helpers/tmp.js';

const PAGE = 64 * 1024;

/** Reads `n` bytes of `path` at `at`, lets `edit` change them, writes them back. */
function patch(path: string, at: number, n: number, edit: (b: Buffer) => void): void {
  const fd = openSync(path, 'r+');
  try {
    const b = Buffer.alloc(n);
    readSync(fd, b, 0, n, at);
    edit(b);
    writeSync(fd, b, 0, n, at);
  } finally {
    closeSync(fd);
  }
}

async function resized(path: string): Promise<Map<string, unknown>> {
  const c = SharedCache.create(path, { size: PAGES_OFF + 4 * PAGE, pageSize: PAGE });
  const want = new Map<string, unknown>();
  for (let i = 0; i < 200; i++) {
    c.set(`k${i}`, { i });
    want.set(`k${i}`, { i });
  }
  await c.resize({ pageCount: 8, graceMs: 0 });
  c.close();
  return want;
}

function activeRecord(path: string): number {
  const b = Buffer.alloc(4);
  const fd = openSync(path, 'r');
  readSync(fd, b, 0, 4, H_LAYOUT_GEN_OFF);
  closeSync(fd);
  return H_RECORDS_OFF + (b.readUInt32LE(0) & 1) * H_RECORD_SIZE;
}

describe('a file with damaged or forged resize words', () => {
  const tmp = useTmpDir();

  it('refuses a layout record that fails its checksum', async () => {
    const path = tmp.path('crc.smap');
    await resized(path);
    patch(path, activeRecord(path) + 12, 1, (b) => (b[0] ^= 0x04)); // the page count
    expect(() => SharedCache.open(path)).toThrow(expect.objectContaining({ code: 'SESSMAP_ERR_FILE_CORRUPT', message: expect.stringMatching(/layout record .* checksum/) }));
  });

  it('refuses a record, checksum and all, that puts pages past the end of the file', async () => {
    const path = tmp.path('long.smap');
    await resized(path);
    const at = activeRecord(path);
    patch(path, at, H_RECORD_SIZE, (b) => {
      b.writeUInt32LE(b.readUInt32LE(24) + 1000, 24); // page slots
      b.writeUInt32LE(crc32(b.subarray(0, 56)), 56);
    });
    expect(() => SharedCache.open(path)).toThrow(expect.objectContaining({ code: 'SESSMAP_ERR_FILE_TRUNCATED' }));
    patch(path, at, H_RECORD_SIZE, (b) => {
      b.writeUInt32LE(0xffffffff, 12); // a page count no file has
      b.writeUInt32LE(crc32(b.subarray(0, 56)), 56);
    });
    expect(() => SharedCache.open(path)).toThrow(expect.objectContaining({ code: 'SESSMAP_ERR_FILE_CORRUPT' }));
  });

  it('keeps the entries of a page forged as moved, and clears the mark', async () => {
    const path = tmp.path('mark.smap');
    const want = await resized(path);
    const probe = SharedCache.open(path);
    const page = internals(probe).pageOf('k1');
    const slot = (probe.stats().pages[page] as unknown as { page: number }).page;
    expect(slot).toBe(page);
    probe.close();
    // The layout after the resize starts at page slot 4 (after the 4 pages of the first).
    for (const word of [PAGE_MOVED, 0x12345678]) {
      patch(path, PAGES_OFF + (4 + page) * PAGE + P_MOVED_OFF, 4, (b) => b.writeUInt32LE(word, 0));
      const c = SharedCache.open(path);
      for (const [k, v] of want) expect(c.get(k), `${word.toString(16)}: ${k}`).toEqual(v);
      expect(c.verifyPage(page)).toEqual([]);
      expect(c.stats().repairs).toBeGreaterThan(0);
      expect([...c.keys()].length).toBe(want.size);
      c.close();
    }
  });
});
