import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { attachWorker } from '../../src/index.js';
import { isSessmapError } from '../../src/errors.js';
import { named, useClusterSuite } from './harness.js';

describe('the primary and its workers', () => {
  const suite = useClusterSuite();

  it('hands its file to the workers it forks and reports each attach and detach once', async () => {
    const path = suite.tmp.path('lifecycle.smap');
    const c = await suite.start({ path });
    expect(c.path).toBe(path);
    expect(existsSync(path)).toBe(true);
    const workers = await c.fork(2);

    const attached = named(
      await c.waitForEvents('two workerAttached events', (e) => named(e, 'workerAttached').length >= 2),
      'workerAttached',
    );
    expect(attached.map((e) => e.workerPid).sort()).toEqual(workers.map((w) => w.pid).sort());
    expect(attached.map((e) => e.workerId).sort()).toEqual(workers.map((w) => w.workerId).sort());

    // A session written through the primary's own store is read by the workers (same file).
    const rec = await c.callOk('primary', 'createSession', { from: 'primary' });
    expect((await c.callOk(1, 'getSession', rec.id))?.data).toEqual({ from: 'primary' });

    expect(await c.ok({ cmd: 'closeWorker', target: 0 })).toEqual({ code: 0, signal: null });
    await c.kill9(1);
    const evs = await c.waitForEvents('two workerDetached events', (e) => named(e, 'workerDetached').length >= 2);
    const detached = named(evs, 'workerDetached');
    expect(detached).toHaveLength(2);
    expect(detached.find((e) => e.workerPid === workers[0].pid)).toMatchObject({ code: 0, signal: null, locksRecovered: 0 });
    expect(detached.find((e) => e.workerPid === workers[1].pid)).toMatchObject({ signal: 'SIGKILL', locksRecovered: 0 });
    expect(named(evs, 'workerAttached')).toHaveLength(2);

    const info = (await c.logs()).map((l) => JSON.parse(l)).filter((l) => l.level === 30);
    expect(info.length, 'no lifecycle line at info').toBeGreaterThan(0);

    expect(await c.ok({ cmd: 'close', unlink: true })).toEqual({ exists: false });
  });

  it('refuses attachWorker outside a cluster worker when no primary set the service up and no path is given', async () => {
    const err = await attachWorker().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isSessmapError(err, 'SESSMAP_ERR_NO_PRIMARY'), String(err)).toBe(true);
  });
});
