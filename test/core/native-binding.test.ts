/**
 * The native binding's loader: the error each real way of failing to load it gives (the loader's
 * own errors, produced here by Node's loader on real files), and the binding of this checkout
 * loaded once. The install without a built binding is tested end to end in
 * test/package/consumer-install.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { BINDING_PACKAGE, loadBinding, nativeBindingError } from '../../src/core/native.js';
import { isSessmapError } from '../../src/errors.js';
import { useTmpDir } from '../helpers/tmp.js';

const tmp = useTmpDir();

/** What Node's loader throws for `specifier` required from `dir`. */
function loaderError(dir: string, specifier: string): NodeJS.ErrnoException {
  try {
    createRequire(join(dir, 'index.js'))(specifier);
  } catch (err) {
    return err as NodeJS.ErrnoException;
  }
  throw new Error(`${specifier} loaded`);
}

describe('the native binding', () => {
  it('is loaded once, on first use, with the map function and constants the file layer uses', () => {
    const b = loadBinding();
    expect(typeof b.map).toBe('function');
    expect(typeof b.PROT_READ).toBe('number');
    expect(typeof b.PROT_WRITE).toBe('number');
    expect(typeof b.MAP_SHARED).toBe('number');
    expect(loadBinding()).toBe(b);
  });

  it('names a compiled addon that was never built, with the fix and the loader error as its cause', () => {
    const cause = loaderError(tmp.dir, join(tmp.dir, 'build', 'Release', 'mmap_io.node'));
    expect(cause.code).toBe('MODULE_NOT_FOUND');
    const err = nativeBindingError(cause);
    expect(isSessmapError(err, 'SESSMAP_ERR_NATIVE_BINDING')).toBe(true);
    expect(err.message).toContain('its install script did not run or did not finish');
    expect(err.message).toContain(`npm rebuild ${BINDING_PACKAGE}`);
    expect(err.message).toContain(`npm approve-scripts ${BINDING_PACKAGE}`);
    expect(err.message).toContain('python3, make and a C++ compiler');
    expect(err.cause).toBe(cause);
    expect(err.details).toMatchObject({ package: BINDING_PACKAGE, reason: 'MODULE_NOT_FOUND' });
  });

  it('names a compiled addon that does not load in this Node.js', () => {
    const addon = join(tmp.dir, 'mmap_io.node');
    writeFileSync(addon, 'not a shared object');
    const cause = loaderError(tmp.dir, addon);
    expect(cause.code).toBe('ERR_DLOPEN_FAILED');
    const err = nativeBindingError(cause);
    expect(err.code).toBe('SESSMAP_ERR_NATIVE_BINDING');
    expect(err.message).toContain(`does not load in this Node.js ${process.version}`);
    expect(err.message).toContain(`npm rebuild ${BINDING_PACKAGE}`);
    expect(err.details).toMatchObject({ reason: 'ERR_DLOPEN_FAILED' });
  });

  it('names a binding package that is not installed at all', () => {
    const cause = loaderError(tmp.dir, BINDING_PACKAGE);
    expect(cause.code).toBe('MODULE_NOT_FOUND');
    const err = nativeBindingError(cause);
    expect(err.message).toContain(`${BINDING_PACKAGE} is not installed`);
  });
});
