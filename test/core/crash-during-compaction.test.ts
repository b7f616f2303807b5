import { describe, expect, it } from 'vitest';
import { useChildCleanup, type CallSpec } from '../helpers/child.js';
import { crashAt, verifyAfterCrash } from '../helpers/crash.js';
import { expectWriteWithoutEviction, fillOnePage } from '../helpers/geometry.js';
import { useTmpDir } from '../helpers/tmp.js';

/**
 * Fragments page 0: fills it with ~1 KB entries up to the first eviction, then deletes every
 * other one. What is left: the survivors (which must come through every crash exactly) and the
 * deleted keys (which must never come back). A 3 KB write then fits in the free space only after
 * compaction: it is bigger than any hole and the tail of the page is full.
 */
function fragment(path: string): { survivors: Map<string, unknown>; deleted: string[] } {
  const { cache, present, values } = fillOnePage(path, 'c');
  const deleted: string[] = [];
  present.forEach((k, i) => {
    if (i % 2 === 0) {
      expect(cache.delete(k)).toBe(true);
      values.delete(k);
      deleted.push(k);
    }
  });
  expect(values.size).toBeGreaterThan(10);
  cache.close();
  return { survivors: values, deleted };
}

const BIG = { big: 'B'.repeat(3000) };
const writeBig: CallSpec = { method: 'set', args: ['big', BIG] };

function expectations(survivors: Map<string, unknown>, deleted: string[], extra: Array<[string, unknown[]]> = []) {
  return {
    exact: new Map<string, unknown>([...survivors, ...deleted.map((k): [string, unknown] => [k, undefined])]),
    oneOf: new Map<string, readonly unknown[]>([['big', [undefined, BIG]], ...extra]),
  };
}

describe('a process killed with SIGKILL while compacting a page', () => {
  const tmp = useTmpDir();
  useChildCleanup();

  it('first shows that the big write compacts instead of evicting', () => {
    // Guards the scenario the crash tests rely on: with no fault, the write succeeds and
    // evicts no live entry because the free space is there, only fragmented.
    const path = tmp.path();
    const { survivors, deleted } = fragment(path);
    expectWriteWithoutEviction(path, 'big', BIG, survivors, deleted);
  });

  it.each(['compact:move', 'compact:unfinished', 'compact:move:2', 'compact:move:5'])(
    'keeps every surviving entry exact and no deleted entry resurrected when killed at %s',
    async (fault) => {
      const path = tmp.path();
      const { survivors, deleted } = fragment(path);
      await crashAt(path, fault, [writeBig]);
      await verifyAfterCrash(path, expectations(survivors, deleted));
    },
  );

  it('still leaves a repairable page when the process repairing a half-compacted page is killed at repair:partial', async () => {
    const path = tmp.path();
    const { survivors, deleted } = fragment(path);
    await crashAt(path, 'compact:move', [writeBig]);
    // The process that takes over the dead writer's page dies in the middle of repairing it...
    await crashAt(path, 'repair:partial', [{ method: 'set', args: ['z1', 'one'] }]);
    // ...and so does the next one, if the page still needs repairing when it gets there.
    await crashAt(path, 'repair:partial', [{ method: 'set', args: ['z2', 'two'] }], false);
    await verifyAfterCrash(
      path,
      expectations(survivors, deleted, [
        ['z1', [undefined, 'one']],
        ['z2', [undefined, 'two']],
      ]),
    );
  });

  // A write cut at write:partial past the log end leaves a consistent page (only the mid-change mark
  // is cleared, nothing is rebuilt); one cut after the item went live but before it was indexed
  // needs a rebuild, which is what this crashes in the middle of.
  it('still leaves a repairable page when the rebuild after a half-published write is killed at repair:partial', async () => {
    const path = tmp.path();
    const { survivors, deleted } = fragment(path);
    await crashAt(path, 'write:unpublished', [writeBig]);
    await crashAt(path, 'repair:partial', [{ method: 'set', args: ['z1', 'one'] }]);
    const { stats } = await verifyAfterCrash(path, expectations(survivors, deleted, [['z1', [undefined, 'one']]]));
    expect(stats.repairs).toBeGreaterThanOrEqual(1);
  });
});
