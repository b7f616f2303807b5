/**
 * Two processes sharing one cache file: the parent creates it, a forked child attaches,
 * and each sees the other's writes the moment they are made.
 *
 *   npx tsx examples/basic.ts        (npm start runs examples/cluster.ts)
 */
import { fork } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SharedCache, defaultCacheDir } from '../src/index.js';

const file = path.join(defaultCacheDir(), 'example-basic.cache');

if (process.argv[2] !== 'child') {
  const cache = SharedCache.create<{ from: string; n: number }>(file, { size: '16m', defaultTtl: 60_000, ifExists: 'reinit' });
  console.log(`[parent ${process.pid}] created ${file} (${cache.geometry.pageCount} pages of ${cache.geometry.pageSize / 1024} KiB, largest item ${cache.maxItemBytes} bytes)`);
  cache.set('greeting', { from: 'parent', n: 1 });

  const child = fork(fileURLToPath(import.meta.url), ['child'], { execArgv: process.execArgv });
  child.on('message', (msg) => {
    if (msg !== 'written') return;
    console.log(`[parent ${process.pid}] reads what the child wrote:`, cache.get('reply'));
    child.send('count'); // both processes now increment one counter at the same time
    for (let i = 0; i < 1000; i++) cache.update('counter', (n: any) => ({ from: 'both', n: (n?.n ?? 0) + 1 }));
  });
  child.on('exit', (code) => {
    console.log(`[parent ${process.pid}] counter after 1000 updates from each process:`, cache.get('counter'));
    const s = cache.stats();
    console.log(`[parent ${process.pid}] stats: ${s.entries} entries, ${s.hits} hits, ${s.misses} misses, ${s.sets} sets`);
    cache.close();
    process.exitCode = code ?? 1;
  });
} else {
  const cache = SharedCache.open<{ from: string; n: number }>(file);
  console.log(`[child  ${process.pid}] attached; reads what the parent wrote:`, cache.get('greeting'));
  cache.set('reply', { from: 'child', n: 2 });
  process.send?.('written');
  process.on('message', () => {
    for (let i = 0; i < 1000; i++) cache.update('counter', (n: any) => ({ from: 'both', n: (n?.n ?? 0) + 1 }));
    cache.close();
    process.disconnect?.();
  });
}
