/**
 * The targets of `npm run bench:http`: ratios of one store's figure to another's in the same
 * run, printed with PASS/MISS, never enforced.
 */
import { storeSideMicros } from './cpu.js';
import { dagger, perResponse, representatives, type StoreRun } from './report.js';
import { STORE_LABELS, type StoreKind } from './protocol.js';

export const TARGETS_HEADING = 'Targets (ratios of figures of this run, printed, not enforced):';

type Metric = 'reqPerSec' | 'storeCpu' | 'fixedP99';

export interface Target {
  of: StoreKind;
  vs: StoreKind;
  metric: Metric;
  /** `>=`: the ratio must be at least `bound`; `<=`: at most. */
  op: '>=' | '<=';
  bound: number;
}

export const TARGETS: readonly Target[] = [
  { of: 'sessmap', vs: 'connect-redis', metric: 'reqPerSec', op: '>=', bound: 1.3 },
  { of: 'sessmap', vs: 'memory', metric: 'reqPerSec', op: '>=', bound: 0.9 },
  { of: 'sessmap-redis', vs: 'connect-redis', metric: 'reqPerSec', op: '>=', bound: 1.1 },
  { of: 'sessmap-redis', vs: 'connect-redis', metric: 'storeCpu', op: '<=', bound: 0.9 },
  { of: 'sessmap', vs: 'connect-redis', metric: 'storeCpu', op: '<=', bound: 0.5 },
  { of: 'sessmap-near', vs: 'connect-redis', metric: 'reqPerSec', op: '>=', bound: 1.5 },
  { of: 'sessmap-near', vs: 'connect-redis', metric: 'storeCpu', op: '<=', bound: 0.5 },
  { of: 'sessmap', vs: 'connect-redis', metric: 'fixedP99', op: '<=', bound: 1.0 },
];

const WHAT: Record<Metric, { name: string; unit: string; digits: number }> = {
  reqPerSec: { name: 'req/s', unit: 'req/s', digits: 0 },
  storeCpu: { name: 'CPU per request, store side (workers + primary + redis-server)', unit: 'µs', digits: 0 },
  fixedP99: { name: 'p99 at the fixed rate', unit: 'ms', digits: 2 },
};

/** The figure a target compares, from the run it is taken from (undefined: not run or failed). */
function value(r: StoreRun | undefined, metric: Metric): number | undefined {
  const l = r?.load;
  if (!l) return undefined;
  switch (metric) {
    case 'reqPerSec':
      return l.reqPerSec;
    case 'storeCpu':
      return r.cpu ? perResponse(storeSideMicros(r.cpu), l) : undefined;
    case 'fixedP99':
      return l.latency.p99;
  }
}

/** Store-side CPU plus the load generator's, per request. */
function allCpu(r: StoreRun | undefined): number | undefined {
  return r?.cpu && r.load ? perResponse(storeSideMicros(r.cpu) + r.cpu.loader, r.load) : undefined;
}

export function targetLines(runs: readonly StoreRun[], fixed: readonly StoreRun[]): string[] {
  const reps = representatives(runs);
  const rounds = Math.max(...runs.map((r) => r.round));
  const out: string[] = [];
  for (const t of TARGETS) {
    const w = WHAT[t.metric];
    const from = t.metric === 'fixedP99' ? fixed : reps;
    const name = `${STORE_LABELS[t.of]} vs ${STORE_LABELS[t.vs]}, ${w.name}`;
    const ra = from.find((r) => r.kind === t.of);
    const rb = from.find((r) => r.kind === t.vs);
    const a = value(ra, t.metric);
    const b = value(rb, t.metric);
    if (a === undefined || b === undefined || !(b > 0) || !Number.isFinite(a)) {
      const ran = from.some((r) => r.kind === t.of) && from.some((r) => r.kind === t.vs);
      out.push(`- ${name}: n/a (target ${t.op} ${t.bound}x; ${ran ? 'a run failed' : 'not run'})`);
      continue;
    }
    const ratio = a / b;
    const pass = t.op === '>=' ? ratio >= t.bound : ratio <= t.bound;
    let more = '';
    if (rounds > 1 && t.metric !== 'fixedP99') {
      const rs: string[] = [];
      for (let i = 1; i <= rounds; i++) {
        const x = value(runs.find((r) => r.kind === t.of && r.round === i), t.metric);
        const y = value(runs.find((r) => r.kind === t.vs && r.round === i), t.metric);
        rs.push(x !== undefined && y !== undefined && y > 0 ? `${(x / y).toFixed(2)}x` : 'n/a');
      }
      more += `; by round: ${rs.join(', ')}`;
    }
    if (t.metric === 'storeCpu') {
      const x = allCpu(reps.find((r) => r.kind === t.of));
      const y = allCpu(reps.find((r) => r.kind === t.vs));
      if (x !== undefined && y !== undefined && y > 0) more += `; with the load generator counted too: ${(x / y).toFixed(2)}x, ${x.toFixed(0)} / ${y.toFixed(0)} µs`;
    }
    if ((ra && dagger(ra)) || (rb && dagger(rb))) more += '; † other load disturbed a run';
    out.push(
      `- ${name}: **${ratio.toFixed(2)}x** (${a.toLocaleString('en-US', { maximumFractionDigits: w.digits, minimumFractionDigits: w.digits })} / ` +
        `${b.toLocaleString('en-US', { maximumFractionDigits: w.digits, minimumFractionDigits: w.digits })} ${w.unit}; target ${t.op} ${t.bound}x${more}): **${pass ? 'PASS' : 'MISS'}**`,
    );
  }
  return out;
}
