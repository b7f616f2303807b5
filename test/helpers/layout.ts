/**
 * The house rules of src/, as a function of its files' text: which layer each file is in, the
 * arrows (relative imports: static, `export ... from`, side-effect and `import()`, type-only ones
 * included) between them, and what breaks the rules. Used by test/layout.test.ts, on src/ and on
 * made-up trees that must fail.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix, relative } from 'node:path';

/**
 * Layers from the top down. An arrow may point down or within a layer (skipping levels is fine),
 * never up. `cli` is src/cli/ (the sessmap command, on top of everything); `entry` is src/index.ts
 * and src/open.ts; util and errors share the bottom.
 */
export const LAYERS = ['cli', 'entry', 'adapters', 'cluster', 'metrics', 'backends', 'sessions', 'events', 'core', 'base'] as const;
export type Layer = (typeof LAYERS)[number];

export const MAX_LINES = 450;

/** One import of a file: the specifier as written, and the src-relative file it resolves to. */
export interface Arrow {
  from: string;
  to: string;
  spec: string;
  dynamic: boolean;
}

export interface Violation {
  rule: 'upward' | 'cycle' | 'too-long' | 'unresolved' | 'barrel';
  message: string;
}

/** A tree of sources: src-relative path (posix) -> text. */
export type Tree = ReadonlyMap<string, string>;

export function readTree(srcDir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const f of readdirSync(dir)) {
      const p = join(dir, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.ts')) out.set(relative(srcDir, p).split('\\').join('/'), readFileSync(p, 'utf8'));
    }
  };
  walk(srcDir);
  return out;
}

/** The layer of a src-relative path. */
export function layerOf(file: string): Layer {
  if (file === 'index.ts' || file === 'open.ts') return 'entry';
  if (file === 'errors.ts' || file.startsWith('util/')) return 'base';
  const top = file.split('/')[0];
  if ((LAYERS as readonly string[]).includes(top)) return top as Layer;
  throw new Error(`src/${file} is in no layer: put it in one (or add its folder to LAYERS)`);
}

function stripComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"\\])\/\/.*$/gm, '$1');
}

/** The relative specifiers `text` imports: static (import/export ... from, bare import) and import(). */
export function importsOf(text: string): Array<{ spec: string; dynamic: boolean }> {
  const code = stripComments(text);
  const out: Array<{ spec: string; dynamic: boolean }> = [];
  for (const m of code.matchAll(/^\s*(?:import|export)\b[^;'"`]*?\bfrom\s*['"]([^'"]+)['"]/gm)) out.push({ spec: m[1], dynamic: false });
  for (const m of code.matchAll(/^\s*import\s*['"]([^'"]+)['"]/gm)) out.push({ spec: m[1], dynamic: false });
  for (const m of code.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push({ spec: m[1], dynamic: true });
  return out.filter((i) => i.spec.startsWith('.'));
}

/** Every arrow of the tree; imports that lead to no file of the tree are reported. */
export function arrowsOf(tree: Tree): { arrows: Arrow[]; unresolved: Violation[] } {
  const arrows: Arrow[] = [];
  const unresolved: Violation[] = [];
  for (const [from, text] of tree) {
    for (const { spec, dynamic } of importsOf(text)) {
      const to = posix.normalize(posix.join(posix.dirname(from), spec)).replace(/\.js$/, '.ts');
      if (!tree.has(to)) unresolved.push({ rule: 'unresolved', message: `src/${from} imports '${spec}', which is no file of src/` });
      else arrows.push({ from, to, spec, dynamic });
    }
  }
  return { arrows, unresolved };
}

/**
 * A folder's index.ts that package.json exports is a barrel: it only re-exports, and it gathers
 * its subpath's names from wherever they live (sessmap/cluster gives openSessionStore from
 * src/open.ts), so its own arrows are an entry point's. Arrows into it count as arrows into its folder.
 */
export function isBarrel(file: string, barrels: ReadonlySet<string>): boolean {
  return barrels.has(file);
}

/** The folder a file is in, as a node of the folder graph ('' for src/ itself). */
function folderOf(file: string): string {
  const d = posix.dirname(file);
  return d === '.' ? '' : d;
}

export function checkTree(tree: Tree, options: { barrels?: ReadonlySet<string> } = {}): Violation[] {
  const barrels = options.barrels ?? new Set<string>();
  const { arrows, unresolved } = arrowsOf(tree);
  const out: Violation[] = [...unresolved];
  const rank = (f: string): number => LAYERS.indexOf(layerOf(f));

  for (const a of arrows) {
    const fromRank = isBarrel(a.from, barrels) ? 0 : rank(a.from);
    if (rank(a.to) < fromRank) {
      out.push({ rule: 'upward', message: `src/${a.from} (${layerOf(a.from)}) imports${a.dynamic ? ' with import()' : ''} '${a.spec}' (${layerOf(a.to)}): an arrow pointing up` });
    }
  }

  for (const b of barrels) {
    const text = tree.get(b);
    if (text === undefined) continue;
    const other = stripComments(text).split('\n').filter((l) => l.trim() !== '' && !/^\s*export\b[^;]*\bfrom\s*['"][^'"]+['"];?\s*$/.test(l) && !/^\s*export\s*\*/.test(l));
    if (other.length > 0) out.push({ rule: 'barrel', message: `src/${b} is a package entry barrel and must only re-export; it has: ${other[0].trim()}` });
  }

  // Folders: an arrow between two folders in both directions, however long the way round, is a cycle.
  const edges = new Map<string, Set<string>>();
  for (const a of arrows) {
    if (isBarrel(a.from, barrels) || layerOf(a.from) === 'entry') continue;
    const [f, t] = [folderOf(a.from), folderOf(a.to)];
    if (f === t) continue;
    if (!edges.has(f)) edges.set(f, new Set());
    edges.get(f)!.add(t);
  }
  for (const cycle of folderCycles(edges)) out.push({ rule: 'cycle', message: `folders import each other: ${cycle.map((f) => `src/${f}`).join(' -> ')}` });

  for (const [file, text] of tree) {
    const lines = text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
    if (lines > MAX_LINES) out.push({ rule: 'too-long', message: `src/${file} has ${lines} lines (at most ${MAX_LINES}: split it by concern)` });
  }
  return out;
}

/** One cycle (as a closed path) per strongly connected set of folders. */
function folderCycles(edges: ReadonlyMap<string, ReadonlySet<string>>): string[][] {
  const cycles: string[][] = [];
  const done = new Set<string>();
  const visit = (node: string, path: string[]): void => {
    if (done.has(node)) return;
    const at = path.indexOf(node);
    if (at >= 0) {
      cycles.push([...path.slice(at), node]);
      return;
    }
    path.push(node);
    for (const next of edges.get(node) ?? []) visit(next, path);
    path.pop();
    done.add(node);
  };
  for (const node of [...edges.keys()].sort()) visit(node, []);
  return cycles;
}

/** The src-relative files package.json's exports point at that are a folder's index.ts. */
export function exportedBarrels(pkgFile: string): Set<string> {
  const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { exports: Record<string, unknown> };
  const out = new Set<string>();
  for (const target of Object.values(pkg.exports)) {
    const types = typeof target === 'object' && target !== null ? (target as { types?: unknown }).types : undefined;
    const m = typeof types === 'string' ? /^\.\/dist\/(.+\/index)\.d\.ts$/.exec(types) : null;
    if (m) out.add(`${m[1]}.ts`);
  }
  return out;
}

