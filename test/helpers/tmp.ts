/**
 * A fresh private temp directory per test (mkdtemp under os.tmpdir(), mode 0700),
 * removed after the test.
 */
import { afterEach, beforeEach } from 'vitest';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function makeTmpDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sessmap-test-'));
  chmodSync(dir, 0o700);
  return dir;
}

export function removeTmpDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export interface TmpDir {
  /** The current test's directory. */
  readonly dir: string;
  /** A path inside it (default name `cache.smap`). */
  path(name?: string): string;
}

/** Registers beforeEach/afterEach hooks; the returned object always refers to the current test's dir. */
export function useTmpDir(): TmpDir {
  let current: string | undefined;
  beforeEach(() => {
    current = makeTmpDir();
  });
  afterEach(() => {
    if (current !== undefined) removeTmpDir(current);
    current = undefined;
  });
  return {
    get dir(): string {
      if (current === undefined) throw new Error('useTmpDir: no test is running');
      return current;
    },
    path(name = 'cache.smap'): string {
      return join(this.dir, name);
    },
  };
}
