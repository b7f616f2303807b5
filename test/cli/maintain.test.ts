/**
 * `sessmap purge` and `sessmap clear` on a file two processes are writing: purge removes exactly
 * what had expired (and the counters say so), clear refuses without --yes and empties the file
 * with it, and the writers go on afterwards.
 */
import { describe, expect, it } from 'vitest';
import { sessmap, sessmapJson, useCliSuite, withWriters } from './harness.js';

const GEO = { pageCount: 8, pageSize: 65536 } as const;

describe('sessmap purge and clear', () => {
  const tmp = useCliSuite();

  it('purge removes the expired entries now, and only those', async () => {
    // Room enough that no write meets a full page (which would expire entries itself).
    await withWriters(tmp.path(), { pageCount: 32, pageSize: 65536 }, 2, async (mine, w, path) => {
      await w.writeSome(500);
      for (let i = 0; i < 40; i++) {
        mine.set(`gone:${i}`, i);
        mine.expireAt(`gone:${i}`, 1); // long past
      }
      mine.set('kept', 'yes', { ttl: 3_600_000 });
      const before = mine.stats();
      const r = await sessmapJson<{ removed: number; entries: number }>('purge', path);
      const after = mine.stats();
      expect(r.removed).toBe(40);
      expect(after.removals.expired - before.removals.expired).toBe(r.removed);
      expect(after.entries).toBe(before.entries - r.removed);
      expect(r.entries).toBe(after.entries);
      expect(mine.get('kept')).toBe('yes');
      expect(mine.purgeExpired(), 'an expired entry was left').toBe(0);
      expect((await sessmapJson<{ removed: number }>('purge', path)).removed).toBe(0);

      const text = await sessmap('purge', path);
      expect(text).toMatchObject({ code: 0, stdout: 'removed 0 expired entries\n' });
    });
  });

  it('clear refuses without --yes, empties the file with it, and the writers go on', async () => {
    await withWriters(tmp.path(), GEO, 2, async (mine, w, path) => {
      await w.writeSome(500);
      const entries = mine.stats().entries;
      expect(entries).toBeGreaterThan(0);

      const refused = await sessmap('clear', path);
      expect(refused).toMatchObject({ code: 2, stdout: '' });
      expect(refused.stderr).toMatch(/^sessmap: SESSMAP_ERR_CONFIRMATION_REQUIRED: clear removes every entry of .*--yes[^\n]*\n$/);
      expect(mine.stats().entries).toBe(entries);

      const cleared = await sessmap('clear', path, '--yes');
      expect(cleared, cleared.stderr).toMatchObject({ code: 0, stdout: `removed ${entries.toLocaleString('en-US')} entries\n` });
      expect(mine.stats()).toMatchObject({ entries: 0, removals: { cleared: entries } });
      expect([...mine.keys()]).toEqual([]);

      await w.writeSome(200);
      expect(mine.stats().entries).toBeGreaterThan(0);
    });
  });
});
