/**
 * Online resize: the file's pages move to a layout of another page count while every process
 * attached goes on reading and writing. One page of the old layout at a time, under its lock:
 * each entry is copied to its page in the new layout (under that page's lock), then the old page
 * is marked moved and emptied; from then on every operation on its keys goes to the new layout
 * (locking.ts, lockKey; read.ts). A key lives in exactly one place at any time: in its old page
 * until that page is marked, in its new page after. See docs/file-format.md, "Online resize".
 *
 * Crash safety: nothing is published until the new run of pages is allocated and laid out; the
 * resizer's lock is an owner id, so a killed resizer is seen dead and the next resize resumes
 * its work; the page being copied is journaled (H_RESIZE_PAGE), and copies a killed resizer
 * left of a page it had not marked are removed before the page is copied again; a page marked
 * moved is empty or, if the resizer died while emptying it, is emptied by repair (repair.ts).
 */
import fs from 'node:fs';
import { sessmapError } from '../../errors.js';
import type { Handle } from './handle.js';
import { lock, repair, unlock, withPageLock } from './locking.js';
import { FAULTS, fault } from '../faults.js';
import { openSecure, type Segment } from '../file.js';
import {
  EVICTED_TTL_BUCKETS, P_EVICTED_HIGH_IDX, P_EVICTED_TTL_IDX, P_REPAIRS_IDX, H_RESIZE_LOCK_IDX, H_RESIZE_MOVED_IDX, H_RESIZE_PAGE_IDX, ITEM_HEADER_SIZE, I_CREATED_OFF, I_EXPIRES_OFF, I_HASH_OFF, I_KEY_LEN_OFF,
  I_LEN_OFF, I_PRIORITY_OFF, I_TYPE_OFF, I_VERSION_OFF, PAGES_OFF, PAGE_MOVED, P_FREE_OFF, P_MOVED_IDX, P_SETS_IDX, beginChange, endChange,
} from '../layout.js';
import { OWNER_ID, isOwnerAlive, ownerPid } from '../lock.js';
import { loadBinding } from '../native.js';
import { MAX_PAGE_COUNT, parseSize, planSegments, validateFunction, validateInt } from '../options.js';
import { isExpired, isLive, removeItem, resetPage } from '../page/log.js';
import { PageDamaged, extentOf } from '../page/pages.js';
import { findSlot, slotOfItem, slotOffset, tickIdx } from '../page/slots.js';
import { storeEntry } from '../page/write.js';
import { checkFreeSpace, writeZeros } from '../space.js';
import type { ResizeOptions, ResizeProgress, ResizeResult, ResizeState } from '../types.js';
import { publishLayout, type Layout } from '../layout-record.js';

/** How long a run of pages left by a resize stays as it was before it is released or reused (ms). */
export const RETIRE_GRACE_MS = 5000;
/** The resizer lets its event loop run at least this often (ms). */
const YIELD_MS = 4;

/** Resizes the file `h` is attached to; see SharedCache.resize. */
export async function resizeFile(h: Handle, o: ResizeOptions = {}): Promise<ResizeResult> {
  h.enter();
  const began = Date.now();
  const pageSize = h.pages.pageSize;
  const want = wantedPages(o, pageSize);
  const grace = o.graceMs === undefined ? RETIRE_GRACE_MS : validateInt('graceMs', o.graceMs, 0, 3_600_000);
  const progress = o.onProgress === undefined ? undefined : validateFunction('onProgress', o.onProgress) as (p: ResizeProgress) => void;
  takeResizeLock(h);
  try {
    h.enter();
    const resumed = h.layout.moving;
    const from = h.layout.moving ? h.layout.toCount : h.layout.count;
    const fromSize = fileSizeOf(h);
    let pagesMoved = 0;
    let entriesMoved = 0;
    const run = async (): Promise<void> => {
      const r = await movePages(h, progress);
      pagesMoved += r.pages;
      entriesMoved += r.entries;
      finish(h);
    };
    // A resize a killed resizer left under way is finished first.
    if (h.layout.moving) await run();
    if (h.layout.count !== want) {
      await begin(h, want, grace);
      await run();
    }
    const releasedBytes = await releaseRun(h, grace, progress);
    return {
      resumed,
      from: { pageCount: from, fileSize: fromSize },
      to: { pageCount: h.layout.count, fileSize: fileSizeOf(h) },
      pagesMoved,
      entriesMoved,
      releasedBytes,
      ms: Date.now() - began,
    };
  } finally {
    Atomics.compareExchange(h.header.i32, H_RESIZE_LOCK_IDX, OWNER_ID, 0);
  }
}

