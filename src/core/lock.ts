/**
 * Page locks: one Int32 word per page holding the owner id (0 = free), taken with
 * Atomics.compareExchange on the shared mapping. Atomics.wait does not work on a mapping (it
 * is not a SharedArrayBuffer), so waiters spin briefly, then sleep in growing steps on a
 * private SharedArrayBuffer. A waiter checks the owner's pid from time to time; a dead owner's
 * lock is taken over with a CAS and the page repaired by the caller.
 */
import { threadId } from 'node:worker_threads';

const PID_BITS = 22;
export const PID_MASK = (1 << PID_BITS) - 1;

if (process.pid > PID_MASK) {
  // Linux caps pid_max at 2^22; other platforms use smaller pids still.
  throw new Error(`sessmap: pid ${process.pid} does not fit the ${PID_BITS}-bit owner field`);
}

/** This thread's owner id: pid in the low 22 bits, a thread tag (1..511, 0 = main thread) above. */
export function ownerIdOf(pid: number, thread: number): number {
  return ((thread === 0 ? 0 : ((thread - 1) % 511) + 1) << PID_BITS) | pid;
}

export const OWNER_ID = ownerIdOf(process.pid, threadId);

export function ownerPid(owner: number): number {
  return owner & PID_MASK;
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
