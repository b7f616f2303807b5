import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_CODES } from '../src/errors.js';
import { REPO_ROOT } from './helpers/paths.js';

const DOC = join(REPO_ROOT, 'docs', 'errors.md');

/** `## SESSMAP_ERR_X` headings of docs/errors.md, in order, with the first non-empty line under each. */
function documented(): Array<{ code: string; first: string | undefined }> {
  const lines = readFileSync(DOC, 'utf8').split(/\r?\n/);
  const out: Array<{ code: string; first: string | undefined }> = [];
  lines.forEach((line, i) => {
    const m = /^##\s+`?(SESSMAP_ERR_[A-Z0-9_]+)`?\s*$/.exec(line);
    if (!m) return;
    const first = lines.slice(i + 1).find((l) => l.trim() !== '');
    out.push({ code: m[1], first: first === undefined || first.startsWith('#') ? undefined : first.trim() });
  });
  return out;
}

describe('docs/errors.md', () => {
  it('exists', () => {
    expect(existsSync(DOC), `${DOC} is missing`).toBe(true);
  });

  it('has a "## SESSMAP_ERR_..." heading for every code in ERROR_CODES and none for any other', () => {
    const docCodes = documented().map((d) => d.code);
    const codes = Object.keys(ERROR_CODES);
    expect(codes.filter((c) => !docCodes.includes(c)), 'codes missing from docs/errors.md').toEqual([]);
    expect(docCodes.filter((c) => !codes.includes(c)), 'documented codes not in ERROR_CODES').toEqual([]);
    expect(new Set(docCodes).size, 'a code is documented twice').toBe(docCodes.length);
  });

  it('opens each entry with the text ERROR_CODES gives for that code', () => {
    for (const { code, first } of documented()) {
      const want = (ERROR_CODES as Record<string, string>)[code];
      if (want === undefined) continue;
      // The entry's first line starts with that sentence (without its final full stop: the
      // paragraph may go on after it).
      const stem = want.replace(/\.$/, '');
      expect(first?.startsWith(stem), `${code}: first line ${JSON.stringify(first)}, expected it to start with ${JSON.stringify(stem)}`).toBe(true);
    }
  });
});
