/**
 * The table of attached processes in the file header (bytes 512-3583): a thread listed by its
 * first handle and unlisted by its last close or its exit, a killed process reported dead until
 * an opener reclaims its listing, and listings whose words could mislead (pid 0, out of range, a
 * reused pid) reported dead without ever being signalled.
 */
import { describe, expect, it } from 'vitest';
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { SharedCache } from '../../src/index.js';
import { H_LISTINGS, H_LISTINGS_OFF, H_LISTING_SIZE, L_HANDLES_OFF, L_OWNER_OFF, L_PID_OFF, L_START_OFF } from '../../src/core/layout.js';
import { openChild, useChildCleanup } from '../helpers/child.js';
import { fixture } from '../helpers/paths.js';
import { useTmpDir } from '../helpers/tmp.js';

const GEO = { pageCount: 2, pageSize: 16384 } as const;

/** Writes one listing's words straight into the file (as damage or another program would). */
function writeListing(path: string, slot: number, words: { owner: number; pid: number; start?: number; handles?: number }): void {
  const b = Buffer.alloc(H_LISTING_SIZE);
  b.writeInt32LE(words.owner, L_OWNER_OFF);
  b.writeUInt32LE(words.pid, L_PID_OFF);
  b.writeDoubleLE(words.start ?? 0, L_START_OFF);
  b.writeUInt32LE(words.handles ?? 1, L_HANDLES_OFF);
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, b, 0, b.length, H_LISTINGS_OFF + slot * H_LISTING_SIZE);
  } finally {
    closeSync(fd);
  }
}

function table(path: string): Buffer {
  return readFileSync(path).subarray(H_LISTINGS_OFF, H_LISTINGS_OFF + H_LISTINGS * H_LISTING_SIZE);
}

