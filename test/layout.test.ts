/**
 * The house as it is built: arrows between the layers of src/ only point down
 * (adapters -> cluster -> metrics -> backends -> sessions -> events -> core -> util/errors; src/index.ts and
 * src/open.ts on top), no two folders import each other (however long the way round), and no
 * file is over 450 lines. The rules are checked on made-up trees first, so a checker that
 * stopped seeing an upward arrow would fail here, not pass quietly.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { REPO_ROOT } from './helpers/paths.js';
import { MAX_LINES, checkTree, exportedBarrels, readTree, type Violation } from './helpers/layout.js';

const SRC = join(REPO_ROOT, 'src');
const rules = (v: Violation[]): string[] => v.map((x) => x.rule);

describe('the layout checker', () => {
  it('finds an arrow pointing up, static or import(), type-only included', () => {
    const tree = new Map([
      ['core/a.ts', "import type { S } from '../sessions/s.js';\nexport const a = 1;\n"],
      ['sessions/s.ts', 'export type S = 1;\n'],
      ['events/e.ts', "export const e = () => import('../cluster/c.js');\n"],
      ['cluster/c.ts', "import { a } from '../core/a.js';\nexport const c = a;\n"],
    ]);
    const v = checkTree(tree);
    expect(v.filter((x) => x.rule === 'upward').map((x) => x.message)).toEqual([
      expect.stringContaining("src/core/a.ts (core) imports '../sessions/s.js' (sessions)"),
      expect.stringContaining("src/events/e.ts (events) imports with import() '../cluster/c.js' (cluster)"),
    ]);
  });

  it('finds folders that import each other, also within one layer and the long way round', () => {
    const tree = new Map([
      ['backends/select.ts', "export const load = () => import('./mmap/d.js');\n"],
      ['backends/mmap/d.ts', "import { x } from './x.js';\nexport const d = x;\n"],
      ['backends/mmap/x.ts', "import { load } from '../select.js';\nexport const x = load;\n"],
    ]);
    expect(checkTree(tree).map((x) => x.message)).toEqual([expect.stringMatching(/folders import each other: src\/backends -> src\/backends\/mmap -> src\/backends/)]);
  });

  it('finds a file over the limit, and an import of no file', () => {
    const long = 'export const x = 1;\n'.repeat(MAX_LINES + 1);
    const tree = new Map([
      ['core/long.ts', long],
      ['core/ok.ts', `${'export const y = 1;\n'.repeat(MAX_LINES - 1)}import { z } from './gone.js';\n`],
    ]);
    expect(rules(checkTree(tree)).sort()).toEqual(['too-long', 'unresolved']);
  });

  it('lets a package barrel gather from the entry points, and keeps it a barrel', () => {
    const tree = new Map([
      ['open.ts', "import { c } from './cluster/c.js';\nexport const open = c;\n"],
      ['cluster/c.ts', 'export const c = 1;\n'],
      ['cluster/index.ts', "export { c } from './c.js';\nexport { open } from '../open.js';\n"],
      ['core/index.ts', "export { open } from '../open.js';\nexport const not = 'a barrel';\n"],
    ]);
    const v = checkTree(tree, { barrels: new Set(['cluster/index.ts', 'core/index.ts']) });
    expect(rules(v)).toEqual(['barrel']);
    expect(rules(checkTree(tree))).toEqual(['upward', 'upward']);
  });
});

describe('src/', () => {
  it('has every arrow pointing down, no folders importing each other, and no file over 450 lines', () => {
    const tree = readTree(SRC);
    const violations = checkTree(tree, { barrels: exportedBarrels(join(REPO_ROOT, 'package.json')) });
    expect(violations.map((v) => v.message)).toEqual([]);
  });
});
