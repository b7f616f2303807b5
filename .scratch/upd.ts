import { SharedCache } from '../src/index.js';
import { makeWorkload, makeWarmKeys, bumpViews } from '../bench/lib/workload.js';
const c = SharedCache.create<any>('/dev/shm/upd.smap', { size: 256 * 1024 * 1024, ifExists: 'reinit', serializer: 'structured' });
const w = makeWorkload(1234, { entries: 50_000, ops: 10, setRatio: 0.05 } as any);
const keys = makeWarmKeys(7, 50_000);
for (let i = 0; i < 50_000; i++) c.set(keys[i], w.sessions[i]);
const N = Number(process.env.N ?? 1_000_000);
let x = 12345;
const c0 = process.cpuUsage();
for (let j = 0; j < N; j++) { x = (x * 1103515245 + 12345) >>> 0; c.update(keys[x % 50_000], bumpViews as any); }
const c1 = process.cpuUsage(c0);
console.log('update cpu us/op', (c1.user + c1.system) / N);
const c2 = process.cpuUsage();
for (let j = 0; j < N; j++) { x = (x * 1103515245 + 12345) >>> 0; c.get(keys[x % 50_000]); }
const c3 = process.cpuUsage(c2);
console.log('get cpu us/op', (c3.user + c3.system) / N);
