import { describe, expect, it } from 'vitest';
import { SharedCache } from '../../src/index.js';
import type { RemovalEvent } from '../../src/core/types.js';
import { useChildCleanup, type CallSpec, type UpdateSpec } from '../helpers/child.js';
import { crashAt, verifyAfterCrash } from '../helpers/crash.js';
import { ONE_PAGE, expectAllPagesClean } from '../helpers/geometry.js';
import { useTmpDir } from '../helpers/tmp.js';

const WRITE_POINTS = ['write:partial', 'write:unpublished', 'write:published'] as const;

const OLD = { v: 'old', pad: 'o'.repeat(300) };
const NEW = { v: 'new', pad: 'n'.repeat(2000) };

/** Twenty neighbours in the same page, which must come through every crash untouched. */
function populate(cache: SharedCache): Map<string, unknown> {
  const others = new Map<string, unknown>();
  for (let i = 0; i < 20; i++) {
    const v = { i, s: `neighbour-${i}-`.repeat(3 + i) };
    cache.set(`other-${i}`, v);
    others.set(`other-${i}`, v);
  }
  return others;
}

type Scenario = 'overwrite' | 'new key' | 'update';

function scenario(kind: Scenario): { setup: (c: SharedCache) => void; call: CallSpec; key: string; allowed: unknown[] } {
  switch (kind) {
    case 'overwrite':
      return { setup: (c) => c.set('target', OLD), call: { method: 'set', args: ['target', NEW] }, key: 'target', allowed: [OLD, NEW] };
    case 'new key':
      return { setup: () => undefined, call: { method: 'set', args: ['target', NEW] }, key: 'target', allowed: [undefined, NEW] };
    case 'update': {
      const inc: UpdateSpec = { kind: 'increment' };
      return { setup: (c) => c.set('target', 41), call: { method: 'update', args: ['target', inc] }, key: 'target', allowed: [41, 42] };
    }
  }
}

describe('a writer killed with SIGKILL in the middle of a write', () => {
  const tmp = useTmpDir();
  useChildCleanup();

  for (const point of WRITE_POINTS) {
    // write:published is the moment between publishing the new item and retiring the old one:
    // it exists only when there is an old one.
    const kinds = point === 'write:published' ? (['overwrite', 'update'] as const) : (['overwrite', 'new key', 'update'] as const);
    for (const kind of kinds) {
      it(`leaves the key old-or-new and every other entry intact when killed at ${point} (${kind})`, async () => {
        const path = tmp.path();
        const cache = SharedCache.create(path, { ...ONE_PAGE });
        const s = scenario(kind);
        s.setup(cache);
        const others = populate(cache);
        cache.close();

        await crashAt(path, point, [s.call]);
        await verifyAfterCrash(path, { exact: others, oneOf: new Map([[s.key, s.allowed]]) });
      });
    }
  }

  it.each(WRITE_POINTS)('lets a handle that was open (and had checked the page) before the crash read correctly after a kill at %s', async (point) => {
    const path = tmp.path();
    const cache = SharedCache.create(path, { ...ONE_PAGE, lockTimeout: 10_000 });
    try {
      cache.set('target', OLD);
      const others = populate(cache);
      for (const [k, v] of others) expect(cache.get(k)).toEqual(v);

      await crashAt(path, point, [{ method: 'set', args: ['target', NEW] }]);
      const got = cache.get('target');
      expect([OLD, NEW], JSON.stringify(got)?.slice(0, 80)).toContainEqual(got);
      for (const [k, v] of others) expect(cache.get(k), k).toEqual(v);
      cache.set('after', 1);
      expect(cache.get('after')).toBe(1);
      expect(cache.get('target')).toEqual(got);
      expect(cache.stats().lockRecoveries).toBeGreaterThanOrEqual(1);
      expectAllPagesClean(cache);
    } finally {
      cache.close();
    }
  });

  it('loses nothing that was written before the killed write when killed at lock:held', async () => {
    const path = tmp.path();
    const cache = SharedCache.create(path, { ...ONE_PAGE });
    cache.set('target', OLD);
    const others = populate(cache);
    cache.close();
    await crashAt(path, 'lock:held', [{ method: 'set', args: ['target', NEW] }]);
    await verifyAfterCrash(path, { exact: new Map([...others, ['target', OLD]]), oneOf: new Map() });
  });

  it.each(['write:partial:3', 'write:unpublished:3', 'write:published:3'])(
    'keeps the writes that returned before the crash when killed at %s',
    async (fault) => {
      const path = tmp.path();
      const cache = SharedCache.create(path, { ...ONE_PAGE });
      for (const k of ['a', 'b', 'c', 'd']) cache.set(k, `${k}-old`);
      const others = populate(cache);
      cache.close();

      await crashAt(path, fault, ['a', 'b', 'c', 'd'].map((k) => ({ method: 'set', args: [k, `${k}-new-${'x'.repeat(500)}`] })));
      await verifyAfterCrash(path, {
        exact: new Map<string, unknown>([...others, ['a', `a-new-${'x'.repeat(500)}`], ['b', `b-new-${'x'.repeat(500)}`], ['d', 'd-old']]),
        oneOf: new Map([['c', ['c-old', `c-new-${'x'.repeat(500)}`]]]),
      });
    },
  );

  it('leaves a consistent page when killed at evict:partial, evicting only what the write needed', async () => {
    const path = tmp.path();
    const events: RemovalEvent[] = [];
    const cache = SharedCache.create(path, { ...ONE_PAGE, onRemove: (e) => events.push(e) });
    cache.set('target', OLD);
    // Fill the page with ~1 KB entries until the first eviction: the page is then full.
    const live = new Map<string, unknown>();
    for (let i = 0; events.length === 0; i++) {
      expect(i, 'the page never filled up').toBeLessThan(1000);
      const v = `fill-${i}-${'f'.repeat(1000)}`;
      cache.set(`fill-${i}`, v);
      live.set(`fill-${i}`, v);
      cache.get('target'); // keep the target most recently used
    }
    for (const e of events) live.delete(e.key);
    expect(live.has('target')).toBe(false);
    cache.close();

    // A 6 KB value needs about six 1 KB entries evicted.
    const big = { v: 'new', pad: 'N'.repeat(6000) };
    await crashAt(path, 'evict:partial', [{ method: 'set', args: ['target', big] }]);
    await verifyAfterCrash(path, {
      exact: new Map(),
      oneOf: new Map([['target', [OLD, big]]]),
      exactOrMissing: { values: live, maxMissing: 12 },
    });
  });
});
