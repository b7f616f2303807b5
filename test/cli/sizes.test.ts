/**
 * `sessmap sizes` on a file two processes are writing (paused): the distribution of value sizes,
 * the largest entries with session and user ids hashed, entries by prefix, and what the geometry
 * holds, against what inspectPage says of every entry.
 */
import { describe, expect, it } from 'vitest';
import { SharedCache } from '../../src/index.js';
import { sessmap, sessmapJson, useCliSuite, withWriters } from './harness.js';

const GEO = { pageCount: 8, pageSize: 65536 } as const;
const footprint = (key: string, size: number): number => Math.ceil((48 + Buffer.byteLength(key) + size) / 8) * 8;

describe('sessmap sizes', () => {
  const tmp = useCliSuite();

  it('gives the histogram, percentiles, largest entries, prefixes and capacity of what the file holds', async () => {
    await withWriters(tmp.path(), GEO, 2, async (mine, w, path) => {
      const paused = await w.writeSome(2000);
      const all: Array<[string, number]> = [];
      for (let p = 0; p < GEO.pageCount; p++) for (const [k, info] of mine.inspectPage(p)) all.push([k, info.size]);
      const sizes = all.map(([, s]) => s).sort((a, b) => a - b);

      const r = await sessmapJson('sizes', path, '--limit', '3');
      expect(r.entries).toBe(all.length);
      expect(r.valueBytes).toBe(sizes.reduce((a, b) => a + b, 0));
      expect(r.pageBytes).toBe(all.reduce((a, [k, s]) => a + footprint(k, s), 0));
      expect(r.histogram.reduce((a: number, h: { count: number }) => a + h.count, 0)).toBe(all.length);
      for (const h of r.histogram) expect(h.count).toBe(sizes.filter((s) => s < h.below && s >= (h.below === 64 ? 0 : h.below / 2)).length);
      expect(r.percentiles).toEqual({ p50: sizes[Math.floor(0.5 * sizes.length)], p90: sizes[Math.floor(0.9 * sizes.length)], p99: sizes[Math.floor(0.99 * sizes.length)], max: sizes.at(-1) });
      expect(r.largest).toHaveLength(3);
      const biggest = Math.max(...all.map(([k, s]) => footprint(k, s)));
      expect(r.largest[0].footprint).toBe(biggest);
      for (const l of r.largest) expect(l.key).not.toMatch(/^[su]:(?!#[0-9a-f]{16}$)/);
      for (const id of paused.flatMap((p) => p.ids)) expect(JSON.stringify(r)).not.toContain(id);
      const prefixes = Object.fromEntries(r.prefixes.map((x: { prefix: string; entries: number }) => [x.prefix, x.entries]));
      expect(prefixes).toEqual({
        's:': all.filter(([k]) => k.startsWith('s:')).length,
        'u:': all.filter(([k]) => k.startsWith('u:')).length,
        'cart:': all.filter(([k]) => k.startsWith('cart:')).length,
      });
      expect(r.capacity.maxEntriesPerPage).toBe(Math.floor(mine.geometry.slotsPerPage * 0.75));
      expect(r.capacity.entries).toBe(r.capacity.entriesPerPage * GEO.pageCount);
      expect(r.capacity.maxItemBytes).toBe(mine.maxItemBytes);

      const text = await sessmap('sizes', path);
      expect(text.code, text.stderr).toBe(0);
      for (const part of ['  value size\n', '  percentiles  p50 ', '  largest\n', '  by prefix\n', '  holds        at this mix']) expect(text.stdout).toContain(part);
      expect(text.stdout.match(/ in the page {2}/g)).toHaveLength(10);
    });
  });

  it('says what an empty file can hold', async () => {
    const path = tmp.path();
    SharedCache.create(path, GEO).close();
    const r = await sessmapJson('sizes', path);
    expect(r).toMatchObject({ entries: 0, valueBytes: 0, largest: [], prefixes: [], capacity: { entries: null, entriesPerPage: null } });
    expect((await sessmap('sizes', path)).stdout).toContain('no entries to size them by yet');
  });
});
