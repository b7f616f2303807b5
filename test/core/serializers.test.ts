import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SharedCache } from '../../src/index.js';
import type { SerializerName } from '../../src/core/types.js';
import { expectCode } from '../helpers/errors.js';
import { useTmpDir } from '../helpers/tmp.js';

describe('serializers', () => {
  const tmp = useTmpDir();
  let caches: SharedCache[];
  beforeEach(() => {
    caches = [];
  });
  afterEach(() => caches.forEach((c) => c.close()));

  function open(serializer?: SerializerName): SharedCache {
    const c = SharedCache.create(tmp.path(`${serializer ?? 'default'}.smap`), { size: '1m', serializer });
    caches.push(c);
    return c;
  }

  it('round-trips JSON values by default', () => {
    const c = open();
    const values = [0, -1.5, 1e300, 'text', 'ünïcødé 😀', true, null, [1, [2, [3]]], { a: { b: { c: 'd' } }, e: [] }];
    values.forEach((v, i) => c.set(`k${i}`, v));
    values.forEach((v, i) => expect(c.get(`k${i}`)).toEqual(v));
    const d = new Date(0);
    c.set('date', { d });
    expect(c.get('date'), 'JSON turns a Date into its ISO string').toEqual({ d: d.toISOString() });
  });

  it('reads back JSON text byte for byte whether or not it is all ASCII, on every read path', () => {
    const removed: unknown[] = [];
    const path = tmp.path('ascii.smap');
    const c = SharedCache.create(path, { pageCount: 1, pageSize: 65536, onRemove: (e) => removed.push(e.value), removalValues: true });
    caches.push(c);
    // Latin-1 range characters would come back wrong from a byte copy: only all-ASCII text may take it.
    const values = ['plain ascii', 'ü', 'ÿ\u0080', '€ 😀', { k: 'café', n: 1 }, { k: 'cafe', n: 2 }, '\ud800 lone surrogate'];
    values.forEach((v, i) => c.set(`k${i}`, v));
    for (let round = 0; round < 2; round++) values.forEach((v, i) => expect(c.get(`k${i}`), `round ${round}`).toEqual(v));
    const other = SharedCache.open(path, { serializer: 'raw' });
    caches.push(other);
    values.forEach((v, i) => expect(other.get(`k${i}`), 'a handle with another serializer reads them too').toEqual(v));
    expect(new Map([...c.entries()])).toEqual(new Map(values.map((v, i) => [`k${i}`, v])));
    values.forEach((v, i) => c.delete(`k${i}`));
    expect(removed).toEqual(values);
  });

  it('refuses values JSON cannot represent with SESSMAP_ERR_SERIALIZE, changing nothing', () => {
    const c = open('json');
    c.set('k', 'old');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const bad of [undefined, 10n, { n: 10n }, cyclic, () => 1, Symbol('s')]) {
      expectCode(() => c.set('k', bad), 'SESSMAP_ERR_SERIALIZE');
      expectCode(() => c.set('fresh', bad), 'SESSMAP_ERR_SERIALIZE');
      expectCode(() => c.add('fresh', bad), 'SESSMAP_ERR_SERIALIZE');
      expectCode(() => c.replace('k', bad), 'SESSMAP_ERR_SERIALIZE');
    }
    expect(c.get('k')).toBe('old');
    expect(c.has('fresh')).toBe(false);
    expect(c.stats().entries).toBe(1);
  });

  it("round-trips Map, Set, Date, BigInt and typed arrays with 'v8'", () => {
    const c = open('v8');
    const value = {
      map: new Map<unknown, unknown>([['a', 1], [2, { b: new Date(86_400_000) }]]),
      set: new Set([1, 'two']),
      date: new Date(1_700_000_000_123),
      big: 2n ** 70n,
      bytes: new Uint8Array([1, 2, 3]),
      undef: undefined,
      nested: [new Map([[1n, -0]])],
    };
    c.set('k', value);
    const got = c.get('k') as typeof value;
    expect(got).toEqual(value);
    expect(got.map).toBeInstanceOf(Map);
    expect(got.date).toBeInstanceOf(Date);
    expect(got.date.getTime()).toBe(1_700_000_000_123);
    expect(typeof got.big).toBe('bigint');
    expect(Object.is(got.nested[0].get(1n), -0)).toBe(true);
    c.set('big', 123n);
    expect(c.get('big')).toBe(123n);
    expectCode(() => c.set('fn', () => 1), 'SESSMAP_ERR_SERIALIZE');
    expect(c.has('fn')).toBe(false);
  });

  it("stores bytes as they are with 'raw' and returns a Buffer", () => {
    const c = open('raw');
    const buf = Buffer.from([0, 255, 1, 254, 0, 0]);
    c.set('buf', buf);
    const got = c.get('buf');
    expect(Buffer.isBuffer(got)).toBe(true);
    expect(got).toEqual(buf);
    c.set('u8', new Uint8Array([9, 8, 7]));
    expect(c.get('u8')).toEqual(Buffer.from([9, 8, 7]));
    c.set('empty', Buffer.alloc(0));
    expect(c.get('empty')).toEqual(Buffer.alloc(0));
    expect(c.inspect('buf')?.size).toBe(6);
    buf[0] = 42;
    expect((c.get('buf') as Buffer)[0], 'the stored bytes are a copy').toBe(0);
    for (const bad of ['string', 5, { a: 1 }, null]) expectCode(() => c.set('bad', bad), 'SESSMAP_ERR_SERIALIZE');
    expect(c.has('bad')).toBe(false);
  });

  it('reads each entry with the serializer it was written with, whatever the reading handle uses', () => {
    const path = tmp.path('mixed.smap');
    const json = SharedCache.create(path, { size: '1m', serializer: 'json' });
    const v8 = SharedCache.open(path, { serializer: 'v8' });
    const raw = SharedCache.open(path, { serializer: 'raw' });
    caches.push(json, v8, raw);
    v8.set('map', new Map([['a', 1]]));
    raw.set('bytes', Buffer.from('hi'));
    json.set('obj', { a: 1 });
    for (const h of [json, v8, raw]) {
      expect(h.get('map')).toEqual(new Map([['a', 1]]));
      expect(h.get('bytes')).toEqual(Buffer.from('hi'));
      expect(h.get('obj')).toEqual({ a: 1 });
    }
    // open() without a serializer takes the one recorded in the header.
    const dflt = SharedCache.open(path);
    caches.push(dflt);
    dflt.set('d', { x: 1 });
    expect(json.inspect('d')?.size).toBe(JSON.stringify({ x: 1 }).length);
  });

  it('refuses an unknown serializer name with SESSMAP_ERR_INVALID_OPTION', () => {
    expectCode(() => SharedCache.create(tmp.path('x.smap'), { size: '1m', serializer: 'yaml' as SerializerName }), 'SESSMAP_ERR_INVALID_OPTION');
  });
});
