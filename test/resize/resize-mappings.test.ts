/**
 * Resizing a file mapped in several pieces (a file past 1 GiB is; here the test's small mapping
 * limit makes a small file so): the page slots of both layouts spread over many mappings, and a
 * handle that follows maps the grown file again with its own limit. Every entry survives growing
 * 4x and shrinking back, in both handles, and every page checks clean.
 */
import { describe, expect, it } from 'vitest';
import { SharedCache } from '../../src/index.js';
import { PAGES_OFF } from '../../src/core/layout.js';
import { expectAllPagesClean } from '../helpers/geometry.js';
import { useTmpDir } from '../helpers/tmp.js';

const PAGE = 16 * 1024;

describe('resizing a file mapped in several pieces', () => {
  const tmp = useTmpDir();

  it('moves every entry across the mappings, growing 4x and shrinking back', async () => {
    const path = tmp.path('pieces.smap');
    const opts = { _segmentBytes: 3 * PAGE } as object;
    const a = SharedCache.create(path, { size: PAGES_OFF + 10 * PAGE, pageSize: PAGE, ...opts });
    const b = SharedCache.open(path, opts);
    const want = new Map<string, unknown>();
    for (let i = 0; i < 300; i++) {
      a.set(`m${i}`, { i, pad: 'z'.repeat(i % 40) });
      want.set(`m${i}`, { i, pad: 'z'.repeat(i % 40) });
    }
    for (const k of want.keys()) b.get(k);
    for (const pageCount of [40, 10, 37]) {
      const r = await a.resize({ pageCount, graceMs: 0 });
      expect(r.entriesMoved).toBe(300);
      for (const [k, v] of want) {
        expect(a.get(k), `${pageCount}: ${k}`).toEqual(v);
        expect(b.get(k), `${pageCount}: ${k}`).toEqual(v);
      }
      b.set('m7', { i: 7, by: pageCount });
      want.set('m7', { i: 7, by: pageCount });
      expect(a.get('m7')).toEqual({ i: 7, by: pageCount });
      expectAllPagesClean(a);
      expectAllPagesClean(b);
    }
    a.close();
    b.close();
  });
});
