/**
 * The package as a user gets it: the project packed from a copy that has what a fresh clone has
 * (no node_modules, no dist: `npm pack` must build it), and consumer projects in temp dirs that
 * install the tarball with npm the way the README says, run fixture scripts and type-check
 * against it. Commands are real npm and node processes; nothing is stubbed.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { REPO_ROOT, FIXTURES_DIR } from '../helpers/paths.js';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** What npm's own lifecycle put in the environment (when the suite runs under `npm test`); not passed on. */
const INHERITED_NPM = /^npm_(lifecycle_|package_|config_(ignore_scripts|strict_allow_scripts|allow_scripts|dangerously_allow_all_scripts)$)/i;

function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!INHERITED_NPM.test(k)) env[k] = v;
  return { ...env, ...extra };
}

/** Runs a command to its end; never rejects on a non-zero exit (the caller checks `code`). */
export function run(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    p.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    p.on('error', reject);
    p.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Throws with the command's output unless it exited 0. */
export function check(what: string, r: RunResult): RunResult {
  if (r.code !== 0) throw new Error(`${what} failed (${r.code ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** Top-level entries a fresh clone does not have (see .gitignore). */
const NOT_IN_A_CLONE = new Set(['node_modules', 'dist', '.git', 'coverage', '.tmp']);

export interface Packed {
  /** Absolute path of the .tgz. */
  tarball: string;
  /** Paths inside the package, as `npm pack` lists them. */
  files: string[];
  /** The package.json that went into the tarball. */
  manifest: { exports: Record<string, unknown>; dependencies?: Record<string, string> };
}

/**
 * Copies the project without what a clone lacks, links the project's node_modules in (the build
 * tools), and packs the copy into `dir`. The copy never has a dist/ of an earlier build.
 */
export async function packFreshCopy(dir: string): Promise<Packed> {
  const clone = join(dir, 'clone');
  cpSync(REPO_ROOT, clone, {
    recursive: true,
    filter: (src) => {
      const top = relative(REPO_ROOT, src).split(sep)[0];
      return !NOT_IN_A_CLONE.has(top);
    },
  });
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(clone, 'node_modules'), 'dir');
  const r = check('npm pack', await run('npm', ['pack', '--json', '--pack-destination', dir], clone));
  // Lifecycle scripts may print before the JSON array.
  const report = JSON.parse(r.stdout.slice(r.stdout.search(/^\[/m))) as Array<{ filename: string; files: Array<{ path: string }> }>;
  const tarball = join(dir, report[0].filename);
  mkdirSync(join(dir, 'unpacked'));
  check('tar', await run('tar', ['-xzf', tarball, '-C', join(dir, 'unpacked'), 'package/package.json'], dir));
  const manifest = JSON.parse(readFileSync(join(dir, 'unpacked', 'package', 'package.json'), 'utf8')) as Packed['manifest'];
  return { tarball, files: report[0].files.map((f) => f.path), manifest };
}

/** The specifier a consumer imports each subpath of an `exports` map by (`.` is the bare name). */
export function subpathSpecifiers(name: string, exports: Record<string, unknown>): string[] {
  return Object.keys(exports).map((k) => (k === '.' ? name : `${name}/${k.replace(/^\.\//, '')}`));
}

/** Every file an `exports` map points at (all conditions), relative to the package root. */
export function exportTargets(exports: Record<string, unknown>): string[] {
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (typeof v === 'string') out.push(v.replace(/^\.\//, ''));
    else if (v !== null && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(exports);
  return out;
}

/** The allowScripts entry the README tells npm 11 users to add. */
export const ALLOW_SCRIPTS = { '@riaskov/mmap-io': true, 'msgpackr-extract': false };

/**
 * Writes a consumer project (`type: module`, express, express-session, the types a TypeScript
 * consumer installs, the README's `allowScripts`) with sessmap from the tarball, and copies the
 * fixture scripts of test/fixtures/consumer into it. Versions are the project's own dev ones, so
 * the npm cache has them.
 */
export function writeConsumer(dir: string, tarball: string): void {
  const own = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
  const pick = (...names: string[]): Record<string, string> => Object.fromEntries(names.map((n) => [n, own.devDependencies[n]]));
  mkdirSync(dir, { recursive: true });
  const pkg = {
    name: 'sessmap-consumer',
    version: '1.0.0',
    private: true,
    type: 'module',
    dependencies: { sessmap: `file:${tarball}`, ...pick('express', 'express-session') },
    devDependencies: pick('@types/express', '@types/express-session', '@types/node'),
    allowScripts: ALLOW_SCRIPTS,
  };
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  cpSync(join(FIXTURES_DIR, 'consumer'), dir, { recursive: true });
}

/** `npm install` in a consumer, from the npm cache where it can. */
export function npmInstall(dir: string, extra: string[] = []): Promise<RunResult> {
  return run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--no-package-lock', ...extra], dir);
}

/** Module and resolution settings a consumer may use; each is type-checked. */
export const RESOLUTIONS = {
  node16: { module: 'node16', moduleResolution: 'node16' },
  bundler: { module: 'preserve', moduleResolution: 'bundler' },
} as const;

/**
 * Writes `usage.ts` (imports every subpath and uses the main API) and a tsconfig per resolution
 * (`strict`, `skipLibCheck: false`: every .d.ts the package ships or needs is checked).
 */
export function writeTypeCheck(dir: string, specifiers: string[]): void {
  const imports = specifiers.map((s, i) => `import * as subpath${i} from '${s}';`).join('\n');
  const uses = specifiers.map((_, i) => `subpath${i}`).join(', ');
  writeFileSync(join(dir, 'usage.ts'), `${imports}\n${USAGE}\nexport const everySubpath = [${uses}];\n`);
  for (const [name, o] of Object.entries(RESOLUTIONS)) {
    const tsconfig = {
      compilerOptions: { ...o, target: 'es2022', strict: true, skipLibCheck: false, noEmit: true },
      files: ['usage.ts'],
    };
    writeFileSync(join(dir, `tsconfig.${name}.json`), `${JSON.stringify(tsconfig, null, 2)}\n`);
  }
}

/** Runs the project's own TypeScript on a consumer's tsconfig. */
export function typeCheck(dir: string, resolution: keyof typeof RESOLUTIONS): Promise<RunResult> {
  const tsc = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  return run(process.execPath, [tsc, '-p', `tsconfig.${resolution}.json`, '--pretty', 'false'], dir);
}

/** The main API as a consumer writes it (type-checked, never run): the README's uses. */
const USAGE = `
import cluster from 'node:cluster';
import express from 'express';
import session from 'express-session';
import {
  SharedCache, UNCHANGED, ERROR_CODES, isSessmapError, defaultCacheDir, setupPrimary, attachWorker, openSessionStore,
  type CacheStats, type ErrorCode, type Logger, type SessionEvents, type SessionRecord, type SessionStore,
} from 'sessmap';
import { SessmapStore } from 'sessmap/express-session';
import { SessmapFastifyStore } from 'sessmap/fastify-session';
import { SessmapKoaStore } from 'sessmap/koa-session';
import { registerMetrics, type MetricsRegistry } from 'sessmap/metrics';

declare module 'express-session' {
  interface SessionData {
    views: number;
  }
}

type Cart = { user: number; cart: string[] };

const cache = SharedCache.create(\`\${defaultCacheDir()}/usage.cache\`, { size: '1m', defaultTtl: 60_000, evictionPolicy: 'lru' });
const shared = SharedCache.open(cache.path, { lockTimeout: 500 });
shared.set('cart:1', { user: 1, cart: [] } satisfies Cart, { ttl: 15 * 60_000, priority: 'low' });
const cart = shared.get('cart:1') as Cart | undefined;
const hits = shared.update('hits', (n) => (typeof n === 'number' ? n + 1 : n === undefined ? 1 : UNCHANGED));
const left: number | undefined = shared.ttl('cart:1');
const stats: CacheStats = shared.stats();
shared.close();
cache.close();

try {
  SharedCache.open('/nonexistent/usage.cache');
} catch (err) {
  if (isSessmapError(err, 'SESSMAP_ERR_FILE_NOT_FOUND')) {
    const code: ErrorCode = err.code;
    const text: string = ERROR_CODES[code];
    void text;
  }
}

const logger: Logger = { info() {}, warn() {}, error() {}, debug() {}, child: () => logger };

if (cluster.isPrimary) {
  const sessions = setupPrimary({ maxSessions: 10_000, idleTimeout: 30 * 60_000, absoluteTimeout: 24 * 3600_000, logger, metrics: { port: 9464 } });
  const endpoint: { url: string } | undefined = await sessions.metrics;
  void endpoint;
  sessions.events.on('evicted', (e) => {
    if (e.live) console.warn('cache too small', e.sid, e.ttlLeft);
  });
  const firstEvicted: SessionEvents['evicted'][0] | undefined = undefined;
  void firstEvicted;
  cluster.fork();
} else {
  const store: SessionStore = await attachWorker();
  const s: SessionRecord = await store.createSession({ views: 0 });
  await store.updateSession(s.id, (d) => ({ ...d, views: Number(d.views) + 1 }));
  const again: SessionRecord | undefined = await store.getSession(s.id);
  void again;
  const app = express();
  app.use(session({ store: new SessmapStore(), secret: 'usage', resave: false, saveUninitialized: false }));
  app.get('/', (req, res) => {
    req.session.views = (req.session.views ?? 0) + 1;
    res.json({ views: req.session.views });
  });
}

const alone: SessionStore = await openSessionStore({ path: '/tmp/usage-sessions.smap', size: '1m' });
await alone.close();
const stores = [new SessmapFastifyStore({ path: '/tmp/usage-f.smap' }), new SessmapKoaStore({ path: '/tmp/usage-k.smap' })];
const ready: SessionStore[] = await Promise.all(stores.map((x) => x.ready));
// Without prom-client installed: a registry of the app's own shape type-checks against sessmap's declarations.
const registry: MetricsRegistry = { registerMetric() {}, removeSingleMetric() {}, getSingleMetric: () => undefined };
const exported = registerMetrics({ register: registry, path: '/tmp/usage-sessions.smap', store: alone });
exported.unregister();
export const used = { cart, hits, left, stats, ready };
`;
