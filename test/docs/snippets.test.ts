import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { REPO_ROOT } from '../helpers/paths.js';
import { checkSnippets, fencedBlocks, formatProblems, sourcePaths, typescriptSnippets, type Snippet } from './snippets.js';

describe('TypeScript code blocks of README.md and docs/*.md', () => {
  it('finds every fenced block, indented ones and ~~~ fences included, at its line', () => {
    const md = ['# t', '', '```ts', 'const a = 1;', '```', '', '- item', '  ```typescript', '  const b = 2;', '  ```', '~~~tsx', 'const c = 3;', '~~~', '```text', 'x', '```'].join('\n');
    const blocks = fencedBlocks(md, 'x.md');
    expect(blocks.map((b) => [b.lang, b.line, b.code])).toEqual([
      ['ts', 4, 'const a = 1;'],
      ['typescript', 9, 'const b = 2;'],
      ['tsx', 12, 'const c = 3;'],
      ['text', 15, 'x'],
    ]);
  });

  it('resolves sessmap and every sessmap/<subpath> of package.json exports to a source file', () => {
    const paths = sourcePaths(REPO_ROOT);
    expect(Object.keys(paths)).toContain('sessmap');
    expect(Object.keys(paths)).toContain('sessmap/express-session');
    for (const [name, [file]] of Object.entries(paths)) expect(existsSync(file), `${name} -> ${file}`).toBe(true);
  });

  it('compile as ESM modules under strict, importing sessmap from the sources, in one tsc run', () => {
    const snippets = typescriptSnippets(REPO_ROOT);
    // The README's cluster and cache blocks, the adapters' and errors' examples at least.
    expect(snippets.length).toBeGreaterThanOrEqual(5);
    expect(snippets.some((s) => s.doc === 'README.md' && s.code.includes('setupPrimary('))).toBe(true);
    // A block known to be wrong goes along in the same run: it proves errors are found and
    // mapped back to the markdown line, so an empty list below means something.
    const canary: Snippet = { doc: 'canary.md', line: 10, lang: 'ts', code: "import { SharedCache } from 'sessmap';\nconst n: number = SharedCache.open('x').path;\n" };
    const { problems } = checkSnippets(REPO_ROOT, [...snippets, canary]);
    const canaryProblems = problems.filter((p) => p.where.startsWith('canary.md:'));
    expect(canaryProblems.map((p) => p.where.replace(/:\d+$/, ''))).toEqual(['canary.md:11']);
    const rest = problems.filter((p) => !p.where.startsWith('canary.md:'));
    expect(rest, `docs code blocks that do not compile:\n${formatProblems(rest)}`).toEqual([]);
  });
});
