/** The environment line of a run, and the writer of the generated section of docs/benchmarks.md. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

export const DOC_PATH = fileURLToPath(new URL('../../docs/benchmarks.md', import.meta.url));
export const START_MARKER = '<!-- bench:start -->';
export const END_MARKER = '<!-- bench:end -->';

export interface Environment {
  node: string;
  cpu: string;
  cpuCount: number;
  os: string;
  date: string;
  storeDir: string;
  /** 1-minute load average when the run started: other work on the machine skews every figure. */
  loadAvg: number;
}

export function environment(storeDir: string): Environment {
  const cpus = os.cpus();
  return {
    node: process.version,
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cpuCount: cpus.length,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    storeDir,
    loadAvg: os.loadavg()[0],
  };
}

export function environmentLine(env: Environment): string {
  return `Node ${env.node}, CPU ${env.cpu} (${String(env.cpuCount)} logical CPUs), ${env.os}; run ${env.date}; store files in ${env.storeDir}; load average ${env.loadAvg.toFixed(2)} at start.`;
}

/**
 * Replace what lies between the markers of docs/benchmarks.md with `section` (markers kept).
 * Without markers the section is appended; without the file, a stub is created.
 */
export function writeDocSection(section: string, path = DOC_PATH): void {
  replaceMarkedSection(section, START_MARKER, END_MARKER, path);
}

/** Replaces what lies between `start` and `end` in the file at `path` (shared by every benchmark's writer). */
export function replaceMarkedSection(section: string, START_MARKER: string, END_MARKER: string, path: string): void {
  const block = `${START_MARKER}\n${section.trim()}\n${END_MARKER}`;
  if (!existsSync(path)) {
    writeFileSync(path, `# Benchmarks\n\n${block}\n`);
    return;
  }
  const text = readFileSync(path, 'utf8');
  const a = text.indexOf(START_MARKER);
  const b = text.indexOf(END_MARKER);
  const next = a >= 0 && b > a ? text.slice(0, a) + block + text.slice(b + END_MARKER.length) : `${text.trimEnd()}\n\n${block}\n`;
  writeFileSync(path, next);
}
