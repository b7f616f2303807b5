/**
 * `sessmap resize`, the real command, on a file two processes keep updating: grown 4x, then
 * shrunk back, with progress lines on stderr (not a terminal) and the result on stdout / as JSON;
 * every session present and every increment counted at the end. A shrink the entries do not fit
 * is refused (SESSMAP_ERR_RESIZE_NO_ROOM, exit 2) with nothing changed; `sessmap stats` shows a
 * resize whose resizer was killed, and `sessmap resize` finishes it.
 */
import { describe, expect, it } from 'vitest';
import { SharedCache } from '../../src/index.js';
import { PAGES_OFF } from '../../src/core/layout.js';
import { Child, useChildCleanup } from '../helpers/child.js';
import { expectAllPagesClean } from '../helpers/geometry.js';
import { useTmpDir } from '../helpers/tmp.js';
import { sessmap, sessmapJson } from './harness.js';

const PAGE = 64 * 1024;

interface Done {
  counts: number[];
  missing: number;
  errors: string[];
  pageCount: number;
}

describe('sessmap resize', () => {
  const tmp = useTmpDir();
  useChildCleanup();

  it('grows a file two processes are updating 4x and shrinks it back, losing no session and no increment', async () => {
    const path = tmp.path('cli.smap');
    const cache = SharedCache.create<{ n: number }>(path, { size: PAGES_OFF + 60 * PAGE, pageSize: PAGE, serializer: 'structured' });
    const keys = Array.from({ length: 2000 }, (_, i) => `s:${i}`);
    for (const k of keys) cache.set(k, { n: 0 });
    cache.close();
    const workers = [0, 1].map((w) => new Child('core/resize-updater.ts', { args: [path, JSON.stringify(keys), String(w)] }));
    await Promise.all(workers.map((w) => w.nextMessage((m) => m?.type === 'ready')));
    for (const w of workers) w.send({ type: 'go' });

    const grow = await sessmap('resize', path, '--size', String(PAGES_OFF + 240 * PAGE), '--grace', '500');
    expect(grow.code, grow.stderr).toBe(0);
    expect(grow.stdout).toMatch(/60 pages -> 240 pages; 2,000 entries moved with 60 pages/);
    expect(grow.stderr).toMatch(/^resize: moving: 100% \(60\/60 pages\)$/m);
    const tooSmall = await sessmap('resize', path, '--size', String(PAGES_OFF + 2 * PAGE));
    expect(tooSmall.code).toBe(2);
    expect(tooSmall.stderr).toMatch(/^sessmap: SESSMAP_ERR_RESIZE_NO_ROOM: the 2000 live entries/);
    const shrink = await sessmapJson<{ to: { pageCount: number }; entriesMoved: number; resumed: boolean }>('resize', path, '--size', String(PAGES_OFF + 60 * PAGE), '--grace', '500', '-q');
    expect(shrink).toMatchObject({ to: { pageCount: 60 }, entriesMoved: 2000, resumed: false });

    for (const w of workers) w.send({ type: 'stop' });
    const done = await Promise.all(workers.map((w) => w.nextMessage<Done>((m) => m?.type === 'done', 60_000)));
    const after = SharedCache.open<{ n: number }>(path);
    for (const d of done) {
      expect(d.errors).toEqual([]);
      expect(d.missing).toBe(0);
      expect(d.pageCount).toBe(60);
    }
    for (const [i, k] of keys.entries()) expect(after.get(k)?.n, k).toBe(done[0].counts[i] + done[1].counts[i]);
    expectAllPagesClean(after);
    after.close();
  });

  it('shows a resize its resizer left under way, and finishes it', async () => {
    const path = tmp.path('stalled.smap');
    const cache = SharedCache.create(path, { size: PAGES_OFF + 8 * PAGE, pageSize: PAGE });
    for (let i = 0; i < 500; i++) cache.set(`k${i}`, { i });
    cache.close();
    const killed = new Child('core/resizer.ts', { args: [path, '32', '0'], fault: 'resize:copied', faultAction: 'kill' });
    expect(await killed.waitExit()).toEqual({ code: null, signal: 'SIGKILL' });
    const stats = await sessmap('stats', path);
    expect(stats.code).toBe(0);
    expect(stats.stdout).toMatch(/resize +8 pages -> 32: 0 of 8 moved, since .* \(its resizer is gone: sessmap resize FILE --size S finishes it\)/);
    const json = await sessmapJson<{ resize: { fromPages: number; toPages: number; resizerAlive: boolean } }>('stats', path);
    expect(json.resize).toMatchObject({ fromPages: 8, toPages: 32, resizerAlive: false });
    const r = await sessmap('resize', path, '--size', String(PAGES_OFF + 32 * PAGE), '--grace', '0');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/finished the resize a killed process had left under way/);
    const after = SharedCache.open(path);
    expect(after.geometry.pageCount).toBe(32);
    for (let i = 0; i < 500; i++) expect(after.get(`k${i}`)).toEqual({ i });
    after.close();
  });
});
