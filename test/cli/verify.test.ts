/**
 * `sessmap verify`: exit 0 on a file processes are writing, 1 with the damaged page named when
 * bytes of a live item were flipped (and not a byte of the file changed by looking), 0 again after
 * `--repair`, 2 for a file whose header cannot be read; progress lines on stderr for a long one.
 */
import { describe, expect, it } from 'vitest';
import { closeSync, openSync, readFileSync, readSync, writeFileSync, writeSync } from 'node:fs';
import { SharedCache } from '../../src/index.js';
import { ITEM_HEADER_SIZE, ITEM_LIVE, I_KEY_LEN_OFF, I_LEN_OFF, I_STATE_OFF, PAGES_OFF, P_FREE_OFF } from '../../src/core/layout.js';
import { dataStart } from '../../src/core/options.js';
import { sessmap, sessmapJson, useCliSuite, withWriters } from './harness.js';

const GEO = { pageCount: 8, pageSize: 65536 } as const;

/** Flips a byte in the value of the first live item of `page`; returns the item's page offset. */
function damageLiveItem(path: string, cache: SharedCache, page: number): number {
  const { pageSize, slotsPerPage } = cache.geometry;
  const base = PAGES_OFF + page * pageSize;
  const fd = openSync(path, 'r+');
  try {
    const pg = Buffer.alloc(pageSize);
    readSync(fd, pg, 0, pageSize, base);
    const end = pg.readUInt32LE(P_FREE_OFF);
    for (let off = dataStart(slotsPerPage); off < end; off += (pg.readUInt32LE(off + I_LEN_OFF) + 7) & ~7) {
      if (pg.readUInt32LE(off + I_STATE_OFF) !== ITEM_LIVE) continue;
      const at = off + ITEM_HEADER_SIZE + pg.readUInt16LE(off + I_KEY_LEN_OFF) + 1;
      writeSync(fd, Buffer.from([pg[at] ^ 0x20]), 0, 1, base + at);
      return off;
    }
  } finally {
    closeSync(fd);
  }
  throw new Error(`page ${page} has no live item`);
}

describe('sessmap verify', () => {
  const tmp = useCliSuite();

  it('exits 0 on a sound file processes are writing, 1 naming a damaged page without changing a byte, 0 after --repair', async () => {
    await withWriters(tmp.path(), GEO, 2, async (mine, w, path) => {
      const live = await sessmap('verify', path);
      expect(live.code, live.stdout + live.stderr).toBe(0);
      expect(live.stdout).toContain(`sessmap verify ${path}: 8 pages\n  every page is sound`);

      await w.writeSome(2000);
      await w.stop();
      // The writers' last read counts reach the pages at the next lock: take each once now, so
      // that what verify leaves can be compared byte for byte.
      for (let p = 0; p < GEO.pageCount; p++) expect(mine.verifyPage(p)).toEqual([]);
      const off = damageLiveItem(path, mine, 5);
      const before = readFileSync(path);

      const damaged = await sessmap('verify', path);
      expect(damaged.code, damaged.stdout + damaged.stderr).toBe(1);
      expect(damaged.stdout).toContain(`  page 5: torn item at ${off}\n`);
      expect(damaged.stdout).toContain('1 of 8 pages need repair (sessmap verify --repair rebuilds them)');
      expect(readFileSync(path).equals(before), 'verify changed the file').toBe(true);
      const json = await sessmap('verify', path, '--json');
      expect(json.code).toBe(1);
      expect(JSON.parse(json.stdout)).toMatchObject({ pages: 8, damaged: [{ page: 5, problems: [`torn item at ${off}`] }], repaired: [], remaining: [{ page: 5 }] });
      expect(readFileSync(path).equals(before), 'verify --json changed the file').toBe(true);

      const entries = mine.stats().entries;
      const repaired = await sessmap('verify', path, '--repair');
      expect(repaired.code, repaired.stdout + repaired.stderr).toBe(0);
      expect(repaired.stdout).toContain('  page 5 rebuilt: 1 entry dropped\n');
      expect(repaired.stdout).toContain('1 damaged page repaired; every page is sound now');
      expect(mine.stats()).toMatchObject({ entries: entries - 1, repairs: 1, removals: { repaired: 1 } });
      expect((await sessmap('verify', path)).code).toBe(0);
    });
  });

  it('exits 2 with the coded error for a file whose header cannot be read, or that is no cache file', async () => {
    const path = tmp.path();
    SharedCache.create(path, GEO).close();
    const fd = openSync(path, 'r+');
    try {
      writeSync(fd, Buffer.from([0x7f]), 0, 1, 21); // the page size: the header's checksum fails
    } finally {
      closeSync(fd);
    }
    const corrupt = await sessmap('verify', path);
    expect(corrupt).toMatchObject({ code: 2, stdout: '' });
    expect(corrupt.stderr).toMatch(/^sessmap: SESSMAP_ERR_FILE_CORRUPT: cache file .* has a corrupt header[^\n]*\n$/);

    const foreign = tmp.path('foreign.smap');
    writeFileSync(foreign, Buffer.alloc(65536, 7), { mode: 0o600 });
    const r = await sessmap('verify', foreign);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^sessmap: SESSMAP_ERR_FILE_FOREIGN: /);
  });

  it('shows progress on stderr as plain lines when stderr is not a terminal, and none with --quiet', async () => {
    const path = tmp.path();
    SharedCache.create(path, { pageCount: 64, pageSize: 8192 }).close();
    const r = await sessmap('verify', path);
    expect(r.code).toBe(0);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines.at(-1)).toBe('verify: 100% (64/64 pages)');
    expect(lines.every((l) => /^verify: \d+0% \(\d+\/64 pages\)$/.test(l)), r.stderr).toBe(true);
    expect(lines.length).toBeGreaterThanOrEqual(5);
    expect((await sessmap('verify', path, '--quiet')).stderr).toBe('');
    const json = await sessmapJson('verify', path, '--quiet');
    expect(json).toMatchObject({ pages: 64, damaged: [], remaining: [] });
  });
});
