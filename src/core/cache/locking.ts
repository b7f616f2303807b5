/**
 * Page locking, for a handle: taking a page's lock (a compareExchange of the owner id; a
 * bounded spin, then sleeps, with a liveness check of the holder that takes a dead holder's
 * lock over), validating a page the first time this handle touches it or when a holder left it
 * mid-change (repairing it if needed), and the supervisors' recoveries of dead owners' locks.
 * See docs/file-format.md, "Locks".
 */
import { sessmapError } from '../../errors.js';
import type { Segment } from '../file.js';
import {
  H_LAYOUT_GEN_IDX, P_MOVED_IDX, P_COMPACT_IDX, P_DIRTY_IDX, P_FAST_HITS_IDX, P_HITS_IDX, P_LOCK_IDX, P_LOCK_RECOVERIES_IDX, P_LOCK_WAITS_IDX, P_MISSES_IDX,
  beginChange, endChange,
} from '../layout.js';
import { OWNER_ID, THREAD_OWNERS, held, isOwnerAlive, ownerIdOf, ownerPid, ownerTag, sleep, threadTag } from '../lock.js';
import { validateInt } from '../options.js';
import { checkPage, repairPage, type RepairResult } from '../page/repair.js';
import type { Handle } from './handle.js';

/** A waiter spins this long (ms) before its first sleep: holders keep a lock for microseconds. */
const SPIN_MS = 0.02;
/** Lock attempts between two looks at the clock. */
const SPINS = 64;

/**
 * Takes page `p`'s lock (page base `b` in mapping `s`), moves the lock-free read counts into
 * the page's counters and, with `validate`, checks the page when it needs it.
 */
export function lock(h: Handle, p: number, s: Segment, b: number, validate = true): void {
  const idx = (b >> 2) + P_LOCK_IDX;
  if (Atomics.compareExchange(s.i32, idx, 0, OWNER_ID) !== 0) lockSlow(h, p, s, b, idx);
  held.count++;
  const fh = (b >> 2) + P_FAST_HITS_IDX;
  if (s.i32[fh] !== 0 || s.i32[fh + 1] !== 0) {
    s.f64[(b >> 3) + P_HITS_IDX] += Atomics.exchange(s.i32, fh, 0) >>> 0;
    s.f64[(b >> 3) + P_MISSES_IDX] += Atomics.exchange(s.i32, fh + 1, 0) >>> 0;
  }
  if (!validate) return;
  if (h.validated[p] === 0 || (s.i32[(b >> 2) + P_DIRTY_IDX] & 1) !== 0 || s.u32[(b >> 2) + P_COMPACT_IDX] !== 0) {
    try {
      repair(h, p, s, b);
    } catch (err) {
      unlock(s, b);
      throw err;
    }
  }
}

/**
 * Takes the lock of the located key's page (h.keys: page, seg, base), following a resize: when
 * that page is moved (resize.ts), the key is pointed at its page in the new layout and that page
 * is locked instead. False, with no lock held, when this handle's layout is gone (a resize
 * published another since the operation began): the caller enters again and locates the key
 * again. A moved mark on a page of the layout this handle still follows is damage: repaired.
 */
export function lockKey(h: Handle): boolean {
  const k = h.keys;
  lock(h, k.page, k.seg, k.base);
  if (k.seg.u32[(k.base >> 2) + P_MOVED_IDX] === 0) return true;
  unlock(k.seg, k.base);
  if (k.toTarget()) {
    lock(h, k.page, k.seg, k.base);
    if (k.seg.u32[(k.base >> 2) + P_MOVED_IDX] === 0) return true;
    unlock(k.seg, k.base);
  }
  if (h.header.u32[H_LAYOUT_GEN_IDX] !== h.layoutGen) return false;
  // The layout is the one this handle follows, yet its page says moved: the page is checked.
  h.validated[k.page] = 0;
  lock(h, k.page, k.seg, k.base);
  return true;
}

export function unlock(s: Segment, b: number): void {
  held.count--;
  Atomics.store(s.i32, (b >> 2) + P_LOCK_IDX, 0);
}

/** Runs `fn` on page `p` under its lock, then hands queued events to the hooks. */
export function withPageLock<R>(h: Handle, p: number, fn: (s: Segment, b: number) => R, validate = true): R {
  const pages = h.pages;
  const s = pages.segs[pages.segOf[p]];
  const b = pages.baseOf[p];
  lock(h, p, s, b, validate);
  try {
    return fn(s, b);
  } finally {
    unlock(s, b);
    h.hooks.maybeFlush();
  }
}

/** Runs `fn` with the page marked mid-change (lock held); rebuilds the page if `fn` fails half-way. */
export function changing<R>(h: Handle, p: number, s: Segment, b: number, fn: () => R): R {
  beginChange(s.i32, b);
  try {
    const r = fn();
    endChange(s.i32, b);
    return r;
  } catch (err) {
    repair(h, p, s, b);
    throw err;
  }
}

/** Checks the page and rebuilds it if needed (lock held); returns what was wrong and what was dropped. */
export function repair(h: Handle, p: number, s: Segment, b: number): RepairResult {
  const r = repairPage(h.pages, p, s, b, h.maxKeyBytes);
  h.validated[p] = 1;
  h.hooks.checked(p, r);
  return r;
}

/** Page `p`'s problems ([]: sound), checked under its lock without changing the page. */
export function checkLocked(h: Handle, p: number): string[] {
  return withPageLock(h, p, (s, b) => checkPage(h.pages, s, b, h.maxKeyBytes), false);
}

