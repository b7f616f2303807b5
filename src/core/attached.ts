/**
 * The file's table of attached processes: one listing per thread that has a handle open on the
 * file (pid, thread tag, process start time, when it attached, how many handles), in the
 * header's mutable part (docs/file-format.md, "Attached processes"). A handle lists its thread
 * when it opens and unlists it when it closes or the thread exits; a process killed keeps its
 * listing until an opener (or recoverDeadOwners) finds it dead and reclaims it.
 *
 * A listing is claimed with a compareExchange of its owner word (0 -> this thread's owner id,
 * as in a lock word) and released with one back to 0, so two openers never take one slot. It is
 * information for operators only: nothing locks by it, and a slot that cannot be had (the table
 * is full) leaves the handle unlisted, never failing it. The words are read as hostile: a pid of
 * 0 or out of range is never signalled (kill(0) would ask about the whole process group).
 */
import fs from 'node:fs';
import type { Segment } from './file.js';
import {
  H_LISTINGS, H_LISTINGS_OFF, H_LISTING_SIZE, L_ATTACHED_OFF, L_HANDLES_OFF, L_OWNER_OFF, L_PID_OFF, L_START_OFF,
} from './layout.js';
import { OWNER_ID, PID_MASK, isOwnerAlive, isProcessAlive, ownerPid, ownerTag } from './lock.js';
import type { AttachedProcess, ProcessStats } from './types.js';

/** A handle's listing: the slot its thread holds in the table of the file `header` maps. */
export interface Listing {
  readonly header: Segment;
  readonly slot: number;
}

/** Listings of this thread's open handles, released at exit if their handles are not closed. */
const open = new Set<Listing>();
let exitHook = false;

/**
 * A process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat), which tells
 * a reused pid from the process that listed itself; undefined where it cannot be read.
 */
function processStart(pid: number | 'self'): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    // The command name (field 2) is in parentheses and may hold spaces: count from after it.
    const start = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    return Number.isSafeInteger(start) && start > 0 ? start : undefined;
  } catch {
    return undefined;
  }
}

let ownStart: number | undefined;
function myStart(): number {
  ownStart ??= processStart('self') ?? 0;
  return ownStart;
}

function at(slot: number): number {
  return H_LISTINGS_OFF + slot * H_LISTING_SIZE;
}

/**
 * Whether a listing's thread and process still exist: its owner's thread (or process) is not
 * gone, and its pid, while being claimed 0, names a live process that started when the listed
 * one did. Out-of-range words are dead.
 */
function listingAlive(owner: number, pid: number, start: number): boolean {
  if (ownerPid(owner) === 0 || pid > PID_MASK) return false;
  if (!isOwnerAlive(owner)) return false;
  if (pid === 0) return true;
  if (pid !== ownerPid(owner) && !isProcessAlive(pid)) return false;
  if (start > 0) {
    const now = pid === process.pid ? myStart() : processStart(pid);
    if (now !== undefined && now !== start) return false;
  }
  return true;
}

/** Reclaims the listing in `slot` from dead `owner` (one winner); false if another took it first. */
function reclaim(header: Segment, slot: number, owner: number): boolean {
  const o = at(slot);
  if (Atomics.compareExchange(header.i32, (o + L_OWNER_OFF) >> 2, owner, OWNER_ID) !== owner) return false;
  header.u32[(o + L_PID_OFF) >> 2] = 0;
  header.buf.fill(0, o + L_ATTACHED_OFF, o + H_LISTING_SIZE);
  Atomics.compareExchange(header.i32, (o + L_OWNER_OFF) >> 2, OWNER_ID, 0);
  return true;
}

/** Reclaims every dead listing (or, with `pid`, every listing of that process, known dead); returns how many. */
export function reclaimListings(header: Segment, pid?: number): number {
  let n = 0;
  for (let k = 0; k < H_LISTINGS; k++) {
    const o = at(k);
    const owner = Atomics.load(header.i32, (o + L_OWNER_OFF) >> 2);
    if (owner === 0) continue;
    const lpid = header.u32[(o + L_PID_OFF) >> 2];
    const dead = pid !== undefined && pid !== process.pid ? lpid === pid : !listingAlive(owner, lpid, header.f64[(o + L_START_OFF) >> 3]);
    if (dead && reclaim(header, k, owner)) n++;
  }
  return n;
}

