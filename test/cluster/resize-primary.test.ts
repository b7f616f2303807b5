/**
 * setupPrimary on an existing session file of another size: with `ifSizeDiffers: 'resize'` (the
 * default) the file is attached as it is and resized online while the primary starts and its
 * workers serve (sessions kept, the workers following the new layout by themselves); with
 * 'error' the primary refuses to start with SESSMAP_ERR_GEOMETRY_MISMATCH, the file untouched.
 * And the operator's way: `sessmap resize` on the file of a running cluster whose two workers
 * keep updating 1,000 sessions, grown 4x and shrunk back.
 */
import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PAGES_OFF } from '../../src/core/layout.js';
import { sessmap } from '../cli/harness.js';
import { eventually } from '../support/wait.js';
import { ClusterPrimary, useClusterSuite } from './harness.js';

describe('a primary whose maxSessions changed', () => {
  const suite = useClusterSuite();

  it("resizes the file online by default, keeping every session, and refuses with ifSizeDiffers: 'error'", async () => {
    const c1 = await suite.start({ maxSessions: 2000 });
    await c1.fork(2);
    const made = await c1.script<{ ids: string[]; errors: unknown[] }>(1, { name: 'createMany', count: 300, padBytes: 0 });
    expect(made.errors).toEqual([]);
    const ids = made.ids;
    const before = await c1.ok<{ pageCount: number; pageSize: number; fileSize: number }>({ cmd: 'stats' });
    await c1.shutdown();

    const c2 = await suite.start({ maxSessions: 8000 });
    await c2.fork(2);
    // Serving while the file is resized (or already after): every session there, in both workers.
    expect((await c2.whichExist(0, ids)).length).toBe(300);
    const after = await eventually('the file resized', async () => {
      const s = await c2.ok<{ pageCount: number; pageSize: number; fileSize: number; resize: unknown }>({ cmd: 'stats' });
      return s.resize === undefined && s.pageCount !== before.pageCount && s;
    }, { timeoutMs: 30_000, intervalMs: 100 });
    expect(after.pageSize).toBe(before.pageSize);
    expect(after.pageCount).toBeGreaterThan(before.pageCount * 3);
    expect((await c2.whichExist(0, ids)).length).toBe(300);
    expect((await c2.whichExist(1, ids)).length).toBe(300);
    const s = await c2.callOk<{ data: unknown }>(1, 'getSession', ids[7]);
    expect(s.data).toEqual({ i: 7, tag: '', pad: '' });
    const logs = await c2.logs();
    expect(logs.some((l) => l.includes('resizing it online'))).toBe(true);
    await eventually('the resize logged done', async () => (await c2.logs()).some((l) => l.includes('session file resized')), { timeoutMs: 15_000 });
    await c2.shutdown();

    // Back to the first size, refused: the file keeps its layout and sessions.
    const c3 = new ClusterPrimary({ setup: { path: suite.tmp.path('sessions.smap'), maxSessions: 2000, ifSizeDiffers: 'error' } });
    try {
      const m = await c3.child.nextMessage<{ ok: boolean; error?: { code?: string } }>((x) => x?.type === 'ready', 30_000);
      expect(m.ok).toBe(false);
      expect(m.error?.code).toBe('SESSMAP_ERR_GEOMETRY_MISMATCH');
    } finally {
      await c3.shutdown();
    }
    const c4 = await suite.start({ maxSessions: 8000 });
    expect((await c4.ok<{ pageCount: number }>({ cmd: 'stats' })).pageCount).toBe(after.pageCount);
    expect((await c4.whichExist('primary', ids)).length).toBe(300);
    expect(after.fileSize).toBeGreaterThanOrEqual(PAGES_OFF + after.pageCount * after.pageSize);
  });

  it('keeps every session and every increment of two workers updating 1,000 sessions while sessmap resize grows the file 4x and shrinks it back', async () => {
    const c = await suite.start({ size: '4m', pageSize: 65536 });
    await c.fork(2);
    const made = await c.script<{ ids: string[]; errors: unknown[] }>(0, { name: 'createMany', count: 1000, padBytes: 100 });
    expect(made.errors).toEqual([]);
    const ids = made.ids;
    const pages = (await c.ok<{ pageCount: number }>({ cmd: 'stats' })).pageCount;
    const stopFile = suite.tmp.path('stop');
    const loops = [0, 1].map((w) => c.script<{ counts: number[]; missing: number; errors: unknown[] }>(w, { name: 'incrementAllUntil', ids, field: 'n', stopFile }, 120_000));
    const sets = async (): Promise<number> => (await c.ok<{ sets: number }>({ cmd: 'stats' })).sets;
    await eventually('the workers to update', async () => (await sets()) > 2000, { timeoutMs: 30_000, intervalMs: 50 });
    const before = await sets();
    const grow = await sessmap('resize', c.path, '--size', '16m', '--grace', '500');
    expect(grow.code, grow.stderr).toBe(0);
    expect(grow.stdout).toMatch(new RegExp(`${pages} pages -> ${pages * 4 + 3} pages; 1,\\d{3} entries moved`));
    const mid = await c.ok<{ pageCount: number }>({ cmd: 'stats' });
    expect(mid.pageCount).toBe(pages * 4 + 3);
    const between = await sets();
    const shrink = await sessmap('resize', c.path, '--size', '4m', '--grace', '500');
    expect(shrink.code, shrink.stderr).toBe(0);
    const after = await sets();
    writeFileSync(stopFile, '');
    const done = await Promise.all(loops);
    // The workers went on updating through each resize.
    expect(between).toBeGreaterThan(before);
    expect(after).toBeGreaterThan(between);
    for (const d of done) {
      expect(d.errors).toEqual([]);
      expect(d.missing, 'updates that found no session').toBe(0);
    }
    expect(done[0].counts.reduce((a, b) => a + b, 0), 'updates by worker 0').toBeGreaterThan(1000);
    expect(done[1].counts.reduce((a, b) => a + b, 0), 'updates by worker 1').toBeGreaterThan(1000);
    for (const [i, id] of ids.entries()) {
      const rec = await c.callOk<{ data: { n?: number; i: number } }>(i % 2, 'getSession', id);
      expect(rec.data.n ?? 0, id).toBe(done[0].counts[i] + done[1].counts[i]);
    }
    expect((await c.ok<{ pageCount: number; resize: unknown }>({ cmd: 'stats' }))).toMatchObject({ pageCount: pages, resize: undefined });
  });
});