/** See SharedCache.verifyPage. */
export function verifyPage(h: Handle, p: number): string[] {
  h.enter();
  validateInt('page', p, 0, h.pages.pageCount - 1);
  return checkLocked(h, p);
}

/** See SharedCache.repairPage. */
export function repairPageNow(h: Handle, p: number): RepairResult {
  h.enter();
  validateInt('page', p, 0, h.pages.pageCount - 1);
  return withPageLock(h, p, (s, b) => repair(h, p, s, b), false);
}

/** The owner id in page `p`'s lock word (0: free). */
export function lockWord(h: Handle, p: number): number {
  const pages = h.pages;
  return Atomics.load(pages.segs[pages.segOf[p]].i32, (pages.baseOf[p] >> 2) + P_LOCK_IDX);
}

/** True when the page can be locked without waiting (free, or held by a dead process). */
export function lockIsFree(h: Handle, p: number): boolean {
  const owner = lockWord(h, p);
  return owner === 0 || !isOwnerAlive(owner);
}

/** See SharedCache.recoverDeadOwners. */
export function recoverDeadOwners(h: Handle): number {
  return recoverWhere(h, (owner) => !isOwnerAlive(owner));
}

/** See SharedCache.recoverOwnerPid. */
export function recoverOwnerPid(h: Handle, pid: number): number {
  if (pid === process.pid) return 0;
  return recoverWhere(h, (owner) => ownerPid(owner) === pid || !isOwnerAlive(owner));
}

/** See SharedCache.recoverThread. */
export function recoverThread(h: Handle, threadId: number): number {
  if (threadTag(threadId) === ownerTag(OWNER_ID)) return 0;
  if (THREAD_OWNERS) return recoverWhere(h, (o) => ownerTag(o) === threadTag(threadId) && !isOwnerAlive(o));
  const owner = ownerIdOf(process.pid, threadId);
  return recoverWhere(h, (o) => o === owner);
}

/**
 * Waits for a lock another owner holds: spins for SPIN_MS, then sleeps in growing steps (from
 * 5 us, at most 50 us for the first 50 ms, then up to 1 ms), checking every 5 ms from 1 ms on
 * whether the holder is alive and taking a dead holder's lock over. Past lockTimeout with a
 * live holder: SESSMAP_ERR_LOCK_TIMEOUT.
 */
function lockSlow(h: Handle, p: number, s: Segment, b: number, idx: number): void {
  const i32 = s.i32;
  const start = performance.now();
  let nextCheck = start + 1;
  let pause = 0.005;
  for (;;) {
    for (let spin = 0; spin < SPINS; spin++) {
      if (Atomics.load(i32, idx) === 0 && Atomics.compareExchange(i32, idx, 0, OWNER_ID) === 0) {
        s.f64[(b >> 3) + P_LOCK_WAITS_IDX]++;
        return;
      }
    }
    const now = performance.now();
    // The shortest sleep lasts ~50 us (the kernel's timer slack): spin before the first one.
    if (now - start < SPIN_MS) continue;
    const owner = Atomics.load(i32, idx);
    if (owner !== 0 && now >= nextCheck) {
      nextCheck = now + 5;
      if (!isOwnerAlive(owner) && Atomics.compareExchange(i32, idx, owner, OWNER_ID) === owner) {
        recovered(h, p, s, b, owner);
        return;
      }
    }
    if (now - start >= h.lockTimeout) {
      throw sessmapError('SESSMAP_ERR_LOCK_TIMEOUT', `page ${p} of ${h.path} stayed locked for ${h.lockTimeout} ms by live ${THREAD_OWNERS ? 'thread' : 'process'} ${ownerPid(owner)}`, { page: p, owner, pid: ownerPid(owner), lockTimeout: h.lockTimeout });
    }
    // Holders keep a lock for microseconds: wake often at first; back off to 1 ms only for a
    // holder that is stuck (or dead, until the liveness check finds out).
    sleep(pause);
    pause = Math.min(pause * 2, now - start < 50 ? 0.05 : 1);
  }
}

/** The lock of dead `owner` was taken over: count it, have the page checked, tell the hook. */
function recovered(h: Handle, p: number, s: Segment, b: number, owner: number): void {
  s.f64[(b >> 3) + P_LOCK_RECOVERIES_IDX]++;
  s.f64[(b >> 3) + P_LOCK_WAITS_IDX]++;
  h.validated[p] = 0; // the dead owner may have been mid-change: check before use
  h.hooks.lockRecovered(p, owner, ownerPid(owner));
}

/** Takes over and repairs every page lock whose owner `match`es; returns how many. */
function recoverWhere(h: Handle, match: (owner: number) => boolean): number {
  h.enter();
  const pages = h.pages;
  let n = 0;
  for (let p = 0; p < pages.pageCount; p++) {
    const s = pages.segs[pages.segOf[p]];
    const b = pages.baseOf[p];
    const idx = (b >> 2) + P_LOCK_IDX;
    const owner = Atomics.load(s.i32, idx);
    if (owner === 0 || !match(owner) || Atomics.compareExchange(s.i32, idx, owner, OWNER_ID) !== owner) continue;
    recovered(h, p, s, b, owner);
    held.count++;
    try {
      repair(h, p, s, b);
    } finally {
      unlock(s, b);
    }
    n++;
  }
  h.hooks.maybeFlush();
  return n;
}
