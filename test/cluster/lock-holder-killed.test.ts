import { describe, expect, it } from 'vitest';
import { named, sessionId, sleep, useClusterSuite, type ClusterPrimary } from './harness.js';

/** A small file, so pages are shared; the sweeper effectively off, so the primary never waits on the held lock. */
const SETUP = { size: '1m', pageSize: '16k', sweepInterval: 600_000 };
const HANG = { SESSMAP_FAULT: 'lock:held', SESSMAP_FAULT_ACTION: 'hang' };
const increment = { kind: 'increment', field: 'n' };

/** Two ordinary workers (#0, #1) and one (#2) that hangs inside the page lock of `id`; resolves once it holds it. */
async function clusterWithHolder(c: ClusterPrimary, id: string): Promise<number> {
  await c.fork(2);
  const [holder] = await c.fork(1, {}, HANG);
  await c.callOk('primary', 'setSession', id, { n: 0 });
  void c.fire(2, 'updateSession', id, increment);
  await c.waitFault(2, 'lock:held');
  return holder.pid;
}

describe('a worker killed with SIGKILL while holding a page lock', () => {
  const suite = useClusterSuite();

  it('has its lock recovered by the primary, which emits lockRecovered once, and the other workers go on', async () => {
    const c = await suite.start(SETUP);
    const id = sessionId('locked');
    const holderPid = await clusterWithHolder(c, id);
    const info = await c.ok<{ pid: number }>({ cmd: 'info' });

    expect(await c.kill9(2)).toEqual({ code: null, signal: 'SIGKILL' });
    const evs = await c.waitForEvents('workerDetached and lockRecovered for the killed worker', (e) =>
      named(e, 'workerDetached').some((d) => d.workerPid === holderPid) && named(e, 'lockRecovered').length > 0,
    );

    const [recovered] = named(evs, 'lockRecovered');
    expect(recovered.deadPid).toBe(holderPid);
    expect(recovered.pid, 'recovered in the primary').toBe(info.pid);
    expect(Number.isInteger(recovered.page) && recovered.page >= 0).toBe(true);
    const detached = named(evs, 'workerDetached').find((d) => d.workerPid === holderPid);
    expect(detached).toMatchObject({ signal: 'SIGKILL', code: null, locksRecovered: 1 });

    // The others use the same session (and page) normally; the killed update changed nothing.
    const loops = await Promise.all([0, 1].map((w) => c.script(w, { name: 'incrementLoop', id, times: 50, field: 'n' })));
    for (const r of loops) expect(r.errors).toEqual([]);
    expect((await c.callOk(0, 'getSession', id)).data).toEqual({ n: 100 });

    await sleep(300);
    expect(named(await c.events(), 'lockRecovered'), 'lockRecovered emitted once cluster-wide').toHaveLength(1);
  });

  it('lets workers already waiting for the lock through once the holder is killed, with lockRecovered once', async () => {
    const c = await suite.start(SETUP);
    const id = sessionId('waited');
    const holderPid = await clusterWithHolder(c, id);

    let settled = 0;
    const waiting = [0, 1].map((w) =>
      c.fire(w, 'updateSession', id, increment).then((r) => {
        settled++;
        return r;
      }),
    );
    // A pause so both are spinning on the lock (not a timing assertion).
    await sleep(150);
    expect(settled, 'a worker got past a lock held by a live process').toBe(0);
    await c.kill9(2);

    const results = await Promise.all(waiting);
    for (const r of results) expect(r).toMatchObject({ ok: true });
    expect(results.map((r) => (r.ok ? r.value.data.n : -1)).sort()).toEqual([1, 2]);
    expect((await c.callOk('primary', 'getSession', id)).data).toEqual({ n: 2 });

    const evs = await c.waitForEvents('lockRecovered', (e) =>
      named(e, 'lockRecovered').length > 0 && named(e, 'workerDetached').some((d) => d.workerPid === holderPid),
    );
    await sleep(300);
    const recovered = named(await c.events(), 'lockRecovered');
    expect(recovered, 'lockRecovered emitted once cluster-wide').toHaveLength(1);
    expect(recovered[0].deadPid).toBe(holderPid);
    expect(named(evs, 'workerDetached').find((d) => d.workerPid === holderPid)).toMatchObject({ signal: 'SIGKILL' });
  });
});