/** The resize under way, if any (read without locks). */
export function resizeState(h: Handle): ResizeState | undefined {
  const l = h.layout;
  if (!l.moving) return undefined;
  const owner = Atomics.load(h.header.i32, H_RESIZE_LOCK_IDX);
  return { fromPages: l.count, toPages: l.toCount, movedPages: Atomics.load(h.header.u32, H_RESIZE_MOVED_IDX), startedAt: l.startedAt, pid: l.pid, resizerAlive: owner !== 0 && isOwnerAlive(owner) };
}

/** The file's length in use: the header, and every page slot up to the layout's end. */
function fileSizeOf(h: Handle): number {
  return PAGES_OFF + h.layout.slots * h.pages.pageSize;
}

/** The page count `size` (the most bytes the file may take, as at creation) or `pageCount` asks for. */
function wantedPages(o: ResizeOptions, pageSize: number): number {
  if ((o.size === undefined) === (o.pageCount === undefined)) {
    throw sessmapError('SESSMAP_ERR_INVALID_OPTION', 'resize takes one of size (the most bytes the file may take, e.g. "256m") and pageCount', { option: 'size' });
  }
  if (o.pageCount !== undefined) return validateInt('pageCount', o.pageCount, 1, MAX_PAGE_COUNT);
  const size = parseSize('size', o.size as number | string);
  const n = Math.max(0, Math.floor((size - PAGES_OFF) / pageSize));
  if (n < 1 || n > MAX_PAGE_COUNT) {
    throw sessmapError('SESSMAP_ERR_INVALID_OPTION', `size ${size} holds ${n} pages of ${pageSize} bytes after the ${PAGES_OFF}-byte header and structure table; it must hold 1 to ${MAX_PAGE_COUNT}`, { option: 'size', value: size });
  }
  return n;
}

/** Takes the resizer's lock, from a resizer that died if need be (what it left is finished by the caller). */
function takeResizeLock(h: Handle): void {
  const i32 = h.header.i32;
  for (;;) {
    const owner = Atomics.compareExchange(i32, H_RESIZE_LOCK_IDX, 0, OWNER_ID);
    if (owner === 0) return;
    if (owner === OWNER_ID || isOwnerAlive(owner)) {
      throw sessmapError('SESSMAP_ERR_RESIZE_IN_PROGRESS', `cache file ${h.path} is being resized by ${owner === OWNER_ID ? 'this thread' : `process ${ownerPid(owner)}`}; wait for it to finish`, { path: h.path, pid: ownerPid(owner) });
    }
    if (Atomics.compareExchange(i32, H_RESIZE_LOCK_IDX, owner, OWNER_ID) === owner) return;
  }
}

/**
 * Checks that the live entries fit the new layout, allocates and lays out its pages, and
 * publishes the record of both layouts. Throws SESSMAP_ERR_RESIZE_NO_ROOM (nothing changed)
 * when a page of the new layout would not hold the entries it gets.
 */
