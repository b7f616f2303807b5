/**
 * The mmap backend under the backend contract: a fresh file per test, a small one (16 pages of
 * 16 KiB) so that a few hundred sessions make it evict; its sweeper off, so the contract's
 * `expire` hook (a purge) is what finds expired sessions.
 */
import { MmapBackend } from '../../src/backends/mmap/backend.js';
import { normaliseMmapOptions } from '../../src/backends/mmap/options.js';
import type { BackendContext, BackendRole } from '../../src/sessions/backend.js';
import { normaliseSessionOptions } from '../../src/sessions/options.js';
import { silentLogger } from '../../src/events/logger.js';
import { makeTmpDir, removeTmpDir } from '../helpers/tmp.js';
import { testBackend } from './contract.js';

function context(role: BackendRole): BackendContext {
  return {
    role,
    sessions: normaliseSessionOptions({ sweepInterval: 0, evictionPolicy: 'lru' }),
    emit: () => {},
    emitHere: () => {},
    report: () => {},
    logger: silentLogger,
  };
}

testBackend('mmap', async () => {
  const dir = makeTmpDir();
  const path = `${dir}/sessions.smap`;
  const backend = new MmapBackend(normaliseMmapOptions({ path, size: 4096 + 16 * 16 * 1024, pageSize: '16k', ifExists: 'error' }), context('standalone'));
  const others: MmapBackend[] = [];
  return {
    backend,
    async another() {
      const b = new MmapBackend(normaliseMmapOptions({ path, ifExists: 'attach' }), context('worker'));
      others.push(b);
      return b;
    },
    async expire() {
      backend.cache.purgeExpired();
    },
    overfill: 400,
    async cleanup() {
      for (const b of [backend, ...others]) await b.close();
      removeTmpDir(dir);
    },
  };
});
