/**
 * Test-only fault injection. A child process started with `SESSMAP_FAULT=<point>[:<n>]` and
 * `SESSMAP_FAULT_ACTION=kill|hang` dies by SIGKILL (kill) or announces the point on stderr and
 * spins forever (hang, for a test to SIGKILL from outside) the n-th time it reaches `point`.
 * Without the variable, `FAULTS` is false and every call site is a skipped branch.
 */
import fs from 'node:fs';

export type FaultPoint =
  | 'lock:held'
  | 'write:partial'
  | 'write:unpublished'
  | 'write:published'
  | 'evict:partial'
  | 'compact:move'
  | 'compact:unfinished'
  | 'repair:partial'
  | 'structures:partial'
  | 'structures:unpublished'
  | 'resize:laid-out'
  | 'resize:published'
  | 'resize:copying'
  | 'resize:copied'
  | 'resize:marked'
  | 'resize:finished';

const spec = process.env.SESSMAP_FAULT ?? '';
const [faultPoint, nth] = spec.split(':').length > 2
  ? [spec.split(':').slice(0, 2).join(':'), Number(spec.split(':')[2])]
  : [spec, 1];
const action = process.env.SESSMAP_FAULT_ACTION === 'hang' ? 'hang' : 'kill';
let reached = 0;

export const FAULTS = spec !== '';

export function fault(point: FaultPoint): void {
  if (point !== faultPoint) return;
  reached++;
  if (reached !== nth) return;
  if (action === 'hang') {
    fs.writeSync(2, `sessmap-fault-reached ${point}\n`);
    for (;;) {
      // Spin inside the lock until a test kills this process with SIGKILL.
    }
  }
  process.kill(process.pid, 'SIGKILL');
  for (;;) {
    // SIGKILL is on its way.
  }
}