async function begin(h: Handle, want: number, grace: number): Promise<void> {
  const l = h.layout;
  checkFits(h, want);
  const pageSize = h.pages.pageSize;
  // The new run goes where the old one is not: in front of it when it fits there, else after it.
  const toFirst = want <= l.first ? 0 : l.first + l.count;
  const slots = Math.max(l.slots, toFirst + want);
  const end = PAGES_OFF + slots * pageSize;
  // Refuses (SESSMAP_ERR_INVALID_OPTION) a file the mmap binding could not map, before anything changes.
  planSegments({ pageCount: slots, pageSize, slotsPerPage: h.pages.slots, maxKeyBytes: h.maxKeyBytes, fileSize: end });
  const reuses = l.retiredCount > 0 && toFirst < l.retiredFirst + l.retiredCount && l.retiredFirst < toFirst + want;
  if (reuses) await waitUntil(l.retiredAt + grace); // a handle may still be finishing an operation there
  const runStart = PAGES_OFF + toFirst * pageSize;
  const runEnd = runStart + want * pageSize;
  const fd = openSecure(h.path);
  try {
    const st = fs.fstatSync(fd);
    if (st.dev !== h.att.identity.dev || st.ino !== h.att.identity.ino) {
      throw sessmapError('SESSMAP_ERR_STALE_HANDLE', `cache file ${h.path} now leads to another file; open it again`, { path: h.path });
    }
    const what = 'resizing it (the file was left as it was)';
    checkFreeSpace(h.path, end, runEnd - runStart, what);
    const grows = st.size < end;
    try {
      if (grows) fs.ftruncateSync(fd, end);
      // pwrite, so that every block of the new run is allocated (a full filesystem is an error here, never a SIGBUS later).
      writeZeros(fd, h.path, runStart, runEnd, end, what);
      const word = Buffer.alloc(4);
      word.writeUInt32LE(h.pages.ds);
      for (let i = 0; i < want; i++) fs.writeSync(fd, word, 0, 4, runStart + i * pageSize + P_FREE_OFF);
    } catch (err) {
      if (grows) fs.ftruncateSync(fd, st.size);
      throw err;
    }
  } finally {
    fs.closeSync(fd);
  }
  if (FAULTS) fault('resize:laid-out');
  Atomics.store(h.header.u32, H_RESIZE_MOVED_IDX, 0);
  Atomics.store(h.header.u32, H_RESIZE_PAGE_IDX, 0);
  publishLayout(h.header, {
    moving: true, first: l.first, count: l.count, toFirst, toCount: want, slots,
    retiredFirst: reuses ? 0 : l.retiredFirst, retiredCount: reuses ? 0 : l.retiredCount, retiredAt: reuses ? 0 : l.retiredAt,
    startedAt: Date.now(), pid: process.pid,
  });
  if (FAULTS) fault('resize:published');
  h.enter();
}

/** The live entries of each page of the new layout must fit it, with a sixteenth of the page to spare, and its slots. */
function checkFits(h: Handle, want: number): void {
  const pages = h.pages;
  const bytes = new Float64Array(want);
  const entries = new Uint32Array(want);
  let total = 0;
  let count = 0;
  for (let p = 0; p < pages.count; p++) {
    withPageLock(h, p, (s, b) => {
      const now = h.clock();
      for (let si = 0; si < pages.slots; si++) {
        const off = slotOffset(s, b, si);
        if (off === 0 || !isLive(s, b + off) || isExpired(s, b + off, now)) continue;
        const t = s.u32[(b + off + I_HASH_OFF) >> 2] % want;
        const n = extentOf(s, b + off);
        bytes[t] += n;
        entries[t]++;
        total += n;
        count++;
      }
    });
  }
  const room = pages.pageSize - pages.ds - (pages.pageSize >> 4);
  let worst = 0;
  for (let t = 1; t < want; t++) if (bytes[t] / room + entries[t] / pages.maxItems > bytes[worst] / room + entries[worst] / pages.maxItems) worst = t;
  if (bytes[worst] > room || entries[worst] > pages.maxItems) {
    throw sessmapError(
      'SESSMAP_ERR_RESIZE_NO_ROOM',
      `the ${count} live entries (${total} bytes) do not fit ${want} pages of ${pages.pageSize} bytes: page ${worst} of that layout would get ${entries[worst]} entries ` +
        `and ${bytes[worst]} bytes, and holds ${pages.maxItems} entries and ${room} bytes (a sixteenth of a page kept free). Nothing was changed; choose a larger size`,
      { entries: count, bytes: total, pageCount: want, page: worst, pageEntries: entries[worst], pageBytes: bytes[worst], room, maxEntries: pages.maxItems },
    );
  }
}