describe('the attached processes of a file', () => {
  const tmp = useTmpDir();
  useChildCleanup();

  it('lists a thread once for all its handles, not a handle opened with listed: false, and empties the table when the last closes', () => {
    const path = tmp.path();
    const a = SharedCache.create(path, GEO);
    const b = SharedCache.open(path);
    const quiet = SharedCache.open(path, { listed: false });
    try {
      const p = quiet.stats().processes;
      expect(p).toMatchObject({ alive: 1, dead: 0, full: false });
      expect(p.list).toEqual([{ pid: process.pid, thread: 0, attachedAt: expect.any(Number), handles: 2, alive: true }]);
      expect(p.list[0].attachedAt).toBeGreaterThan(0);
      a.close();
      expect(quiet.stats().processes.list).toMatchObject([{ pid: process.pid, handles: 1 }]);
    } finally {
      a.close();
      b.close();
    }
    expect(quiet.stats().processes).toEqual({ alive: 0, dead: 0, list: [], full: false });
    quiet.close();
    expect(table(path).every((x) => x === 0), 'the table is zero again').toBe(true);
  });

  it('counts other processes, unlists one that closes or exits, reports a killed one dead until an opener reclaims it', async () => {
    const path = tmp.path();
    const mine = SharedCache.create(path, GEO);
    try {
      const [c1, c2, c3] = await Promise.all([openChild(path), openChild(path), openChild(path)]);
      const pids = [c1, c2, c3].map((c) => c.proc.pid!);
      let p = mine.stats().processes;
      expect(p.alive).toBe(4);
      expect(p.list.map((l) => l.pid).sort()).toEqual([process.pid, ...pids].sort());

      await c1.callOk('close');
      await c2.close(); // process.exit without closing its handle: the exit hook unlists it
      expect(mine.stats().processes.list.map((l) => l.pid).sort()).toEqual([process.pid, pids[2]].sort());

      await c3.kill9();
      p = mine.stats().processes;
      expect(p).toMatchObject({ alive: 1, dead: 1 });
      expect(p.list.find((l) => l.pid === pids[2])).toMatchObject({ alive: false, handles: 1 });

      // Looking reclaims nothing; the next open does.
      expect(mine.stats().processes.dead).toBe(1);
      SharedCache.open(path, { listed: false }).close();
      const other = SharedCache.open(path);
      other.close();
      p = mine.stats().processes;
      expect(p).toMatchObject({ alive: 1, dead: 0 });
      expect(p.list.map((l) => l.pid)).toEqual([process.pid]);
    } finally {
      mine.close();
    }
  });

  it('lists a worker thread by its tag, unlists it when it ends, and finds it dead when it is terminated', async () => {
    const path = tmp.path();
    const mine = SharedCache.create(path, GEO);
    const thread = (env: Record<string, string> = {}): Worker =>
      new Worker(pathToFileURL(fixture('thread-boot.mjs')), {
        workerData: { script: pathToFileURL(fixture('core/cache-thread.ts')).href, path, key: 'from-thread' },
        env: { ...process.env, ...env },
      });
    try {
      // A thread that opens, writes and ends without closing: its exit unlists it.
      const done = thread();
      await new Promise((r) => done.once('exit', r));
      expect(mine.get('from-thread')).toBe('from the thread');
      expect(mine.stats().processes.list.map((l) => l.thread)).toEqual([0]);

      // A thread spinning inside a lock is listed by its tag; terminated, it never runs its exit
      // and its listing is found dead.
      const hung = thread({ SESSMAP_FAULT: 'lock:held', SESSMAP_FAULT_ACTION: 'hang' });
      await new Promise((r) => hung.once('message', r));
      const tagged = mine.stats().processes.list.filter((l) => l.thread !== 0);
      expect(tagged).toMatchObject([{ pid: process.pid, handles: 1, alive: true }]);
      await hung.terminate();
      const p = mine.stats().processes;
      expect(p).toMatchObject({ alive: 1, dead: 0 }); // its process lives on
      expect(p.list.filter((l) => l.thread !== 0)).toMatchObject([{ pid: process.pid, alive: false }]);
      SharedCache.open(path).close();
      expect(mine.stats().processes.list.map((l) => l.thread)).toEqual([0]);
    } finally {
      mine.close();
    }
  });

  it('reports dead, never signalling them, listings whose words cannot be a live listing, and reclaims them', () => {
    const path = tmp.path();
    SharedCache.create(path, GEO).close();
    // An owner word without a thread id (pid 0 would ask about the whole process group), a pid out
    // of range, a live owner with the start time of another process (a reused pid), a dead pid.
    writeListing(path, 3, { owner: 1 << 22, pid: process.pid });
    writeListing(path, 4, { owner: process.pid, pid: 0xffffffff });
    writeListing(path, 5, { owner: process.ppid, pid: process.ppid, start: 1 });
    writeListing(path, 6, { owner: 4_000_000, pid: 4_000_000 });
    const quiet = SharedCache.open(path, { listed: false });
    try {
      const p = quiet.stats().processes;
      const procStat = (() => {
        try {
          return readFileSync(`/proc/${process.ppid}/stat`, 'latin1');
        } catch {
          return undefined;
        }
      })();
      const reused = procStat !== undefined; // without /proc, a start time cannot be compared
      expect(p.list.map((l) => l.alive)).toEqual([false, false, !reused, false]);
      expect(p.alive).toBe(reused ? 0 : 1);
      SharedCache.open(path).close();
      expect(quiet.stats().processes.list.filter((l) => !l.alive)).toEqual([]);
    } finally {
      quiet.close();
    }
  });

  it('leaves a handle unlisted when the table is full, and says so', () => {
    const path = tmp.path();
    SharedCache.create(path, GEO).close();
    // The parent of this test process is alive: listings of it stay.
    for (let k = 0; k < H_LISTINGS; k++) writeListing(path, k, { owner: process.ppid, pid: process.ppid });
    const c = SharedCache.open(path);
    try {
      const p = c.stats().processes;
      expect(p.full).toBe(true);
      expect(p.list).toHaveLength(H_LISTINGS);
      expect(p.list.some((l) => l.pid === process.pid)).toBe(false);
      expect(c.get('k')).toBeUndefined();
    } finally {
      c.close();
    }
  });
});
