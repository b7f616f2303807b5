import { describe, expect, it } from 'vitest';
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { SharedCache } from '../../src/index.js';
import { Child, useChildCleanup } from '../helpers/child.js';
import { expectCode } from '../helpers/errors.js';
import { ONE_PAGE, expectAllPagesClean } from '../helpers/geometry.js';
import { rawValue, rawValueProblem } from '../helpers/raw-values.js';
import { seedFromEnv } from '../helpers/rng.js';
import { useCacheOpener } from '../support/caches.js';

const KB = (i: number): Buffer => rawValue(1000, i, i);

describe('getInto: a raw value copied into the caller\'s buffer', () => {
  const { events, clock, caches, open, tmp } = useCacheOpener({ defaults: { ...ONE_PAGE, serializer: 'raw' } });
  useChildCleanup();

  it('copies the bytes at the offset, returns their count, and -1 when there is no entry', () => {
    const cache = open();
    const value = Buffer.from([0, 255, 1, 254, 7]);
    cache.set('k', value);
    cache.set('empty', Buffer.alloc(0));
    const target = Buffer.alloc(16, 0xee);
    expect(cache.getInto('k', target)).toBe(5);
    expect(target.subarray(0, 5)).toEqual(value);
    expect(target.subarray(5).every((b) => b === 0xee), 'no byte after the value is written').toBe(true);

    target.fill(0xee);
    expect(cache.getInto('k', target, 11), 'the value ends at the last byte of the target').toBe(5);
    expect(target.subarray(11)).toEqual(value);
    expect(target.subarray(0, 11).every((b) => b === 0xee), 'no byte before the offset is written').toBe(true);

    const plain = new Uint8Array(5);
    expect(cache.getInto('k', plain), 'a plain Uint8Array works too').toBe(5);
    expect(Buffer.from(plain)).toEqual(value);
    expect(cache.getInto('empty', target, 16)).toBe(0);
    expect(cache.getInto('absent', target)).toBe(-1);
    cache.delete('k');
    expect(cache.getInto('k', target)).toBe(-1);
  });

  it('reads what get reads, in another handle and through the lock on its first read of a page', () => {
    const path = tmp.path('shared.smap');
    const writer = SharedCache.create(path, { pageCount: 4, pageSize: 65536, serializer: 'raw' });
    caches.push(writer);
    for (let i = 0; i < 50; i++) writer.set(`k${i}`, rawValue(12 + i * 37, i, i));
    const reader = SharedCache.open(path);
    caches.push(reader);
    const target = new Uint8Array(4096);
    const out = { seq: 0 };
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 50; i++) {
        const n = reader.getInto(`k${i}`, target, 3);
        expect(n).toBe(12 + i * 37);
        expect(rawValueProblem(target, 3, n, i, out), `k${i}`).toBeUndefined();
        expect(Buffer.from(target.buffer, 3, n)).toEqual(reader.get(`k${i}`));
      }
    }
    expect(reader.stats().hits).toBe(200);
  });

  it('counts hits and misses and is a use for LRU order, as get is', () => {
    const cache = open();
    const target = Buffer.alloc(2000);
    const order: string[] = [];
    for (let i = 0; events.length === 0; i++) {
      expect(i, 'the page never filled up').toBeLessThan(5000);
      cache.set(`e${i}`, KB(i));
      order.push(`e${i}`);
    }
    order.splice(0, events.length);
    events.length = 0;
    const before = cache.stats();
    // The oldest survivor, read with getInto, becomes the most recently used.
    const read = order.shift()!;
    expect(cache.getInto(read, target)).toBe(1000);
    expect(target.subarray(0, 1000)).toEqual(KB(Number(read.slice(1))));
    order.push(read);
    expect(cache.getInto('absent', target)).toBe(-1);
    const after = cache.stats();
    expect(after.hits - before.hits).toBe(1);
    expect(after.misses - before.misses).toBe(1);

    for (let j = 0; j < 10; j++) {
      cache.set(`n${j}`, KB(j));
      order.push(`n${j}`);
    }
    const evicted = events.map((e) => e.key);
    expect(evicted.length).toBeGreaterThanOrEqual(5);
    expect(evicted, 'evictions follow the order of last use').toEqual(order.slice(0, evicted.length));
    expect(evicted).not.toContain(read);
  });

  it('removes an expired entry and returns -1', () => {
    const cache = open();
    cache.set('short', KB(1), { ttl: 1000 });
    const target = Buffer.alloc(1000);
    expect(cache.getInto('short', target)).toBe(1000);
    clock.advance(1000);
    expect(cache.getInto('short', target)).toBe(-1);
    expect(events.map((e) => [e.key, e.reason])).toEqual([['short', 'expired']]);
    expect(cache.has('short')).toBe(false);
  });

  it('refuses a target too small for the value with SESSMAP_ERR_TARGET_TOO_SMALL, counting nothing', () => {
    const cache = open();
    cache.set('k', KB(1));
    const target = Buffer.alloc(1000, 0xee);
    expect(cache.getInto('k', target)).toBe(1000);
    target.fill(0xee);
    const hits = cache.stats().hits;
    const err = expectCode(() => cache.getInto('k', target, 1), 'SESSMAP_ERR_TARGET_TOO_SMALL');
    expect(err.details).toEqual({ size: 1000, available: 999, offset: 1 });
    expectCode(() => cache.getInto('k', Buffer.alloc(999)), 'SESSMAP_ERR_TARGET_TOO_SMALL');
    expect(target.every((b) => b === 0xee), 'nothing was written').toBe(true);
    expect(cache.stats().hits, 'no hit was counted').toBe(hits);
    // Through the lock too (a handle's first read of the page).
    const other = SharedCache.open(cache.path);
    caches.push(other);
    expectCode(() => other.getInto('k', target, 500), 'SESSMAP_ERR_TARGET_TOO_SMALL');
    expect(other.getInto('k', target)).toBe(1000);
    expect(cache.stats().hits).toBe(hits + 1);
  });

  it('refuses a value stored with another serializer with SESSMAP_ERR_NOT_RAW, counting nothing', () => {
    const cache = open();
    const written: [string, 'json' | 'v8' | 'structured', unknown][] = [
      ['ascii json', 'json', { a: 1 }],
      ['utf-8 json', 'json', { a: 'ü' }],
      ['v8', 'v8', new Map([[1, 2]])],
      ['structured', 'structured', { a: 1 }],
    ];
    for (const [key, serializer, value] of written) {
      const h = SharedCache.open(cache.path, { serializer });
      caches.push(h);
      h.set(key, value);
    }
    let hits = cache.stats().hits;
    // The lock-free path (this handle has read the page) and the locked one (a fresh handle's first read).
    for (const [key, serializer, value] of written) {
      const fresh = SharedCache.open(cache.path);
      caches.push(fresh);
      for (const reader of [fresh, cache]) {
        const err = expectCode(() => reader.getInto(key, Buffer.alloc(1000)), 'SESSMAP_ERR_NOT_RAW');
        expect(err.details, key).toEqual({ serializer });
      }
      expect(cache.stats().hits, 'no hit was counted').toBe(hits);
      expect(cache.get(key)).toEqual(value);
      expect(cache.stats().hits).toBe(++hits);
    }
  });

  it('refuses a target that is not a Uint8Array and an offset outside it with SESSMAP_ERR_INVALID_OPTION', () => {
    const cache = open();
    cache.set('k', KB(1));
    const target = Buffer.alloc(2000);
    for (const bad of [null, undefined, 'text', [1, 2, 3], new ArrayBuffer(2000), new Uint16Array(1000)]) {
      expectCode(() => cache.getInto('k', bad as unknown as Uint8Array), 'SESSMAP_ERR_INVALID_OPTION');
    }
    for (const bad of [-1, 2001, 1.5, NaN, '0']) {
      expectCode(() => cache.getInto('k', target, bad as number), 'SESSMAP_ERR_INVALID_OPTION');
    }
    expectCode(() => cache.getInto('', target), 'SESSMAP_ERR_INVALID_KEY');
    cache.close();
    expectCode(() => cache.getInto('k', target), 'SESSMAP_ERR_CLOSED');
  });

  it('checks the checksum with verifyReads: a damaged value is a miss and its page is repaired', () => {
    const cache = open();
    const value = Buffer.from('0123456789abcdef-marker-of-this-value');
    cache.set('k', value);
    cache.set('other', KB(2));
    const checked = SharedCache.open(cache.path, { verifyReads: true });
    caches.push(checked);
    const target = Buffer.alloc(100);
    expect(checked.getInto('k', target)).toBe(value.length);
    expect(target.subarray(0, value.length)).toEqual(value);

    const at = readFileSync(cache.path).indexOf(value);
    expect(at).toBeGreaterThan(0);
    const fd = openSync(cache.path, 'r+');
    try {
      writeSync(fd, Buffer.from('X'), 0, 1, at + 3);
    } finally {
      closeSync(fd);
    }
    expect(checked.getInto('k', target)).toBe(-1);
    expect(checked.stats().repairs).toBeGreaterThanOrEqual(1);
    expect(checked.getInto('other', Buffer.alloc(1000))).toBe(1000);
    expectAllPagesClean(checked);
  });

  it('never copies a torn value, another key\'s value or an older one while another process rewrites the keys', async () => {
    const seed = seedFromEnv();
    const path = tmp.path('shared.smap');
    // Two small pages: 60 keys of up to 9 KB overflow them, so the writes also move, compact and
    // evict entries while this process reads.
    const cache = SharedCache.create(path, { pageCount: 2, pageSize: 65536, serializer: 'raw', lockTimeout: 30_000 });
    caches.push(cache);
    const KEYS = 60;
    const writer = new Child('core/raw-writer.ts', { args: [path, String(KEYS), '30000', String(seed)] });
    await writer.nextMessage((m) => m?.type === 'ready');
    let done: { errors: number; message: string } | undefined;
    const finished = writer.nextMessage<{ errors: number; message: string }>((m) => m?.type === 'done', 150_000).then((m) => {
      done = m;
    });
    writer.send({ type: 'go' });

    const target = new Uint8Array(9005);
    const seen = new Array<number>(KEYS).fill(0);
    const out = { seq: 0 };
    const problems: string[] = [];
    let reads = 0;
    let hits = 0;
    while (done === undefined && problems.length < 20) {
      for (let j = 0; j < 200; j++) {
        const key = (reads++ * 7) % KEYS;
        const n = cache.getInto(`k${key}`, target, 5);
        if (n < 0) continue;
        hits++;
        const problem = rawValueProblem(target, 5, n, key, out);
        if (problem !== undefined) problems.push(`k${key}: ${problem} (replay with SESSMAP_TEST_SEED=${seed})`);
        else if (out.seq < seen[key]) problems.push(`k${key}: read seq ${out.seq} after seq ${seen[key]}`);
        else seen[key] = out.seq;
      }
      await new Promise((r) => setImmediate(r));
    }
    await finished;
    expect(problems).toEqual([]);
    expect(done).toMatchObject({ errors: 0, message: '' });
    expect(await writer.waitExit()).toEqual({ code: 0, signal: null });
    expect(hits, 'no read found a value').toBeGreaterThan(1000);
    expect(cache.stats().removals.evicted, 'the pages never overflowed').toBeGreaterThan(0);
    expectAllPagesClean(cache);
  });
});
