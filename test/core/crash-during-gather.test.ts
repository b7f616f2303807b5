import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PAGES_OFF, P_DEAD_BYTES_OFF } from '../../src/core/layout.js';
import { useChildCleanup, type CallSpec } from '../helpers/child.js';
import { crashAt, verifyAfterCrash } from '../helpers/crash.js';
import { expectWriteWithoutEviction, fillOnePage } from '../helpers/geometry.js';
import { useTmpDir } from '../helpers/tmp.js';

/**
 * A full page, where room is gathered rather than the page compacted (page/compact.ts, gather):
 * page 0 is filled with ~1 KB entries up to the first eviction, then three entries far apart
 * are deleted. A 2 KB write fits in none of their holes alone, and the page is too full for a
 * compaction of the whole page to pay: the live entries between the first two holes slide down
 * over the first, and the write goes into the room gathered. Killed while sliding, the page must
 * come back with every surviving entry exact and no deleted one back.
 */
function nearlyFull(path: string): { survivors: Map<string, unknown>; deleted: string[] } {
  const { cache, present, values } = fillOnePage(path, 'g');
  expect(present.length).toBeGreaterThan(40);
  const deleted = [present[5]!, present[20]!, present[35]!];
  for (const k of deleted) {
    expect(cache.delete(k)).toBe(true);
    values.delete(k);
  }
  cache.close();
  return { survivors: values, deleted };
}

const BIG = { big: 'G'.repeat(2000) };
const writeBig: CallSpec = { method: 'set', args: ['big', BIG] };

/** Dead bytes of page 0, read from the file. */
function deadBytes(path: string): number {
  return readFileSync(path).readUInt32LE(PAGES_OFF + P_DEAD_BYTES_OFF);
}

describe('a process killed with SIGKILL while gathering room in a full page', () => {
  const tmp = useTmpDir();
  useChildCleanup();

  it('first shows that the big write gathers room, evicting nothing and leaving the third hole', () => {
    // Guards the scenario: with no fault, the write succeeds without an eviction, and the page
    // still has dead bytes afterwards (a compaction of the whole page would have left none).
    const path = tmp.path();
    const { survivors, deleted } = nearlyFull(path);
    const before = deadBytes(path);
    expectWriteWithoutEviction(path, 'big', BIG, survivors, deleted);
    const after = deadBytes(path);
    expect(after, 'a whole-page compaction ran').toBeGreaterThan(0);
    expect(after).toBeLessThan(before);
  });

  it.each(['compact:move', 'compact:move:3', 'compact:move:8'])(
    'keeps every surviving entry exact and no deleted entry resurrected when killed at %s',
    async (fault) => {
      const path = tmp.path();
      const { survivors, deleted } = nearlyFull(path);
      await crashAt(path, fault, [writeBig]);
      await verifyAfterCrash(path, {
        exact: new Map<string, unknown>([...survivors, ...deleted.map((k): [string, unknown] => [k, undefined])]),
        oneOf: new Map<string, readonly unknown[]>([['big', [undefined, BIG]]]),
      });
    },
  );
});
