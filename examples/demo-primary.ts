/**
 * setupPrimary for the examples. Each demo keeps its sessions in a file of its own,
 * `<defaultCacheDir()>/example-<name>.smap`, never in the default `sessions.smap` that an app's own
 * `setupPrimary()` uses: a demo sized for its few sessions must not leave a file that your app,
 * sized otherwise, would then refuse to attach to (SESSMAP_ERR_GEOMETRY_MISMATCH).
 *
 * With REDIS_URL in the environment (`REDIS_URL=redis://127.0.0.1:6379 npx tsx examples/express.ts`)
 * the demo keeps its sessions in Redis instead, under the prefix `example-<name>:`, as an app on
 * several hosts would; every host runs the same code with the same URL.
 *
 * A demo file left by a sessmap of another file format is started afresh, with a message.
 * sessmap itself never does this (SESSMAP_ERR_FILE_VERSION); an app that chooses to must know
 * that no process of the other version still uses the file.
 */
import { join } from 'node:path';
import { defaultCacheDir, isSessmapError, setupPrimary, type PrimaryHandle, type PrimaryOptions } from '../src/index.js';

/** The file of the demo called `name`. */
export function demoPath(name: string): string {
  return join(defaultCacheDir(), `example-${name}.smap`);
}

/** setupPrimary on the demo's own file ({@link demoPath}), or on Redis when REDIS_URL is set. */
export function setupDemoPrimary(name: string, options: Omit<PrimaryOptions, 'path'> = {}): PrimaryHandle {
  const url = process.env.REDIS_URL;
  if (url !== undefined && url !== '') {
    const { maxSessions: _file, ...rest } = options;
    return setupPrimary({ ...rest, redis: { url, prefix: `example-${name}:` } });
  }
  const o: PrimaryOptions = { ...options, path: demoPath(name) };
  try {
    return setupPrimary(o);
  } catch (err) {
    if (!isSessmapError(err, 'SESSMAP_ERR_FILE_VERSION')) throw err;
    console.log(`[primary] ${err.message}: reinitialising it`);
    return setupPrimary({ ...o, ifExists: 'reinit' });
  }
}
