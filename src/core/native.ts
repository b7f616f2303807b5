/**
 * The native mmap binding, `@riaskov/mmap-io`, loaded on first use.
 *
 * The binding is a C++ addon built by its install script (node-gyp, when no prebuilt binary can
 * be fetched). Loading it when the first file is mapped, not when a module is imported, keeps
 * `import('sessmap')` and the adapters working without it (a backend that maps no file never
 * needs it), and turns a build that did not run into one coded error that says how to fix it,
 * instead of a bare "Cannot find module .../mmap_io.node" at import time.
 */
import { createRequire } from 'node:module';
import { sessmapError, type SessmapError } from '../errors.js';

/** The part of `@riaskov/mmap-io` that sessmap uses. */
export interface MmapBinding {
  map(size: number, protection: number, flags: number, fd: number, offset?: number): Buffer;
  readonly PROT_READ: number;
  readonly PROT_WRITE: number;
  readonly MAP_SHARED: number;
}

/** The npm package of the binding, as users name it to rebuild it or allow its install script. */
export const BINDING_PACKAGE = '@riaskov/mmap-io';

const require = createRequire(import.meta.url);
let loaded: MmapBinding | undefined;

/**
 * The binding, loaded on the first call and kept.
 *
 * @throws SESSMAP_ERR_NATIVE_BINDING when it cannot be loaded (not installed, its build did not
 *   run or failed, or it was built for another Node.js); the loader's error is the `cause`.
 */
export function loadBinding(): MmapBinding {
  if (loaded !== undefined) return loaded;
  let mod: unknown;
  try {
    mod = require(BINDING_PACKAGE);
  } catch (err) {
    throw nativeBindingError(err);
  }
  const binding = (typeof mod === 'object' && mod !== null && 'default' in mod ? mod.default : mod) as Partial<MmapBinding> | null;
  if (typeof binding?.map !== 'function' || typeof binding.PROT_READ !== 'number' || typeof binding.MAP_SHARED !== 'number') {
    throw nativeBindingError(new TypeError(`${BINDING_PACKAGE} loaded but has no map() function and PROT_/MAP_ constants`));
  }
  loaded = binding as MmapBinding;
  return loaded;
}

/**
 * The coded error for a binding that failed to load: says what went wrong and how to fix it.
 * `cause` is the loader's own error (MODULE_NOT_FOUND, ERR_DLOPEN_FAILED, ...).
 */
export function nativeBindingError(cause: unknown): SessmapError {
  const e = cause as { code?: unknown; message?: unknown } | null;
  const reason = typeof e?.code === 'string' ? e.code : undefined;
  const original = String(e?.message ?? cause).split('\n')[0];
  const packageMissing = reason === 'MODULE_NOT_FOUND' && original.includes(`'${BINDING_PACKAGE}'`);
  const what = packageMissing
    ? `${BINDING_PACKAGE} is not installed (reinstall your dependencies)`
    : reason === 'ERR_DLOPEN_FAILED'
      ? `its compiled addon does not load in this Node.js ${process.version} (built for another version or platform, or damaged)`
      : 'its install script did not run or did not finish (the compiled addon is missing)';
  return sessmapError(
    'SESSMAP_ERR_NATIVE_BINDING',
    `sessmap cannot load its native binding ${BINDING_PACKAGE}: ${what}. Allow its install script (npm 11: ` +
      `\`npm approve-scripts ${BINDING_PACKAGE}\`) and build it: \`npm rebuild ${BINDING_PACKAGE}\` ` +
      '(needs python3, make and a C++ compiler)',
    { package: BINDING_PACKAGE, reason: reason ?? null, loaderMessage: original, nodeVersion: process.version },
    cause,
  );
}
