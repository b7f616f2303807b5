/**
 * sessmap as a user installs it: `npm pack` of a fresh copy of the project (it must build dist/
 * by itself), installed with npm into a consumer project the way the README says (with npm 11's
 * `allowScripts` for the native binding, enforced by `--strict-allow-scripts`), then every subpath
 * of the tarball's `exports` imported, the declarations type-checked under node16 and bundler
 * resolution, a two-worker cluster of express apps sharing a session, metrics without prom-client
 * (an optional peer the consumer did not install) failing with their coded error, the `sessmap`
 * command run with npx on a file, and a second install with `--ignore-scripts` (the native binding
 * never built) that still imports and fails with the coded error on the first file mapped.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { REPO_ROOT } from '../helpers/paths.js';
import {
  ALLOW_SCRIPTS, check, exportTargets, npmInstall, packFreshCopy, run, subpathSpecifiers, typeCheck, writeConsumer, writeTypeCheck,
  type Packed,
} from './consumer.js';

const SETUP_TIMEOUT = 300_000;
const TEST_TIMEOUT = 120_000;

let root: string;
let packed: Packed;
let consumer: string;
let bare: string;
let specifiers: string[];
let installLog: string;
/** The consumer's cluster app while it runs; killed after the tests if a failure left it running. */
let app: ChildProcess | undefined;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'sessmap-consumer-'));
  packed = await packFreshCopy(root);
  specifiers = subpathSpecifiers('sessmap', packed.manifest.exports);
  consumer = join(root, 'consumer');
  bare = join(root, 'consumer-ignore-scripts');
  writeConsumer(consumer, packed.tarball);
  writeConsumer(bare, packed.tarball);
  writeTypeCheck(consumer, specifiers.filter((s) => !s.endsWith('.json')));
  const [full, noScripts] = await Promise.all([
    npmInstall(consumer, ['--strict-allow-scripts']),
    npmInstall(bare, ['--ignore-scripts']),
  ]);
  installLog = check('npm install (as the README says)', full).stderr;
  check('npm install --ignore-scripts', noScripts);
}, SETUP_TIMEOUT);

afterAll(async () => {
  if (app !== undefined && app.exitCode === null && app.signalCode === null) {
    app.kill('SIGKILL');
    await once(app, 'exit');
  }
  if (root !== undefined) rmSync(root, { recursive: true, force: true });
});

