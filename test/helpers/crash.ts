/**
 * Shared steps of the crash tests: run one operation in a child that SIGKILLs itself at a
 * fault point, then check what a fresh handle (and a fresh process) reads.
 */
import { expect } from 'vitest';
import { SharedCache } from '../../src/index.js';
import type { RemovalEvent } from '../../src/core/types.js';
import { CacheChild, openChild, type CallSpec } from './child.js';
import { pageProblems } from './geometry.js';

export const RECOVERY_LOCK_TIMEOUT = 10_000;

/**
 * Runs `calls` in a fresh child with `fault` (kill action). When `required` (the default) the
 * fault must fire: the child must die by SIGKILL; if the calls complete instead, the test fails
 * at once. Returns whether the fault fired (the child is shut down when it did not).
 */
export async function crashAt(path: string, fault: string, calls: CallSpec[], required = true): Promise<boolean> {
  const child = await openChild(path, { lockTimeout: RECOVERY_LOCK_TIMEOUT }, { fault, faultAction: 'kill' });
  const results = child.fireBatch(calls);
  const first = await Promise.race([
    child.exited.then((exit) => ({ exit, results: undefined })),
    results.then((r) => ({ exit: undefined, results: r })).catch(() => child.exited.then((exit) => ({ exit, results: undefined }))),
  ]);
  if (first.exit !== undefined) {
    expect(first.exit, `the child died of something other than the fault\n${child.stderr}`).toEqual({ code: null, signal: 'SIGKILL' });
    return true;
  }
  await child.close();
  if (required) {
    expect.fail(`fault point ${fault} was never reached: the calls completed with ${JSON.stringify(first.results)?.slice(0, 300)}`);
  }
  for (const r of first.results ?? []) expect(r, 'a call failed in a child whose fault did not fire').toMatchObject({ ok: true });
  return false;
}

/** What a key may read after the crash: one of these exact values (undefined = absent). */
export type Allowed = readonly unknown[];

export interface Expectations {
  /** Keys that must read exactly this value (undefined = must be absent). */
  exact: Map<string, unknown>;
  /** Keys that may read any one of several values. */
  oneOf: Map<string, Allowed>;
  /** Keys that must read their value or be absent (evicted); at most `maxMissing` of them absent. */
  exactOrMissing?: { values: Map<string, unknown>; maxMissing: number };
}

function readAll(read: (k: string) => unknown, e: Expectations): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const k of e.exact.keys()) out.set(k, read(k));
  for (const k of e.oneOf.keys()) out.set(k, read(k));
  for (const k of e.exactOrMissing?.values.keys() ?? []) out.set(k, read(k));
  return out;
}

function check(label: string, got: Map<string, unknown>, e: Expectations): void {
  for (const [k, v] of e.exact) expect(got.get(k), `${label}: ${k}`).toEqual(v);
  for (const [k, allowed] of e.oneOf) {
    const g = got.get(k);
    const ok = allowed.some((a) => JSON.stringify(a) === JSON.stringify(g));
    expect(ok, `${label}: ${k} read ${JSON.stringify(g)?.slice(0, 120)}, allowed ${allowed.map((a) => JSON.stringify(a)?.slice(0, 60)).join(' | ')}`).toBe(true);
  }
  if (e.exactOrMissing) {
    let missing = 0;
    for (const [k, v] of e.exactOrMissing.values) {
      const g = got.get(k);
      if (g === undefined) missing++;
      else expect(g, `${label}: ${k}`).toEqual(v);
    }
    expect(missing, `${label}: entries missing`).toBeLessThanOrEqual(e.exactOrMissing.maxMissing);
  }
}

/**
 * After a crash: reads through a fresh handle, writes to force the page through recovery, reads
 * again (values must not change between the two reads), checks every page, and has a fresh
 * process read the same values. Returns the repaired events seen and the stats.
 */
export async function verifyAfterCrash(path: string, e: Expectations): Promise<{ events: RemovalEvent[]; stats: ReturnType<SharedCache['stats']> }> {
  const events: RemovalEvent[] = [];
  const d = SharedCache.open(path, { lockTimeout: RECOVERY_LOCK_TIMEOUT, onRemove: (ev) => events.push(ev) });
  try {
    const first = readAll((k) => d.get(k), e);
    check('first read after the crash', first, e);

    // A write forces the page through lock recovery and repair, whatever reads did.
    const mark = events.length;
    d.set('__after_crash__', 'ok');
    expect(d.get('__after_crash__')).toBe('ok');
    expect(d.delete('__after_crash__')).toBe(true);
    // That write may itself evict an entry from a full page: such keys may read as absent now.
    const evictedNow = new Set(events.slice(mark).filter((ev) => ev.reason === 'evicted').map((ev) => ev.key));

    const second = readAll((k) => d.get(k), e);
    const relaxed: Expectations = {
      exact: new Map([...e.exact].map(([k, v]) => [k, evictedNow.has(k) ? undefined : v])),
      oneOf: new Map([...e.oneOf].map(([k, a]) => [k, evictedNow.has(k) ? [undefined] : a])),
      exactOrMissing: e.exactOrMissing && { values: e.exactOrMissing.values, maxMissing: e.exactOrMissing.maxMissing + evictedNow.size },
    };
    check('read after a write', second, relaxed);
    for (const [k, v] of first) {
      if (!evictedNow.has(k)) expect(second.get(k), `${k} changed between two reads`).toEqual(v);
    }

    expect(pageProblems(d)).toEqual({});
    const stats = d.stats();
    expect(stats.lockRecoveries, 'the dead writer\'s lock was recovered').toBeGreaterThanOrEqual(1);
    for (const ev of events) expect(['repaired', 'deleted', 'evicted', 'expired']).toContain(ev.reason);

    // A fresh process sees exactly the same.
    const other: CacheChild = await openChild(path, { lockTimeout: RECOVERY_LOCK_TIMEOUT });
    for (const [k, v] of second) expect(await other.callOk('get', k), `fresh process: ${k}`).toEqual(v);
    expect(await other.callOk('checkAllPages')).toEqual({});
    await other.close();
    return { events, stats };
  } finally {
    d.close();
  }
}
