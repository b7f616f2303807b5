/**
 * The page-at-a-time operations tools use on a file in use: inspectPage (every entry's metadata
 * with its last use, no values), verifyPage (the first-touch check, changing nothing),
 * repairPage (the check and the rebuild), purgeExpiredPages with `wait`.
 */
import { describe, expect, it } from 'vitest';
import { closeSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import { SharedCache } from '../../src/index.js';
import { ITEM_HEADER_SIZE, PAGES_OFF, P_FREE_OFF } from '../../src/core/layout.js';
import { dataStart } from '../../src/core/options.js';
import { manualClock } from '../helpers/clock.js';
import { lockHolder, useChildCleanup } from '../helpers/child.js';
import { expectCode } from '../helpers/errors.js';
import { ONE_PAGE } from '../helpers/geometry.js';
import { useTmpDir } from '../helpers/tmp.js';

describe('page-at-a-time tools', () => {
  const tmp = useTmpDir();
  useChildCleanup();

  it('inspectPage gives every live entry of a page with what inspect says, and its last use', () => {
    const clock = manualClock();
    const c = SharedCache.create(tmp.path(), { pageCount: 4, pageSize: 16384, clock: clock.fn });
    try {
      for (let i = 0; i < 60; i++) c.set(`k${i}`, 'v'.repeat(i), { ttl: i % 3 === 0 ? 1000 : 0, priority: i % 2 ? 'low' : 'high' });
      clock.advance(5000);
      expect(c.get('k1')).toBe('v');
      clock.advance(2000); // the entries with a TTL of 1 s have expired
      const all = new Map<string, unknown>();
      for (let p = 0; p < 4; p++) for (const [k, info] of c.inspectPage(p)) all.set(k, info);
      const live = [...c.keys()].sort();
      expect([...all.keys()].sort()).toEqual(live);
      expect(live).toHaveLength(40);
      for (const k of live) expect(all.get(k), k).toEqual(c.inspect(k));
      expect(all.get('k1')).toMatchObject({ lastUsed: clock.now() - 2000, size: 3, priority: 'low' });
      expect(all.get('k2')).toMatchObject({ lastUsed: clock.now() - 7000, createdAt: clock.now() - 7000 });
      expectCode(() => c.inspectPage(4), 'SESSMAP_ERR_INVALID_OPTION');
      expectCode(() => c.verifyPage(-1), 'SESSMAP_ERR_INVALID_OPTION');
    } finally {
      c.close();
    }
  });

  it('verifyPage finds a damaged item without changing a byte; repairPage rebuilds the page', () => {
    const path = tmp.path();
    const made = SharedCache.create(path, ONE_PAGE);
    for (let i = 0; i < 10; i++) made.set(`k${i}`, `value ${i}`);
    made.close();
    // Flip a byte of the first item's value: its checksum no longer holds.
    const fd = openSync(path, 'r+');
    try {
      const at = PAGES_OFF + dataStart(384) + ITEM_HEADER_SIZE + 2 + 1;
      const b = Buffer.alloc(1);
      readSync(fd, b, 0, 1, at);
      b[0] ^= 0x40;
      writeSync(fd, b, 0, 1, at);
      const end = Buffer.alloc(4);
      readSync(fd, end, 0, 4, PAGES_OFF + P_FREE_OFF);
      expect(end.readUInt32LE(0)).toBeGreaterThan(dataStart(384));
    } finally {
      closeSync(fd);
    }
    const c = SharedCache.open(path);
    const before = readFileSync(path);
    try {
      expect(c.verifyPage(0)).toEqual([`torn item at ${dataStart(384)}`]);
      expect(c.verifyPage(0)).toEqual([`torn item at ${dataStart(384)}`]);
      expect(readFileSync(path).equals(before), 'verifyPage changed the file').toBe(true);
      const r = c.repairPage(0);
      expect(r).toEqual({ page: 0, problems: [`torn item at ${dataStart(384)}`], dropped: 1 });
      expect(c.verifyPage(0)).toEqual([]);
      expect(c.repairPage(0)).toEqual({ page: 0, problems: [], dropped: 0 });
      expect([...c.keys()]).toHaveLength(9);
      expect(c.stats().repairs).toBe(1);
    } finally {
      c.close();
    }
  });

  it('purgeExpiredPages skips a page a live process holds, and with wait waits for it', async () => {
    const path = tmp.path();
    const cache = SharedCache.create(path, { ...ONE_PAGE, lockTimeout: 200 });
    try {
      cache.set('gone', 1);
      expect(cache.expireAt('gone', 1)).toBe(true);
      const holder = await lockHolder(path, 'k');
      expect(cache.purgeExpiredPages(0, 1)).toBe(0);
      expectCode(() => cache.purgeExpiredPages(0, 1, { wait: true }), 'SESSMAP_ERR_LOCK_TIMEOUT');
      await holder.kill9();
      expect(cache.purgeExpiredPages(0, 1, { wait: true })).toBe(1);
    } finally {
      cache.close();
    }
  });
});
