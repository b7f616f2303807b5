/** Locations the tests need: the repository root (cwd of forked children) and the fixtures folder. */
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));

export const REPO_ROOT = resolve(here, '..', '..');
export const FIXTURES_DIR = join(REPO_ROOT, 'test', 'fixtures');

/** Absolute path of a fixture script, e.g. `fixture('core/cache-child.ts')`. */
export function fixture(name: string): string {
  return join(FIXTURES_DIR, name);
}