describe('the package a user installs', () => {
  it('holds a built dist/ with every file its exports map names, and no tests', () => {
    const targets = exportTargets(packed.manifest.exports);
    expect(targets.length).toBeGreaterThan(0);
    expect(targets.filter((t) => !packed.files.includes(t)), 'exports targets missing from the tarball').toEqual([]);
    expect(packed.files.filter((f) => /(^|\/)test\/|\.test\.|\.spec\./.test(f)), 'test files in the tarball').toEqual([]);
    expect(packed.files.filter((f) => f.startsWith('dist/') && f.endsWith('.js')).length).toBeGreaterThan(0);
  });

  it('installs with the allowScripts entry the README gives, enforced, which builds the addon', () => {
    const entry = `"allowScripts": { ${Object.entries(ALLOW_SCRIPTS).map(([k, v]) => `"${k}": ${v}`).join(', ')} }`;
    expect(readme(), 'the README gives the entry the consumer uses').toContain(entry);
    expect(installLog).not.toMatch(/not yet covered by allowScripts/);
    expect(addons(consumer), 'built addon after the install').not.toEqual([]);
    expect(addons(bare), 'built addon after --ignore-scripts').toEqual([]);
  });

  it('depends on exactly what its built code and declarations import; pino, prom-client and the frameworks are optional peers', () => {
    const pkg = join(consumer, 'node_modules', 'sessmap');
    const manifest = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
      peerDependencies?: Record<string, string>;
      peerDependenciesMeta?: Record<string, { optional?: boolean }>;
    };
    const deps = Object.keys(manifest.dependencies ?? {});
    const peers = Object.keys(manifest.peerDependencies ?? {});
    const built = packed.files.filter((f) => /\.(js|d\.ts)$/.test(f)).map((f) => readFileSync(join(pkg, f), 'utf8'));
    // A dependency earns its place when some built file names it as a string (an import, or the binding's require).
    const quoted = (name: string): boolean => built.some((text) => text.includes(`'${name}'`) || text.includes(`"${name}"`));
    expect(deps.filter((d) => !quoted(d)), 'dependencies no built file imports').toEqual([]);
    const imported = new Set(built.flatMap((text) => [...text.matchAll(/(?:from\s+|import\s*\(\s*|require\s*\(\s*|import\s+)['"]([^'"./][^'"]*)['"]/g)].map((m) => packageOf(m[1]))));
    const known = new Set([...deps, ...peers, 'sessmap']);
    expect([...imported].filter((n) => !n.startsWith('node:') && !known.has(n)), 'imported by built files but neither a dependency nor a peer').toEqual([]);
    for (const optional of ['pino', 'express-session', '@fastify/session', 'koa-session', 'prom-client']) {
      expect(manifest.peerDependenciesMeta?.[optional]?.optional, `${optional} is an optional peer`).toBe(true);
    }
    expect(deps).not.toContain('pino');
    // The app and imports below run without pino installed.
    expect(existsSync(join(consumer, 'node_modules', 'pino'))).toBe(false);
  });

  it('imports every subpath of its exports map from the installed package', async () => {
    const r = check('imports', await run(process.execPath, ['imports.mjs', ...specifiers], consumer));
    const results = JSON.parse(r.stdout) as Record<string, { exports?: string[]; error?: string }>;
    for (const spec of specifiers) {
      expect(results[spec]?.error, `import('${spec}')`).toBeUndefined();
      expect(results[spec]?.exports?.length, `exports of ${spec}`).toBeGreaterThan(0);
    }
    expect(results['sessmap']?.exports).toEqual(expect.arrayContaining(['SharedCache', 'setupPrimary', 'attachWorker', 'openSessionStore']));
    expect(results['sessmap/express-session']?.exports).toContain('SessmapStore');
  }, TEST_TIMEOUT);

  for (const resolution of ['node16', 'bundler'] as const) {
    it(`type-checks a strict consumer with moduleResolution ${resolution} and skipLibCheck off`, async () => {
      const r = await typeCheck(consumer, resolution);
      expect(`${r.stdout}${r.stderr}`.trim(), `tsc -p tsconfig.${resolution}.json`).toBe('');
      expect(r.code).toBe(0);
    }, TEST_TIMEOUT);
  }

  it('shares a session between the two workers of a cluster on sessmap/express-session', async () => {
    const dir = join(root, 'run');
    mkdirSync(dir, { mode: 0o700 });
    const child = spawn(process.execPath, ['app.mjs'], {
      cwd: consumer,
      env: { ...process.env, SESSMAP_CONSUMER_PATH: join(dir, 'sessions.smap') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    app = child;
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    try {
      const workers = await firstLine<{ workers: Array<{ pid: number; port: number }> }>(child, () => stderr);
      expect(workers.workers).toHaveLength(2);
      const [a, b] = workers.workers;
      expect(a.pid).not.toBe(b.pid);

      const written = await fetch(`http://127.0.0.1:${a.port}/note/shared-through-the-file`, { method: 'POST' });
      expect(written.status).toBe(200);
      expect(((await written.json()) as { pid: number }).pid).toBe(a.pid);
      const cookie = written.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
      expect(cookie).toMatch(/^connect\.sid=/);

      const read = await fetch(`http://127.0.0.1:${b.port}/note`, { headers: { cookie } });
      expect(read.status).toBe(200);
      expect(await read.json()).toEqual({ pid: b.pid, note: 'shared-through-the-file' });

      const none = await fetch(`http://127.0.0.1:${b.port}/note`);
      expect(await none.json()).toEqual({ pid: b.pid, note: null });
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const [code] = (await once(child, 'exit')) as [number | null];
        expect(code, stderr).toBe(0);
      }
    }
  }, TEST_TIMEOUT);

  it('without prom-client, fails metrics with SESSMAP_ERR_METRICS_CLIENT naming the install, and serves sessions all the same', async () => {
    const dir = join(root, 'run-no-prom-client');
    mkdirSync(dir, { mode: 0o700 });
    const r = check('no-prom-client', await run(process.execPath, ['no-prom-client.mjs', dir], consumer));
    const out = JSON.parse(r.stdout) as Record<string, { code?: string; message?: string } | boolean | string>;
    for (const how of ['registerMetrics', 'setupPrimary']) {
      const e = out[how] as { code?: string; message?: string };
      expect(e?.code, `${how}: ${JSON.stringify(e)}`).toBe('SESSMAP_ERR_METRICS_CLIENT');
      expect(e?.message).toContain('npm install prom-client');
    }
    expect(out.served).toBe(true);
  }, TEST_TIMEOUT);

  it('installs the sessmap command: npx sessmap runs it on a file, and fails with a coded error on none', async () => {
    expect((packed.manifest as { bin?: Record<string, string> }).bin).toEqual({ sessmap: 'dist/cli/main.js' });
    expect(readFileSync(join(consumer, 'node_modules', 'sessmap', 'dist', 'cli', 'main.js'), 'utf8')).toMatch(/^#!\/usr\/bin\/env node\n/);
    const help = check('npx sessmap --help', await run('npx', ['sessmap', '--help'], consumer));
    expect(help.stdout).toContain('Usage: sessmap <command> FILE');

    const dir = join(root, 'run-cli');
    mkdirSync(dir, { mode: 0o700 });
    const file = join(dir, 'cli.smap');
    const make = "import { SharedCache } from 'sessmap'; const c = SharedCache.create(process.argv[1], { size: '1m' }); c.set('s:secret-id', { n: 1 }); c.close();";
    check('create a file', await run(process.execPath, ['--input-type=module', '-e', make, file], consumer));
    const stats = JSON.parse(check('npx sessmap stats', await run('npx', ['sessmap', 'stats', file, '--json'], consumer)).stdout) as { entries: number; sets: number };
    expect(stats).toMatchObject({ entries: 1, sets: 1 });
    const keys = check('npx sessmap keys', await run('npx', ['sessmap', 'keys', file], consumer));
    expect(keys.stdout).toMatch(/s:#[0-9a-f]{16}\n$/);
    expect(keys.stdout).not.toContain('secret-id');
    expect((await run('npx', ['sessmap', 'verify', file], consumer)).code).toBe(0);

    const missing = await run('npx', ['sessmap', 'stats', join(dir, 'none.smap')], consumer);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^sessmap: SESSMAP_ERR_FILE_NOT_FOUND: /m);
  }, TEST_TIMEOUT);

  it('without its native binding built, still imports, and the first file mapped fails with SESSMAP_ERR_NATIVE_BINDING naming the fix', async () => {
    const imports = JSON.parse(check('imports', await run(process.execPath, ['imports.mjs', ...specifiers], bare)).stdout) as Record<string, { error?: string }>;
    for (const spec of specifiers) expect(imports[spec]?.error, `import('${spec}') without the binding`).toBeUndefined();

    const dir = join(root, 'run-bare');
    mkdirSync(dir, { mode: 0o700 });
    const r = check('no-binding', await run(process.execPath, ['no-binding.mjs', dir], bare));
    const out = JSON.parse(r.stdout) as Record<string, { code?: string; message?: string; causeCode?: string; fileLeft?: boolean }>;
    for (const how of ['create', 'openSessionStore', 'expressStore']) {
      const e = out[how];
      expect(e?.code, `${how}: ${JSON.stringify(e)}`).toBe('SESSMAP_ERR_NATIVE_BINDING');
      expect(e?.message).toContain('npm rebuild @riaskov/mmap-io');
      expect(e?.message).toContain('npm approve-scripts @riaskov/mmap-io');
      expect(e?.message).toMatch(/python3, make and a C\+\+ compiler/);
      expect(e?.causeCode, 'the loader error is the cause').toBe('MODULE_NOT_FOUND');
      expect(e?.fileLeft, 'no half-made file is left at the path').toBe(false);
    }
    expect(readme().split('\n'), 'the README quotes the error as it is').toContain(`SessmapError: ${out.create?.message}`);
  }, TEST_TIMEOUT);
});

/** The first stdout line of a child, parsed; rejects with its stderr if it exits first. */
function firstLine<T>(child: ChildProcess, stderr: () => string): Promise<T> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const onExit = (code: number | null, signal: string | null): void => reject(new Error(`app exited (${code ?? signal}) before listening:\n${stderr()}`));
    child.once('exit', onExit);
    lines.once('line', (line) => {
      child.off('exit', onExit);
      lines.close();
      resolve(JSON.parse(line) as T);
    });
  });
}

/** The compiled .node files of the native binding in a consumer. */
function addons(project: string): string[] {
  const build = join(project, 'node_modules', '@riaskov', 'mmap-io', 'build');
  if (!existsSync(build)) return [];
  return readdirSync(build, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.node'));
}

/** The package a bare specifier belongs to: `@scope/name` or `name` (`node:x` stays as it is). */
function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

function readme(): string {
  return readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
}
