/**
 * Reading the docs' option and event tables, and the interfaces they describe, so that a test
 * can hold one against the other (tables.test.ts).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Rows of the first markdown table after the heading that starts with `heading`: cells, trimmed. */
export function tableAfter(markdown: string, heading: string): string[][] {
  const lines = markdown.split(/\r?\n/);
  const at = lines.findIndex((l) => /^#+\s/.test(l) && l.replace(/^#+\s+/, '').startsWith(heading));
  if (at < 0) throw new Error(`no heading "${heading}"`);
  let i = at + 1;
  while (i < lines.length && !lines[i].startsWith('|')) {
    if (/^#+\s/.test(lines[i])) throw new Error(`no table under "${heading}"`);
    i++;
  }
  const rows: string[][] = [];
  for (; i < lines.length && lines[i].startsWith('|'); i++) {
    const cells = lines[i].replace(/^\|/, '').replace(/\|\s*$/, '').split('|').map((c) => c.trim());
    if (cells.every((c) => /^:?-+:?$/.test(c))) continue;
    rows.push(cells);
  }
  return rows.slice(1); // the header row
}

/** The `code` names of a cell: "`size`, or `maxSessions` + `averageSessionBytes`" gives all three. */
export function namesIn(cell: string): string[] {
  return [...cell.matchAll(/`([A-Za-z_$][\w$]*)\??`/g)].map((m) => m[1]);
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sourceFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

function stripComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"])\/\/.*$/gm, '$1');
}

/** The body (between its braces) of `export interface <name>` or `export type <name> = {`, found anywhere under src. */
export function declarationBody(srcDir: string, name: string): string {
  const re = new RegExp(`export\\s+(?:interface\\s+${name}\\b[^{]*|type\\s+${name}\\s*=\\s*)\\{`);
  for (const file of sourceFiles(srcDir)) {
    const text = stripComments(readFileSync(file, 'utf8'));
    const m = re.exec(text);
    if (!m) continue;
    let depth = 0;
    const start = m.index + m[0].length;
    for (let i = start - 1; i < text.length; i++) {
      if (text[i] === '{') depth++;
      else if (text[i] === '}' && --depth === 0) return text.slice(start, i);
    }
  }
  throw new Error(`no declaration of ${name} under ${srcDir}`);
}

/** Top-level members of a declaration body: `name` -> its type text. */
export function members(body: string): Map<string, string> {
  const out = new Map<string, string>();
  let depth = 0;
  let current = '';
  const flush = (): void => {
    const m = /^\s*(?:readonly\s+)?([A-Za-z_$][\w$]*)\??\s*:\s*([\s\S]*)$/.exec(current);
    if (m) out.set(m[1], m[2].trim());
    current = '';
  };
  for (let i = 0; i < body.length; i++) {
    const ch = body[i];
    if ('{[(<'.includes(ch)) depth++;
    else if ('}])'.includes(ch) || (ch === '>' && body[i - 1] !== '=')) depth--;
    if (depth === 0 && (ch === ';' || ch === '\n')) {
      if (current.trim() !== '') flush();
      current = '';
      continue;
    }
    current += ch;
  }
  if (current.trim() !== '') flush();
  return out;
}

/**
 * Field names of a payload type such as `SessionRef & { readonly version: number }`: inline
 * members plus those of the named interfaces it intersects (recursively, with their `extends`).
 */
export function payloadFields(srcDir: string, type: string): string[] {
  const fields = new Set<string>();
  const inline = [...type.matchAll(/\{([^{}]*)\}/g)];
  for (const m of inline) for (const k of members(m[1]).keys()) fields.add(k);
  const named = type.replace(/\{[^{}]*\}/g, '').split('&').map((s) => s.trim()).filter((s) => /^[A-Z]\w*$/.test(s));
  for (const n of named) {
    for (const k of members(declarationBody(srcDir, n)).keys()) fields.add(k);
    for (const base of extendsOf(srcDir, n)) for (const k of payloadFields(srcDir, base)) fields.add(k);
  }
  return [...fields];
}

function extendsOf(srcDir: string, name: string): string[] {
  for (const file of sourceFiles(srcDir)) {
    const m = new RegExp(`export\\s+interface\\s+${name}\\s+extends\\s+([^{]+)\\{`).exec(readFileSync(file, 'utf8'));
    if (m) return m[1].split(',').map((s) => s.trim());
  }
  return [];
}

/** Public members of `export class <name>` under src: methods, getters, static and readonly fields. */
export function publicMembers(srcDir: string, name: string): string[] {
  for (const file of sourceFiles(srcDir)) {
    const text = readFileSync(file, 'utf8');
    const start = text.search(new RegExp(`^export class ${name}\\b`, 'm'));
    if (start < 0) continue;
    const end = text.indexOf('\n}\n', start);
    const body = stripComments(text.slice(start, end < 0 ? undefined : end));
    const out = new Set<string>();
    for (const m of body.matchAll(/^ {2}(?:static\s+)?(?:readonly\s+)?(?:get\s+)?\*?([A-Za-z_$][\w$]*)\s*[<(:]/gm)) {
      if (m[1] !== 'constructor' && m[1] !== 'private' && m[1] !== 'protected') out.add(m[1]);
    }
    return [...out].sort();
  }
  throw new Error(`no class ${name} under ${srcDir}`);
}

/** Names a cell shows as code, called or not: "`get(key)` / `getMany(keys)`" gives get and getMany. */
export function calledNamesIn(cell: string): string[] {
  return [...cell.matchAll(/`([^`]*)`/g)].flatMap((m) => [...m[1].matchAll(/(?:^|\s|\.)([A-Za-z_$][\w$]*)(?=\(|$|\?)/g)].map((x) => x[1]));
}
