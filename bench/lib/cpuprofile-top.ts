/**
 * Top self-time functions of one or more .cpuprofile files (from `node --cpu-prof`).
 *
 *   BENCH_CPU_PROF=/tmp/prof npm run bench -- raw --stores=sessmap
 *   npx tsx bench/lib/cpuprofile-top.ts /tmp/prof/*.cpuprofile [--top=25]
 *
 * Profiles of processes that did little (the runner, npm) are skipped: only the busiest is shown
 * per file, with self time per function (name, file:line) as a share of the profile's samples.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

function summarise(file: string, top: number): void {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map<number, ProfileNode>();
  for (const n of p.nodes) byId.set(n.id, n);
  const self = new Map<string, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const n = byId.get(p.samples[i]);
    if (!n) continue;
    const f = n.callFrame;
    const where = f.url ? `${f.url.replace(/^file:\/\//, '').replace(process.cwd() + '/', '')}:${String(f.lineNumber + 1)}` : '';
    const key = `${f.functionName || '(anonymous)'} ${where}`.trim();
    self.set(key, (self.get(key) ?? 0) + (p.timeDeltas[i] ?? 0));
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const idle = (self.get('(idle)') ?? 0) + (self.get('(program)') ?? 0);
  console.log(`\n${basename(file)}: ${((p.endTime - p.startTime) / 1e6).toFixed(1)} s profiled, ${((total - idle) / 1e6).toFixed(1)} s busy`);
  const rows = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  for (const [k, us] of rows) console.log(`${((us / total) * 100).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}`);
}

const args = process.argv.slice(2);
const topArg = args.find((a) => a.startsWith('--top='));
const top = topArg ? Number(topArg.slice(6)) : 25;
for (const f of args.filter((a) => !a.startsWith('--'))) summarise(f, top);
