/**
 * Type-checking the docs: every fenced block of README.md and docs/*.md that says it is
 * TypeScript (```ts, ```typescript, ```tsx) is written out as an ESM module and compiled in one
 * `tsc` run with the project's settings plus `strict`, `sessmap` and each `sessmap/<subpath>`
 * resolving to the sources. Used by snippets.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, relative, resolve } from 'node:path';

export const TS_LANGS = new Set(['ts', 'typescript', 'tsx']);

export interface Snippet {
  /** The markdown file, relative to the repository root (`docs/adapters.md`). */
  doc: string;
  /** 1-based line in the markdown of the block's first line of code. */
  line: number;
  lang: string;
  code: string;
}

/** The fenced code blocks of one markdown text (``` or ~~~ fences, indented ones included). */
export function fencedBlocks(markdown: string, doc: string): Snippet[] {
  const lines = markdown.split(/\r?\n/);
  const out: Snippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([^\s`]*)/.exec(lines[i]);
    if (!open) continue;
    const [, indent, fence, info] = open;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const l = lines[j];
      const close = /^\s*(`{3,}|~{3,})\s*$/.exec(l);
      if (close && close[1][0] === fence[0] && close[1].length >= fence.length) break;
      body.push(l.startsWith(indent) ? l.slice(indent.length) : l.trimStart());
    }
    out.push({ doc, line: i + 2, lang: info.toLowerCase(), code: body.join('\n') });
    i = j;
  }
  return out;
}

/** README.md and every docs/*.md, relative to the root. */
export function docFiles(root: string): string[] {
  const docs = readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`);
  return ['README.md', ...docs];
}

/** Every block of the docs that claims to be TypeScript. */
export function typescriptSnippets(root: string): Snippet[] {
  return docFiles(root).flatMap((doc) => fencedBlocks(readFileSync(join(root, doc), 'utf8'), doc)).filter((s) => TS_LANGS.has(s.lang));
}

/**
 * `paths` entries resolving the package's own name to its sources, one per subpath of the
 * `exports` map: `./x` with types `./dist/y.d.ts` becomes `sessmap/x` -> `<root>/src/y.ts`.
 */
export function sourcePaths(root: string): Record<string, string[]> {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string; exports: Record<string, unknown> };
  const paths: Record<string, string[]> = {};
  for (const [sub, target] of Object.entries(pkg.exports)) {
    const types = typeof target === 'object' && target !== null ? (target as { types?: unknown }).types : undefined;
    if (typeof types !== 'string') continue; // ./package.json
    const m = /^\.\/dist\/(.+)\.d\.ts$/.exec(types);
    if (!m) throw new Error(`package.json exports["${sub}"].types is ${types}, not ./dist/<path>.d.ts`);
    const name = sub === '.' ? pkg.name : `${pkg.name}/${sub.replace(/^\.\//, '')}`;
    paths[name] = [join(root, 'src', `${m[1]}.ts`)];
  }
  return paths;
}

export interface Problem {
  /** `docs/adapters.md:42:7` for a snippet, the file's own path otherwise. */
  where: string;
  message: string;
}

export interface CheckResult {
  /** Errors in the snippets (and tsc errors that name no file, such as a bad option). */
  problems: Problem[];
  /** Errors tsc found in the project's own files while checking them (the typecheck's business). */
  elsewhere: Problem[];
  /** tsc's output, untouched. */
  output: string;
  ms: number;
}

/** File name of a snippet in the work folder; `snippetAt` turns it back into its doc and line. */
function fileNameOf(s: Snippet): string {
  const ext = s.lang === 'tsx' ? 'tsx' : 'ts';
  return `${s.doc.replace(/[^A-Za-z0-9]+/g, '_')}__L${s.line}.${ext}`;
}

/**
 * Writes the snippets into a fresh folder under `<root>/.tmp/snippets/` (inside the project, so
 * that its package.json makes them ESM and its node_modules resolve `express`, `pino`...), runs
 * tsc once over all of them, removes the folder and returns tsc's errors, snippet errors mapped
 * back to the markdown.
 */
export function checkSnippets(root: string, snippets: Snippet[]): CheckResult {
  const base = join(root, '.tmp', 'snippets');
  mkdirSync(base, { recursive: true });
  const work = mkdtempSync(join(base, 'run-'));
  const byFile = new Map<string, Snippet>();
  try {
    for (const s of snippets) {
      const name = fileNameOf(s);
      byFile.set(name, s);
      // `export {}` last, so a block without imports is a module too and line numbers are kept.
      writeFileSync(join(work, name), `${s.code}\nexport {};\n`);
    }
    const tsconfig = {
      extends: relative(work, join(root, 'tsconfig.json')),
      compilerOptions: { strict: true, noEmit: true, rootDir: root, paths: sourcePaths(root) },
      files: [...byFile.keys()],
      include: [],
    };
    writeFileSync(join(work, 'tsconfig.json'), JSON.stringify(tsconfig, null, 2));
    const tsc = join(dirname(createRequire(join(root, 'package.json')).resolve('typescript/package.json')), 'bin', 'tsc');
    const started = Date.now();
    let output = '';
    try {
      output = execFileSync(process.execPath, [tsc, '-p', join(work, 'tsconfig.json'), '--pretty', 'false'], { cwd: root, encoding: 'utf8' });
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; status?: number };
      output = `${e.stdout ?? ''}${e.stderr ?? ''}`;
      if (output.trim() === '') throw err;
    }
    const ms = Date.now() - started;
    const all = parseOutput(output, work, root, byFile);
    const inSnippets = (p: Problem): boolean => p.where === '(tsc)' || snippets.some((s) => p.where.startsWith(`${s.doc}:`));
    return { problems: all.filter(inSnippets), elsewhere: all.filter((p) => !inSnippets(p)), output, ms };
  } finally {
    rmSync(work, { recursive: true, force: true });
    removeIfEmpty(base);
    removeIfEmpty(dirname(base));
  }
}

function removeIfEmpty(dir: string): void {
  try {
    if (existsSync(dir) && readdirSync(dir).length === 0) rmdirSync(dir);
  } catch {
    // another run is using it
  }
}

/** tsc's `file(line,col): error TSxxxx: message` lines (with continuation lines) as problems. */
function parseOutput(output: string, work: string, root: string, byFile: Map<string, Snippet>): Problem[] {
  const problems: Problem[] = [];
  for (const line of output.split(/\r?\n/)) {
    const m = /^(.+?)\((\d+),(\d+)\): (error TS\d+: .*)$/.exec(line);
    if (m) {
      const [, file, l, c, message] = m;
      const abs = resolve(root, file);
      const s = dirname(abs) === work ? byFile.get(basename(abs)) : undefined;
      const where = s !== undefined ? `${s.doc}:${s.line + Number(l) - 1}:${c}` : `${relative(root, abs)}:${l}:${c}`;
      problems.push({ where, message });
    } else if (line.startsWith(' ') && problems.length > 0) {
      problems[problems.length - 1].message += `\n${line}`;
    } else if (/error TS\d+/.test(line)) {
      problems.push({ where: '(tsc)', message: line });
    }
  }
  return problems;
}

export function formatProblems(problems: Problem[]): string {
  return problems.map((p) => `${p.where}: ${p.message}`).join('\n');
}
