import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT } from '../helpers/paths.js';
import { sourcePaths } from './snippets.js';

const README = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');

describe('the public entry points', () => {
  it('are each named in the README', () => {
    const missing = Object.keys(sourcePaths(REPO_ROOT)).filter((spec) => !README.includes(`\`${spec}\``));
    expect(missing, 'subpaths of package.json exports the README does not name').toEqual([]);
  });

  it('export no value the README does not name', async () => {
    const undocumented: string[] = [];
    for (const [spec, [file]] of Object.entries(sourcePaths(REPO_ROOT))) {
      const mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
      for (const name of Object.keys(mod)) {
        if (!new RegExp(`\`(?:[\\w.]+\\.)?${name}[\`(<]`).test(README)) undocumented.push(`${spec}: ${name}`);
      }
    }
    expect(undocumented, 'exports missing from the README (document them, or stop exporting them)').toEqual([]);
  });
});