/** Moves every page of the old layout not moved yet; yields to the event loop between pages. */
async function movePages(h: Handle, progress: ((p: ResizeProgress) => void) | undefined): Promise<{ pages: number; entries: number }> {
  h.enter();
  const count = h.pages.count;
  // A resizer killed while it copied a page left copies of some of its entries: they go first.
  removeStaleCopies(h);
  let pages = 0;
  let entries = 0;
  let yielded = Date.now();
  for (let p = 0; p < count; p++) {
    h.enter();
    const n = movePage(h, p);
    if (n >= 0) {
      pages++;
      entries += n;
    }
    Atomics.store(h.header.u32, H_RESIZE_MOVED_IDX, p + 1);
    progress?.({ phase: 'moving', done: p + 1, total: count });
    if (Date.now() - yielded >= YIELD_MS) {
      await new Promise((r) => setImmediate(r));
      yielded = Date.now();
    }
  }
  return { pages, entries };
}

/** Moves page `p` of the old layout (its entries copied, then the page marked and emptied); -1 if it was moved already. */
function movePage(h: Handle, p: number): number {
  const pages = h.pages;
  return withPageLock(h, p, (s, b) => {
    if (s.u32[(b >> 2) + P_MOVED_IDX] === PAGE_MOVED) return -1;
    Atomics.store(h.header.u32, H_RESIZE_PAGE_IDX, p + 1);
    let n = 0;
    for (let si = 0; si < pages.slots; si++) {
      const off = slotOffset(s, b, si);
      if (off === 0 || !isLive(s, b + off)) continue;
      copyEntry(h, s, b + off, s.f64[tickIdx(b, si)]);
      n++;
      if (FAULTS && n === 2) fault('resize:copying');
    }
    if (FAULTS) fault('resize:copied');
    beginChange(s.i32, b);
    s.u32[(b >> 2) + P_MOVED_IDX] = PAGE_MOVED;
    if (FAULTS) fault('resize:marked');
    resetPage(pages, s, b);
    endChange(s.i32, b);
    Atomics.store(h.header.u32, H_RESIZE_PAGE_IDX, 0);
    transferCounters(h, p, s, b);
    return n;
  });
}

/** Copies the live item at `a` (of a page of the old layout, locked) to its page in the new one, with its recency `tick`. */
function copyEntry(h: Handle, src: Segment, a: number, tick: number): void {
  const pages = h.pages;
  const hash = src.u32[(a + I_HASH_OFF) >> 2];
  const klen = src.u16[(a + I_KEY_LEN_OFF) >> 1];
  const len = src.u32[(a + I_LEN_OFF) >> 2];
  src.buf.copy(pages.scratch, 0, a + ITEM_HEADER_SIZE, a + ITEM_HEADER_SIZE + klen);
  const t = pages.targetOf(hash);
  const s = pages.segs[pages.segOf[t]];
  const b = pages.baseOf[t];
  const d = h.item;
  d.copy = true;
  d.hash = hash;
  d.keyLength = klen;
  d.value = src.buf.subarray(a + ITEM_HEADER_SIZE + klen, a + len);
  d.valueLength = len - ITEM_HEADER_SIZE - klen;
  d.type = src.buf[a + I_TYPE_OFF];
  d.expires = src.f64[(a + I_EXPIRES_OFF) >> 3];
  d.priority = src.buf[a + I_PRIORITY_OFF];
  d.createdAt = src.f64[(a + I_CREATED_OFF) >> 3];
  d.tick = tick;
  d.version = src.u32[(a + I_VERSION_OFF) >> 2];
  lock(h, t, s, b);
  try {
    const si = findSlot(pages, s, b, hash, klen);
    beginChange(s.i32, b);
    storeEntry(pages, t, s, b, si, si >= 0 ? slotOffset(s, b, si) : 0, d, h.clock());
    s.f64[(b >> 3) + P_SETS_IDX]--; // a move, not a set
    endChange(s.i32, b);
  } catch (err) {
    repair(h, t, s, b);
    if (err instanceof PageDamaged) throw sessmapError('SESSMAP_ERR_IO', `page ${t} of ${h.path} was found damaged while a resize copied into it; it was repaired: run the resize again`, { path: h.path, page: t });
    throw err;
  } finally {
    d.copy = false;
    d.value = '';
    unlock(s, b);
  }
}

