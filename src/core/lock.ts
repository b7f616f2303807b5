/**
 * Page locks: one Int32 word per page holding the owner id (0 = free), taken with
 * Atomics.compareExchange on the shared mapping. Atomics.wait does not work on a mapping (it
 * is not a SharedArrayBuffer), so waiters spin briefly, then sleep in growing steps on a
 * private SharedArrayBuffer. A waiter checks the owner from time to time; a dead owner's lock is
 * taken over with a CAS and the page repaired by the caller.
 *
 * The owner id names the holder's OS thread where the OS says which one this is (Linux:
 * /proc/thread-self; a main thread's id is its pid), so a worker_thread terminated inside a lock
 * is found dead like a killed process (kill(tid, 0) fails with ESRCH). Elsewhere it is the pid,
 * and a stopped thread of a live process must be reported (recoverThread).
 */
import fs from 'node:fs';
import { threadId } from 'node:worker_threads';

const PID_BITS = 22;
export const PID_MASK = (1 << PID_BITS) - 1;

/** This thread's id in the OS (Linux), or undefined where it cannot be read. */
function osThreadId(): number | undefined {
  try {
    const link = fs.readlinkSync('/proc/thread-self'); // "<pid>/task/<tid>"
    const tid = Number(link.slice(link.lastIndexOf('/') + 1));
    return Number.isInteger(tid) && tid > 0 ? tid : undefined;
  } catch {
    return undefined;
  }
}

const TID = osThreadId();
/** True when owner ids name OS threads, whose death a waiter can see. */
export const THREAD_OWNERS = TID !== undefined;
const TASK = TID ?? process.pid;

if (TASK > PID_MASK) {
  // Linux caps pid_max (and so thread ids) at 2^22; other platforms use smaller pids still.
  throw new Error(`sessmap: thread/process id ${TASK} does not fit the ${PID_BITS}-bit owner field`);
}

/** A thread tag (1..511; 0 = main thread) from a worker_threads threadId. */
export function threadTag(thread: number): number {
  return thread === 0 ? 0 : ((thread - 1) % 511) + 1;
}

/** An owner id: the OS thread id (or pid) in the low 22 bits, the thread tag above. */
export function ownerIdOf(task: number, thread: number): number {
  return (threadTag(thread) << PID_BITS) | task;
}

export const OWNER_ID = ownerIdOf(TASK, threadId);

/** The OS id in an owner id: the holder's thread id (Linux; a main thread's is its pid), else its pid. */
export function ownerPid(owner: number): number {
  return owner & PID_MASK;
}

/** The thread tag in an owner id. */
export function ownerTag(owner: number): number {
  return owner >>> PID_BITS;
}

/**
 * False only when the owner is known to be gone. Without thread ids, another thread of this
 * process cannot be told apart from this one's living process, so it counts as alive.
 */
export function isOwnerAlive(owner: number): boolean {
  if (owner === OWNER_ID) return true;
  const id = ownerPid(owner);
  if (!THREAD_OWNERS && id === process.pid) return true;
  return isProcessAlive(id);
}

/** True unless the process is known to be gone (EPERM means alive under another user). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/** Blocks this thread for about `ms` milliseconds. */
export function sleep(ms: number): void {
  Atomics.wait(sleepCell, 0, 0, ms);
}

/** How many page locks this thread holds right now (across all handles): for reentrancy checks. */
export const held = { count: 0 };
