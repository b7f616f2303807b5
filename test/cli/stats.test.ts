/**
 * `sessmap stats` on a file two processes are writing: its figures are what stats() reads (the
 * writers paused between two batches, so both read the same file), the attached processes alive
 * and dead, the text report, and `--watch` readings.
 */
import { describe, expect, it } from 'vitest';
import { SharedCache } from '../../src/index.js';
import { EVICTED_TTL_BOUNDS } from '../../src/core/layout.js';
import { sessmap, sessmapJson, useCliSuite, withWriters } from './harness.js';

/** Small enough that the writers fill it: live evictions, with the TTL they had. */
const GEO = { pageCount: 8, pageSize: 16384 } as const;
const COUNTERS = ['entries', 'bytesUsed', 'bytesFree', 'hits', 'misses', 'sets', 'evictedLive', 'evictedHigh', 'lockWaits', 'lockRecoveries', 'repairs'] as const;

describe('sessmap stats', () => {
  const tmp = useCliSuite();

  it('reports with --json what stats() reads of a file two processes are writing', async () => {
    await withWriters(tmp.path(), GEO, 2, async (mine, w, path) => {
      await w.writeSome(5000);
      const want = mine.stats();
      const got = await sessmapJson('stats', path);
      for (const f of COUNTERS) expect(got[f], f).toBe(want[f]);
      expect(got.removals).toEqual(want.removals);
      expect(got.evictedLiveTtl).toEqual(want.evictedLiveTtl);
      expect(got.file).toBe(path);
      expect(got.geometry).toEqual({ ...mine.geometry, maxItemBytes: mine.maxItemBytes, maxEntriesPerPage: Math.floor(mine.geometry.slotsPerPage * 0.75) });
      expect(got.hitRatio).toBeCloseTo(want.hits / (want.hits + want.misses), 12);
      expect(got.fill).toBeCloseTo(want.bytesUsed / (want.bytesUsed + want.bytesFree), 12);
      const fullest = [...want.pages].sort((a, b) => b.bytesUsed - a.bytesUsed || b.entries - a.entries || a.page - b.page).slice(0, 5);
      expect(got.fullestPages.map((p: { page: number }) => p.page)).toEqual(fullest.map((p) => p.page));

      // The file is small: live entries were evicted, and the histogram knows what they had left.
      expect(want.evictedLive).toBeGreaterThan(0);
      const t = got.evictedLiveTtlLeft;
      expect(t.counted).toBe(want.evictedLive);
      expect(t.noExpiry).toBe(want.evictedLiveTtl[EVICTED_TTL_BOUNDS.length]);
      if (t.counted > t.noExpiry) {
        expect(t.medianMs).toBeGreaterThan(0);
        expect(t.p99Ms).toBeGreaterThanOrEqual(t.medianMs);
      }

      // Two writers and this process; the command itself is not listed.
      expect(got.processes).toEqual(JSON.parse(JSON.stringify(want.processes)));
      expect(got.processes).toMatchObject({ alive: 3, dead: 0 });
      expect(got.processes.list.map((p: { pid: number }) => p.pid).sort()).toEqual([process.pid, ...w.pids].sort());
    });
  });

  it('reports a killed writer dead until the next open reclaims its listing, in text and JSON', async () => {
    await withWriters(tmp.path(), GEO, 2, async (mine, w, path) => {
      await w.writeSome(1000);
      await w.children[0].kill9();
      const text = await sessmap('stats', path);
      expect(text.code, text.stderr).toBe(0);
      for (const subject of ['geometry', 'fill', 'fullest', 'reads', 'writes', 'removals', 'evictions', 'locks', 'processes']) {
        expect(text.stdout, subject).toMatch(new RegExp(`^  ${subject} +\\S`, 'm'));
      }
      expect(text.stdout).toMatch(/^ {2}processes +2 alive, 1 dead$/m);
      expect(text.stdout).toMatch(new RegExp(`pid ${w.pids[0]} +main thread .* dead$`, 'm'));
      expect(text.stdout).toMatch(new RegExp(`pid ${w.pids[1]} +main thread .* alive$`, 'm'));
      expect(text.stdout).toMatch(/hit ratio \d+\.\d%/);

      SharedCache.open(path).close();
      const after = await sessmapJson('stats', path);
      expect(after.processes).toMatchObject({ alive: 2, dead: 0 });
    });
  });

  it('--watch prints a reading per interval under a header, or JSON documents with rates per second', async () => {
    await withWriters(tmp.path(), GEO, 2, async (mine, w, path) => {
      const lines = await sessmap('stats', path, '--watch', '--interval', '20', '--count', '3');
      expect(lines.code, lines.stderr).toBe(0);
      const out = lines.stdout.trimEnd().split('\n');
      expect(out).toHaveLength(4);
      expect(out[0].trim().split(/\s+/)).toEqual(['entries', 'used', 'fill', 'hits/s', 'misses/s', 'sets/s', 'expired/s', 'evicted/s', 'live/s', 'waits/s', 'processes']);
      for (const l of out.slice(1)) expect(l.trim().split(/\s+/), l).toHaveLength(12); // "used" is a number and a unit

      const json = await sessmap('stats', path, '--watch', '--json', '--interval', '20', '--count', '2');
      expect(json.code, json.stderr).toBe(0);
      const docs = json.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
      expect(docs).toHaveLength(2);
      for (const d of docs) {
        expect(d.seconds).toBeGreaterThan(0);
        expect(Object.keys(d.perSecond).sort()).toEqual(['deleted', 'evicted', 'evictedLive', 'expired', 'hits', 'lockRecoveries', 'lockWaits', 'misses', 'repairs', 'sets']);
        expect(d.perSecond.sets).toBeGreaterThanOrEqual(0);
      }
      expect(docs[1].sets).toBeGreaterThanOrEqual(docs[0].sets);

      const refused = await sessmap('stats', path, '--count', '2');
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/^sessmap: SESSMAP_ERR_USAGE: /);
    });
  });
});