/**
 * Removes the copies a killed resizer left of the entries of the page it was copying (the
 * journal, H_RESIZE_PAGE): that page is not marked moved, so its keys still live there, and the
 * copies would be counted by stats() and met by scans. Safe at any time: the journal names a
 * page only while its resizer holds that page's lock, and this runs under the same lock, so the
 * page it finds not moved is one whose resizer died. Called by the next resize, and by any
 * handle that opens the file, reads its stats or scans it while a resize is under way.
 */
export function removeStaleCopies(h: Handle): void {
  if (!h.layout.moving) return;
  const journal = Atomics.load(h.header.u32, H_RESIZE_PAGE_IDX);
  const pages = h.pages;
  if (journal === 0 || journal > pages.count) return;
  const p = journal - 1;
  withPageLock(h, p, (ps, pb) => {
    if (Atomics.load(h.header.u32, H_RESIZE_PAGE_IDX) !== journal || ps.u32[(pb >> 2) + P_MOVED_IDX] === PAGE_MOVED) return;
    for (let t = pages.count; t < pages.pageCount; t++) {
      const s = pages.segs[pages.segOf[t]];
      const b = pages.baseOf[t];
      lock(h, t, s, b);
      try {
        const offs: number[] = [];
        for (let si = 0; si < pages.slots; si++) {
          const off = slotOffset(s, b, si);
          if (off !== 0 && s.u32[(b + off + I_HASH_OFF) >> 2] % pages.count === p) offs.push(off);
        }
        if (offs.length === 0) continue;
        beginChange(s.i32, b);
        for (const off of offs) removeItem(pages, s, b, slotOfItem(pages, s, b, s.u32[(b + off + I_HASH_OFF) >> 2], off), off);
        endChange(s.i32, b);
      } finally {
        unlock(s, b);
      }
    }
    Atomics.compareExchange(h.header.u32, H_RESIZE_PAGE_IDX, journal, 0);
  });
}

/** True when a resize is under way and its resizer is gone with copies it may have left. */
export function staleCopiesLikely(h: Handle): boolean {
  if (!h.layout.moving || Atomics.load(h.header.u32, H_RESIZE_PAGE_IDX) === 0) return false;
  const owner = Atomics.load(h.header.i32, H_RESIZE_LOCK_IDX);
  return owner === 0 || !isOwnerAlive(owner);
}

/** Publishes the new layout alone; the old run is retired (released after the grace period). */
function finish(h: Handle): void {
  const l: Layout = h.layout;
  publishLayout(h.header, {
    moving: false, first: l.toFirst, count: l.toCount, toFirst: 0, toCount: 0, slots: l.slots,
    retiredFirst: l.first, retiredCount: l.count, retiredAt: Date.now(), startedAt: 0, pid: 0,
  });
  if (FAULTS) fault('resize:finished');
  h.enter();
}

async function waitUntil(t: number): Promise<void> {
  const ms = t - Date.now();
  if (ms > 0) await new Promise((r) => setTimeout(r, ms));
}