/**
 * Lists this thread in the file's table for one more handle: its own listing when it has one
 * (one more handle), else a free slot, after reclaiming the dead. Undefined when the table is full.
 */
export function list(header: Segment): Listing | undefined {
  const i32 = header.i32;
  const start = myStart();
  reclaimListings(header);
  for (let k = 0; k < H_LISTINGS; k++) {
    const o = at(k);
    if (Atomics.load(i32, (o + L_OWNER_OFF) >> 2) === OWNER_ID && isMine(header, o, start)) {
      header.u32[(o + L_HANDLES_OFF) >> 2]++;
      return remember({ header, slot: k });
    }
  }
  for (let k = 0; k < H_LISTINGS; k++) {
    const o = at(k);
    if (Atomics.compareExchange(i32, (o + L_OWNER_OFF) >> 2, 0, OWNER_ID) !== 0) continue;
    header.f64[(o + L_ATTACHED_OFF) >> 3] = Date.now();
    header.f64[(o + L_START_OFF) >> 3] = start;
    header.u32[(o + L_HANDLES_OFF) >> 2] = 1;
    // The pid last: until it lands, readers see a listing being claimed, alive by its owner word.
    header.u32[(o + L_PID_OFF) >> 2] = process.pid;
    return remember({ header, slot: k });
  }
  return undefined;
}

function isMine(header: Segment, o: number, start: number): boolean {
  return header.u32[(o + L_PID_OFF) >> 2] === process.pid && header.f64[(o + L_START_OFF) >> 3] === start;
}

function remember(l: Listing): Listing {
  open.add(l);
  if (!exitHook) {
    exitHook = true;
    // A thread that ends without closing its handles still leaves the table.
    process.once('exit', () => {
      for (const x of open) unlist(x);
    });
  }
  return l;
}

/** One handle of this thread closes: the listing counts one handle less, and goes with the last. */
export function unlist(l: Listing): void {
  if (!open.delete(l)) return;
  const { header } = l;
  const o = at(l.slot);
  // Not ours any more (reclaimed by mistake, or the file was reinitialised under it): leave it.
  if (Atomics.load(header.i32, (o + L_OWNER_OFF) >> 2) !== OWNER_ID || !isMine(header, o, myStart())) return;
  const hi = (o + L_HANDLES_OFF) >> 2;
  if (header.u32[hi] > 1) {
    header.u32[hi]--;
    return;
  }
  header.u32[(o + L_PID_OFF) >> 2] = 0;
  header.buf.fill(0, o + L_ATTACHED_OFF, o + H_LISTING_SIZE);
  Atomics.compareExchange(header.i32, (o + L_OWNER_OFF) >> 2, OWNER_ID, 0);
}

/** The table as it is: every listing with its liveness, and processes alive and dead. Read without locks. */
export function readListings(header: Segment): ProcessStats {
  const list: AttachedProcess[] = [];
  let used = 0;
  for (let k = 0; k < H_LISTINGS; k++) {
    const o = at(k);
    const owner = Atomics.load(header.i32, (o + L_OWNER_OFF) >> 2);
    if (owner === 0) continue;
    used++;
    const pid = header.u32[(o + L_PID_OFF) >> 2];
    const attachedAt = header.f64[(o + L_ATTACHED_OFF) >> 3];
    list.push({
      pid: pid === 0 ? ownerPid(owner) : pid,
      thread: ownerTag(owner),
      attachedAt: Number.isFinite(attachedAt) && attachedAt > 0 ? attachedAt : 0,
      handles: header.u32[(o + L_HANDLES_OFF) >> 2],
      alive: listingAlive(owner, pid, header.f64[(o + L_START_OFF) >> 3]),
    });
  }
  const alive = new Set(list.filter((l) => l.alive).map((l) => l.pid));
  const dead = new Set(list.filter((l) => !l.alive && !alive.has(l.pid)).map((l) => l.pid));
  return { alive: alive.size, dead: dead.size, list, full: used === H_LISTINGS };
}
