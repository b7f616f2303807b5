import { describe, expect, it } from 'vitest';
import { existsSync, statSync } from 'node:fs';
import { SharedCache } from '../../src/index.js';
import type { CreateOptions } from '../../src/core/types.js';
import { expectCode } from '../helpers/errors.js';
import { useTmpDir } from '../helpers/tmp.js';

const KiB = 1024;
const MiB = 1024 * KiB;
/** The 4096-byte header and the 16 KiB structure table before the pages. */
const HEADER = 4096 + 16384;

describe('the file size that `size` gives', () => {
  const tmp = useTmpDir();

  it.each([
    // [size, options, page size it gets, file size: 20480 + floor((size - 20480) / pageSize) * pageSize]
    ['1m', {}, 64 * KiB, 1_003_520],
    ['512k', {}, 64 * KiB, 479_232],
    [100_000, {}, 64 * KiB, 86_016],
    ['1m', { pageSize: '16k' }, 16 * KiB, 1_036_288],
    [HEADER + 4 * 64 * KiB, {}, 64 * KiB, HEADER + 4 * 64 * KiB],
    ['17m', {}, 256 * KiB, 17_584_128],
  ] as Array<[number | string, CreateOptions, number, number]>)(
    'size %s (%o) makes a file of the header and structure table plus as many whole pages as fit: never larger, smaller by under a page',
    (size, options, pageSize, expected) => {
      const path = tmp.path();
      const c = SharedCache.create(path, { size, ...options });
      try {
        const asked = typeof size === 'number' ? size : Number.parseInt(size, 10) * (size.endsWith('m') ? MiB : KiB);
        expect(c.geometry.pageSize).toBe(pageSize);
        expect(c.geometry.fileSize).toBe(expected);
        expect(c.geometry.fileSize).toBe(HEADER + Math.floor((asked - HEADER) / pageSize) * pageSize);
        expect(c.geometry.fileSize).toBe(HEADER + c.geometry.pageCount * pageSize);
        expect(statSync(path).size).toBe(expected);
        expect(expected).toBeLessThanOrEqual(asked);
        expect(asked - expected).toBeLessThan(pageSize);
      } finally {
        c.close();
      }
    },
  );

  it('makes the file of pageCount pages when they fit in size', () => {
    const path = tmp.path();
    const c = SharedCache.create(path, { size: '1m', pageCount: 10 });
    try {
      expect(c.geometry).toMatchObject({ pageCount: 10, pageSize: 64 * KiB, fileSize: HEADER + 10 * 64 * KiB });
      expect(statSync(path).size).toBe(HEADER + 10 * 64 * KiB);
    } finally {
      c.close();
    }
  });

  it('refuses a pageCount whose pages do not fit in size with SESSMAP_ERR_INVALID_OPTION, creating no file', () => {
    const path = tmp.path();
    const err = expectCode(() => SharedCache.create(path, { size: '1m', pageCount: 16 }), 'SESSMAP_ERR_INVALID_OPTION');
    expect(err.message).toContain('"pageCount" must be at most 15 for size 1048576');
    expect(existsSync(path), 'a file was created').toBe(false);
  });

  it('makes a file of exactly pageCount pages when size is not given', () => {
    const path = tmp.path();
    const c = SharedCache.create(path, { pageCount: 3, pageSize: '16k' });
    try {
      expect(statSync(path).size).toBe(HEADER + 3 * 16 * KiB);
    } finally {
      c.close();
    }
  });
});
