/**
 * A real small tmpfs per test, for what happens when a filesystem is full: mounted (mode 0700) in
 * a private temp dir before each test and unmounted after. Mounting needs root (CAP_SYS_ADMIN);
 * where it is not allowed, {@link TMPFS_UNAVAILABLE} says why and the tests skip with that reason.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';

function mount(dir: string, size: string): void {
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir], { stdio: 'pipe' });
}

function unmount(dir: string): void {
  try {
    execFileSync('umount', [dir], { stdio: 'pipe' });
  } catch {
    // A mapping not yet collected keeps it busy: detach it now, the kernel frees it with the last mapping.
    execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
  }
}

function probe(): string | undefined {
  if (process.platform !== 'linux') return `tmpfs tests need Linux (this is ${process.platform})`;
  const dir = fs.mkdtempSync(join(tmpdir(), 'sessmap-tmpfs-probe-'));
  try {
    mount(dir, '1m');
    unmount(dir);
    return undefined;
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    return `cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN): ${(e.stderr?.toString() ?? e.message).trim()}`;
  } finally {
    fs.rmdirSync(dir);
  }
}

/** Why tmpfs tests cannot run here, or undefined when they can. */
export const TMPFS_UNAVAILABLE: string | undefined = probe();
if (TMPFS_UNAVAILABLE !== undefined) console.warn(`[sessmap tests] skipping full-filesystem tests: ${TMPFS_UNAVAILABLE}`);

export interface Tmpfs {
  /** The mount point of the current test's tmpfs. */
  readonly dir: string;
  /** A path in it (default name `cache.smap`). */
  path(name?: string): string;
  /** Bytes free on it. */
  free(): number;
}

/** Registers hooks that give each test its own fresh tmpfs of `size` (e.g. '8m'). */
export function useTmpfs(size: string): Tmpfs {
  let root: string | undefined;
  beforeEach(() => {
    if (TMPFS_UNAVAILABLE !== undefined) return;
    root = fs.mkdtempSync(join(tmpdir(), 'sessmap-tmpfs-'));
    fs.chmodSync(root, 0o700);
    fs.mkdirSync(join(root, 'mnt'));
    mount(join(root, 'mnt'), size);
  });
  afterEach(() => {
    if (root === undefined) return;
    unmount(join(root, 'mnt'));
    fs.rmSync(root, { recursive: true, force: true });
    root = undefined;
  });
  return {
    get dir(): string {
      if (root === undefined) throw new Error('useTmpfs: no test is running');
      return join(root, 'mnt');
    },
    path(name = 'cache.smap'): string {
      return join(this.dir, name);
    },
    free(): number {
      const s = fs.statfsSync(this.dir);
      return s.bavail * s.bsize;
    },
  };
}

/**
 * Fills the filesystem holding `dir` from another file, writing until ENOSPC, and leaves `leave`
 * bytes free (deleted from the end of that file). Returns the file's path.
 */
export function fillUp(dir: string, leave = 0): string {
  const file = join(dir, 'filler');
  const fd = fs.openSync(file, 'a', 0o600);
  try {
    for (const chunk of [Buffer.alloc(1 << 20, 1), Buffer.alloc(4096, 1)]) {
      for (;;) {
        try {
          fs.writeSync(fd, chunk);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
          break;
        }
      }
    }
    if (leave > 0) fs.ftruncateSync(fd, Math.max(0, fs.fstatSync(fd).size - leave));
  } finally {
    fs.closeSync(fd);
  }
  return file;
}

/**
 * Copies `from` to `to` (mode 0600) leaving a hole for every all-zero 4 KiB block, as a file made
 * by an older sessmap is (it sized files with a sparse ftruncate), or one copied with holes.
 */
export function sparseCopy(from: string, to: string): void {
  const src = fs.openSync(from, 'r');
  const dst = fs.openSync(to, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
  try {
    const size = fs.fstatSync(src).size;
    fs.ftruncateSync(dst, size);
    const block = Buffer.alloc(4096);
    for (let off = 0; off < size; off += block.length) {
      const n = fs.readSync(src, block, 0, block.length, off);
      if (block.subarray(0, n).some((b) => b !== 0)) fs.writeSync(dst, block, 0, n, off);
    }
  } finally {
    fs.closeSync(src);
    fs.closeSync(dst);
  }
}

/** Bytes of `file` that have blocks. */
export function allocated(file: string): number {
  return fs.statSync(file).blocks * 512;
}
