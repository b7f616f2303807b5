/**
 * A backend is loaded with import() when it is chosen, never by importing sessmap: a process
 * that imports every entry point has not loaded the native mmap binding, node-redis or prom-client
 * (which `sessmap/metrics` loads only when it is used), one that imports the framework stores has
 * loaded nothing of the mmap backend or the core either, and opening a store then loads both. Each
 * case is a fresh child process (a module loaded once stays loaded).
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/paths.js';
import { useTmpDir } from '../helpers/tmp.js';
import { sourcePaths } from '../docs/snippets.js';

const run = promisify(execFile);
const FIXTURE = join(REPO_ROOT, 'test', 'fixtures', 'backends', 'lazy-imports.ts');

interface Report {
  binding: boolean;
  redis: boolean;
  promClient: boolean;
  modules: string[];
}

async function imports(storePath: string, specs: string[]): Promise<{ imported: Report; opened?: Report }> {
  const paths = sourcePaths(REPO_ROOT);
  const files = specs.map((s) => {
    const p = paths[s]?.[0];
    if (p === undefined) throw new Error(`${s} is not a subpath of package.json exports`);
    return p;
  });
  const { stdout } = await run(process.execPath, ['--import', 'tsx', FIXTURE, storePath, ...files], { cwd: REPO_ROOT, timeout: 60_000 });
  return JSON.parse(stdout.trim().split('\n').pop()!) as { imported: Report; opened?: Report };
}

const ADAPTERS = ['sessmap/express-session', 'sessmap/fastify-session', 'sessmap/koa-session'];
const isMmapBackend = (m: string): boolean => m.startsWith('backends/mmap/');
const isCore = (m: string): boolean => m.startsWith('core/');

describe('loading a backend', () => {
  const tmp = useTmpDir();

  it('imports every entry point without loading the native binding', async () => {
    const all = Object.keys(sourcePaths(REPO_ROOT));
    expect(all).toEqual(expect.arrayContaining(['sessmap', ...ADAPTERS]));
    const r = await imports('-', all);
    expect(r.imported.modules.length).toBeGreaterThan(10);
    expect(r.imported.binding, '@riaskov/mmap-io in the require cache after importing every entry point').toBe(false);
    expect(r.imported.redis, 'node-redis loaded by importing every entry point').toBe(false);
    expect(r.imported.promClient, 'prom-client loaded by importing every entry point (sessmap/metrics included)').toBe(false);
  });

  it('imports the framework stores without loading the mmap backend or the core, and loads both when a store opens', async () => {
    const r = await imports(tmp.path('lazy.smap'), ADAPTERS);
    expect(r.imported.modules).toEqual(expect.arrayContaining(['adapters/express-session.ts', 'adapters/fastify-session.ts', 'adapters/koa-session.ts', 'cluster/compose.ts']));
    expect(r.imported.modules.filter(isMmapBackend)).toEqual([]);
    expect(r.imported.modules.filter(isCore)).toEqual([]);
    expect(r.imported.binding).toBe(false);

    expect(r.opened!.binding, '@riaskov/mmap-io in the require cache once a store is open').toBe(true);
    expect(r.opened!.modules).toEqual(expect.arrayContaining(['backends/mmap/backend.ts', 'backends/mmap/driver.ts', 'core/index.ts']));
    // An app on the file never loads node-redis, nor the Redis backend.
    expect(r.opened!.redis, 'node-redis loaded by a store on the file').toBe(false);
    expect(r.opened!.promClient, 'prom-client loaded by a store without metrics').toBe(false);
    expect(r.opened!.modules.filter((m) => m.startsWith('backends/redis/'))).toEqual([]);
  });
});