// ------------------------------------------------------------ what a resize leaves behind
/*
 * What a resize leaves behind: a moved page's counters go to a page of the new layout (so the
 * file's totals, stats() and the metrics built on them, never go down), and the run of pages the
 * old layout took is released once no handle can still be inside an operation there.
 *
 * Release: the old run's memory (on tmpfs) or blocks are given back with MADV_REMOVE, which
 * punches a hole in the file under the mapping: the file keeps its length (a process that has
 * not followed the new layout yet maps it, and a mapping past a file's end is SIGBUS), and its
 * bytes read as zeros. Only after the grace period: every operation checks the layout at its
 * start and again once it holds a page's lock, so what could still touch the old run is an
 * operation begun before the resize finished, and none lasts that long (a lock wait ends at
 * lockTimeout). The next resize that puts pages there allocates them again (begin, above).
 */

/** madvise(2): free the range and its backing store (a hole punched in the file). */
const MADV_REMOVE = 9;

type Advise = (buffer: Buffer, offset: number, length: number, advice: number) => void;

/**
 * Adds the counters of moved page `p` (old layout, locked, at `s`/`b`) to a page of the new
 * layout, then zeroes them. A resizer killed between the two counts that page's figures twice
 * in the totals; never fewer.
 */
export function transferCounters(h: Handle, p: number, s: Segment, b: number): void {
  const pages = h.pages;
  const t = pages.count + (p % pages.toCount);
  const ts = pages.segs[pages.segOf[t]];
  const tb = pages.baseOf[t];
  lock(h, t, ts, tb);
  try {
    for (let i = P_EVICTED_HIGH_IDX; i <= P_REPAIRS_IDX; i++) ts.f64[(tb >> 3) + i] += s.f64[(b >> 3) + i];
    for (let i = 0; i < EVICTED_TTL_BUCKETS; i++) ts.u32[(tb >> 2) + P_EVICTED_TTL_IDX + i] += s.u32[(b >> 2) + P_EVICTED_TTL_IDX + i];
  } finally {
    unlock(ts, tb);
  }
  for (let i = P_EVICTED_HIGH_IDX; i <= P_REPAIRS_IDX; i++) s.f64[(b >> 3) + i] = 0;
  s.u32.fill(0, (b >> 2) + P_EVICTED_TTL_IDX, (b >> 2) + P_EVICTED_TTL_IDX + EVICTED_TTL_BUCKETS);
}

/**
 * Releases the run the last resize retired (the part the current layout does not use), once
 * `grace` ms have passed since it was retired; returns the bytes released (0 where the
 * filesystem or the kernel cannot punch holes: the run then stays allocated, and is reused).
 */
export async function releaseRun(h: Handle, grace: number, progress: ((p: ResizeProgress) => void) | undefined): Promise<number> {
  h.enter();
  const l = h.layout;
  if (l.moving || l.retiredCount === 0) return 0;
  const wait = l.retiredAt + grace - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  h.enter();
  const advise = (loadBinding() as { advise?: Advise }).advise;
  if (typeof advise !== 'function') return 0;
  const pageSize = h.pages.pageSize;
  const inUse = (slot: number): boolean => slot >= h.layout.first && slot < h.layout.first + h.layout.count;
  let released = 0;
  const total = l.retiredCount;
  for (let i = 0; i < total; i++) {
    const slot = l.retiredFirst + i;
    if (inUse(slot)) continue;
    const plan = h.att.plans.findIndex((pl) => slot >= pl.firstPage && slot < pl.firstPage + pl.pageCount);
    if (plan < 0) continue;
    try {
      advise(h.att.segments[plan].buf, (slot - h.att.plans[plan].firstPage) * pageSize, pageSize, MADV_REMOVE);
    } catch {
      return released; // no hole punching here: the run stays allocated
    }
    released += pageSize;
    progress?.({ phase: 'releasing', done: i + 1, total });
  }
  return released;
}
