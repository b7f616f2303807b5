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

/** The backends there are. */
export type BackendName = 'mmap';

/** The options of every backend, flat: the one chosen reads its own (another backend adds its option here). */
export interface BackendOptions extends MmapBackendOptions {}

/** The backend the options choose. */
export function backendOf(_options: BackendOptions): BackendName {
  return 'mmap';
}

/** The driver of backend `name`, loaded on first use. */
export async function loadDriver(name: BackendName): Promise<BackendDriver> {
  switch (name) {
    case 'mmap':
      return (await import('./mmap/driver.js')).mmapDriver as unknown as BackendDriver;
    default:
      throw sessmapError('SESSMAP_ERR_INVALID_OPTION', `backend '${String(name)}' is not one this sessmap has (the cluster primary and its workers may run different versions)`, { option: 'backend' });
  }
}
