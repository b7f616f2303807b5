/**
 * CPU time of the processes of a run, from /proc/<pid>/stat (Linux): utime + stime, fields 14
 * and 15 of proc(5), in clock ticks. They cover every thread of the process (libuv's pool, V8's
 * GC and compiler threads), not its children. Every process is read at the same moment, at the
 * start and at the end of the measured phase.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Clock ticks per second (`getconf CLK_TCK`), and where the figure came from. */
export const CLOCK: { ticksPerSecond: number; source: string } = (() => {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    if (Number.isInteger(n) && n > 0) return { ticksPerSecond: n, source: '`getconf CLK_TCK`' };
  } catch {
    // no getconf
  }
  return { ticksPerSecond: 100, source: 'assumed (getconf CLK_TCK failed; 100 is the Linux default)' };
})();

/** utime + stime of a process in clock ticks, or undefined when it cannot be read (gone, not Linux). */
export function procCpuTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: split after the last ')'.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // f[0] is field 3 (state), so fields 14 (utime) and 15 (stime) are f[11] and f[12].
    const ticks = Number(f[11]) + Number(f[12]);
    return Number.isFinite(ticks) ? ticks : undefined;
  } catch {
    return undefined;
  }
}

/** utime + stime of a process in microseconds. */
export function procCpuMicros(pid: number): number | undefined {
  const t = procCpuTicks(pid);
  return t === undefined ? undefined : (t * 1e6) / CLOCK.ticksPerSecond;
}

/** The process groups of a run whose CPU time is reported. */
export interface ProcessGroups {
  workers: number[];
  primary: number;
  /** redis-server, when the store uses it. */
  redis?: number;
  /** The child that runs autocannon. */
  loader: number;
}

/** CPU of each group over a phase, microseconds (clock-tick resolution). */
export interface CpuTimes {
  /** Per worker, in the order of the pids. */
  workers: number[];
  primary: number;
  redis?: number;
  loader: number;
  /** Wall time of the phase between the two reads, microseconds. */
  wallMicros: number;
  /** CPU time of the whole machine (all CPUs, not idle nor iowait, from /proc/stat), microseconds; undefined when unreadable. */
  machineMicros?: number;
}

export interface CpuSnapshot {
  groups: ProcessGroups;
  ticks: Map<number, number | undefined>;
  /** Busy ticks of all CPUs together (/proc/stat). */
  machine: number | undefined;
  at: number;
}

/** Ticks all CPUs spent busy so far: the `cpu` line of /proc/stat less idle and iowait (guest time is already in user). */
export function machineBusyTicks(): number | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
    if (!line.startsWith('cpu ')) return undefined;
    // user nice system idle iowait irq softirq steal [guest guest_nice]
    const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
    if (f.length < 8 || f.some((x) => !Number.isFinite(x))) return undefined;
    return f[0] + f[1] + f[2] + f[5] + f[6] + f[7];
  } catch {
    return undefined;
  }
}

/** Reads every process of `groups` now. */
export function cpuSnapshot(groups: ProcessGroups): CpuSnapshot {
  const pids = [...groups.workers, groups.primary, groups.loader, ...(groups.redis !== undefined ? [groups.redis] : [])];
  const at = performance.now();
  const ticks = new Map<number, number | undefined>();
  for (const pid of pids) ticks.set(pid, procCpuTicks(pid));
  return { groups, ticks, machine: machineBusyTicks(), at };
}

/** The CPU each group used between two snapshots; throws when a process could not be read. */
export function cpuBetween(a: CpuSnapshot, b: CpuSnapshot): CpuTimes {
  const used = (pid: number, what: string): number => {
    const x = a.ticks.get(pid);
    const y = b.ticks.get(pid);
    if (x === undefined || y === undefined) throw new Error(`could not read /proc/${pid}/stat (${what}) at the ${x === undefined ? 'start' : 'end'} of the measured phase`);
    return ((y - x) * 1e6) / CLOCK.ticksPerSecond;
  };
  const g = a.groups;
  return {
    workers: g.workers.map((pid, i) => used(pid, `worker ${i + 1}`)),
    primary: used(g.primary, 'cluster primary'),
    ...(g.redis !== undefined ? { redis: used(g.redis, 'redis-server') } : {}),
    loader: used(g.loader, 'load generator'),
    wallMicros: (b.at - a.at) * 1000,
    ...(a.machine !== undefined && b.machine !== undefined ? { machineMicros: ((b.machine - a.machine) * 1e6) / CLOCK.ticksPerSecond } : {}),
  };
}

/** Workers + primary + redis-server: everything on the store's side (the load generator is not). */
export function storeSideMicros(c: CpuTimes): number {
  return c.workers.reduce((n, x) => n + x, 0) + c.primary + (c.redis ?? 0);
}

export function workersMicros(c: CpuTimes): number {
  return c.workers.reduce((n, x) => n + x, 0);
}

/** Other processes on the machine using more cores than this during a measured phase disturb it: it is measured again. */
export const DISTURBED = 0.1;

/** Cores' worth of CPU the processes of the run used over the phase (all of them, load generator included). */
export function coresBusy(c: CpuTimes): number {
  return (storeSideMicros(c) + c.loader) / c.wallMicros;
}

/** Cores' worth of CPU other processes on the machine used over the phase (undefined: /proc/stat unreadable). */
export function otherCores(c: CpuTimes): number | undefined {
  return c.machineMicros === undefined ? undefined : Math.max(0, c.machineMicros - storeSideMicros(c) - c.loader) / c.wallMicros;
}
