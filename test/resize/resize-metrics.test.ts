/**
 * The metrics across a resize: `sessmap_resize_pages` shows a resize under way (here one whose
 * resizer was killed: total stays, moved does not grow) and is 0 once it is finished; the
 * file's counters never go down across it (a moved page's counters are carried to the new
 * layout), and the sessions gauge holds the same count.
 */
import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { SharedCache } from '../../src/index.js';
import { PAGES_OFF } from '../../src/core/layout.js';
import { registerMetrics } from '../../src/metrics/index.js';
import { Child, useChildCleanup } from '../helpers/child.js';
import { parsePromText } from '../support/scrape.js';
import { useTmpDir } from '../helpers/tmp.js';

const PAGE = 64 * 1024;
const COUNTERS = ['sessmap_sets_total', 'sessmap_hits_total', 'sessmap_misses_total', 'sessmap_lock_waits_total', 'sessmap_lock_recoveries_total'];

describe('metrics across a resize', () => {
  const tmp = useTmpDir();
  useChildCleanup();

  it('show a resize under way, and keep every counter from going down', async () => {
    const path = tmp.path('metrics.smap');
    const cache = SharedCache.create(path, { size: PAGES_OFF + 8 * PAGE, pageSize: PAGE });
    for (let i = 0; i < 600; i++) cache.set(`k${i}`, { i });
    for (let i = 0; i < 600; i += 3) cache.get(`k${i}`);
    for (let i = 0; i < 50; i++) cache.get(`none${i}`);
    cache.close();
    const registry = new Registry();
    const handle = registerMetrics({ register: registry, path });
    try {
      const before = parsePromText(await registry.metrics());
      expect(before.value('sessmap_resize_pages', { state: 'total' })).toBe(0);
      expect(before.value('sessmap_sets_total')).toBe(600);

      const killed = new Child('core/resizer.ts', { args: [path, '24', '0'], fault: 'resize:copied:3', faultAction: 'kill' });
      expect(await killed.waitExit()).toEqual({ code: null, signal: 'SIGKILL' });
      const stalled = parsePromText(await registry.metrics());
      expect(stalled.value('sessmap_resize_pages', { state: 'total' })).toBe(8);
      expect(stalled.value('sessmap_resize_pages', { state: 'moved' })).toBe(2);
      expect(stalled.value('sessmap_sessions')).toBe(600);
      for (const name of COUNTERS) expect(stalled.value(name), name).toBeGreaterThanOrEqual(before.value(name)!);

      const again = SharedCache.open(path);
      await again.resize({ pageCount: 24, graceMs: 0 });
      again.close();
      const after = parsePromText(await registry.metrics());
      expect(after.value('sessmap_resize_pages', { state: 'total' })).toBe(0);
      expect(after.value('sessmap_resize_pages', { state: 'moved' })).toBe(0);
      expect(after.value('sessmap_sessions')).toBe(600);
      for (const name of COUNTERS) expect(after.value(name), name).toBeGreaterThanOrEqual(before.value(name)!);
      expect(after.value('sessmap_sets_total')).toBe(600);
    } finally {
      handle.unregister();
    }
  });
});
