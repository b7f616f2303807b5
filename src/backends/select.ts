/**
 * Where the backend is chosen. The options name their backend (the mmap file when no other
 * backend's option is given); its module is loaded with import() here, when it is chosen, so
 * importing the adapters or the cluster layer loads no backend, and an app on one backend never
 * loads another's module graph (nor, for the mmap file, the native binding).
 *
 * A backend is a folder of its own (backends/<name>/) exporting a {@link BackendDriver}; adding
 * one is that folder, its options in {@link BackendOptions}, and a branch in each function below.
 */
import { sessmapError } from '../errors.js';
import type { BackendDriver } from '../sessions/backend.js';
import type { MmapBackendOptions } from './mmap/options.js';
import type { RedisBackendOptions } from './redis/options.js';

/** The backends there are. */
export type BackendName = 'mmap' | 'redis';

/** The options of every backend, flat: the one chosen reads its own (another backend adds its option here). */
export interface BackendOptions extends MmapBackendOptions, RedisBackendOptions {}

/** The backend the options choose: Redis when the `redis` option is given, else the mmap file. */
export function backendOf(options: BackendOptions): BackendName {
  return options.redis !== undefined ? 'redis' : 'mmap';
}

const loaded = new Map<BackendName, BackendDriver>();

/**
 * The driver of backend `name` if it was loaded already (then a store opens synchronously, in
 * the call that asks for it, as it did before backends were loaded lazily), else undefined.
 */
export function loadedDriver(name: BackendName): BackendDriver | undefined {
  return loaded.get(name);
}

/** The driver of backend `name`, loaded on first use. */
export async function loadDriver(name: BackendName): Promise<BackendDriver> {
  const known = loaded.get(name);
  if (known !== undefined) return known;
  let driver: BackendDriver;
  switch (name) {
    case 'mmap':
      driver = (await import('./mmap/driver.js')).mmapDriver as unknown as BackendDriver;
      break;
    case 'redis':
      driver = (await import('./redis/driver.js')).redisDriver as unknown as BackendDriver;
      break;
    default:
      throw sessmapError('SESSMAP_ERR_INVALID_OPTION', `backend '${String(name)}' is not one this sessmap has (the cluster primary and its workers may run different versions)`, { option: 'backend' });
  }
  loaded.set(name, driver);
  return driver;
}
