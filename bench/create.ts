/**
 * `npx tsx bench/create.ts [dir]`: what allocating every block of a cache file costs at create.
 * For 64 MiB and 1 GiB files in `dir` (default /dev/shm), the median of 5 runs of:
 *
 *   create     SharedCache.create (blocks written out, header, every page header), then close
 *   reserve    the block allocation alone: zeros written over a fresh file of that size
 *   sparse     what an older sessmap did instead: a sparse ftruncate (no block allocated)
 *
 * Not part of `npm run bench`; writes nothing. Numbers depend on memory bandwidth and on what
 * else the machine does: the point is the order of magnitude (docs/operations.md quotes a run).
 */
import fs from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { SharedCache } from '../src/index.js';
import { writeZeros } from '../src/core/space.js';

const dir = fs.mkdtempSync(join(process.argv[2] ?? '/dev/shm', 'sessmap-bench-create-'));
const RUNS = 5;
const SIZES: Array<[string, number]> = [['64m', 64 * 1024 * 1024], ['1g', 1024 * 1024 * 1024]];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function timed(fn: () => void): number {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

function freshFile(): { file: string; fd: number } {
  const file = join(dir, 'f');
  fs.rmSync(file, { force: true });
  return { file, fd: fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600) };
}

try {
  console.log(`node ${process.version}, ${os.cpus()[0]?.model ?? 'unknown CPU'} x ${os.cpus().length}, files in ${dir}`);
  for (const [name, bytes] of SIZES) {
    const create: number[] = [];
    const reserve: number[] = [];
    const sparse: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      const path = join(dir, 'cache.smap');
      create.push(timed(() => SharedCache.create(path, { size: name }).close()));
      fs.rmSync(path);
      let f = freshFile();
      reserve.push(timed(() => writeZeros(f.fd, f.file, 0, bytes, bytes, 'bench')));
      fs.closeSync(f.fd);
      f = freshFile();
      sparse.push(timed(() => fs.ftruncateSync(f.fd, bytes)));
      fs.closeSync(f.fd);
    }
    console.log(`${name.padStart(4)}: create ${median(create).toFixed(1)} ms, of which reserve ~${median(reserve).toFixed(1)} ms; sparse ftruncate ${median(sparse).toFixed(2)} ms`);
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
