import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { SharedCache } from '../../src/index.js';
import type { CreateOptions, OpenOptions } from '../../src/core/types.js';
import { expectCode } from '../helpers/errors.js';
import { useTmpDir } from '../helpers/tmp.js';

describe('option validation', () => {
  const tmp = useTmpDir();

  it.each([
    ['size', { size: 'lots' }],
    ['size', { size: -1 }],
    ['size', { size: 0 }],
    ['size', { size: 1000 }],
    ['pageSize', { pageSize: 5000 }],
    ['pageSize', { pageSize: 4096 }],
    ['pageSize', { pageSize: 128 * 1024 * 1024 }],
    ['pageCount', { pageCount: 0 }],
    ['pageCount', { pageCount: 2.5 }],
    ['slotsPerPage', { pageSize: 65536, slotsPerPage: 100 }],
    ['maxKeyBytes', { maxKeyBytes: 0 }],
    ['defaultTtl', { defaultTtl: -1 }],
    ['serializer', { serializer: 'xml' }],
    ['evictionPolicy', { evictionPolicy: 'random' }],
    ['ifExists', { ifExists: 'overwrite' }],
    ['lockTimeout', { lockTimeout: -5 }],
    ['lockTimeout', { lockTimeout: NaN }],
    ['onRemove', { onRemove: 'log' }],
    ['clock', { clock: 5 }],
    ['verifyReads', { verifyReads: 'yes' }],
  ] as Array<[string, CreateOptions]>)('refuses a bad %s in create with SESSMAP_ERR_INVALID_OPTION naming it, creating no file', (name, opts) => {
    const path = tmp.path();
    const err = expectCode(() => SharedCache.create(path, { size: '1m', ...opts }), 'SESSMAP_ERR_INVALID_OPTION');
    expect(err.message).toContain(name);
    expect(existsSync(path), 'a file was left behind').toBe(false);
  });

  it.each([
    ['serializer', { serializer: 'xml' }],
    ['defaultTtl', { defaultTtl: NaN }],
    ['lockTimeout', { lockTimeout: 0 }],
    ['onRemove', { onRemove: 1 }],
  ] as Array<[string, OpenOptions]>)('refuses a bad %s in open with SESSMAP_ERR_INVALID_OPTION naming it', (name, opts) => {
    const path = tmp.path();
    SharedCache.create(path, { size: '1m' }).close();
    const err = expectCode(() => SharedCache.open(path, opts), 'SESSMAP_ERR_INVALID_OPTION');
    expect(err.message).toContain(name);
  });

  it('accepts sizes with k, m and g suffixes and derives the geometry from them', () => {
    const c = SharedCache.create(tmp.path(), { size: '2m', pageSize: '64k' });
    try {
      expect(c.geometry.pageSize).toBe(65536);
      expect(c.geometry.pageCount).toBeGreaterThanOrEqual(30);
      expect(c.geometry.fileSize).toBeLessThanOrEqual(2 * 1024 * 1024 + 65536);
      expect(c.geometry.fileSize).toBe(20480 + c.geometry.pageCount * 65536);
    } finally {
      c.close();
    }
  });

  it('treats undefined as the default and 0 as a real value', () => {
    const c = SharedCache.create(tmp.path(), { size: '1m', defaultTtl: undefined, serializer: undefined, lockTimeout: undefined });
    try {
      c.set('k', { a: 1 });
      expect(c.get('k')).toEqual({ a: 1 });
      expect(c.ttl('k')).toBe(Infinity);
      c.set('z', 1, { ttl: 0 });
      expect(c.ttl('z')).toBe(Infinity);
    } finally {
      c.close();
    }
  });
});
