/**
 * The 'structured' serializer: msgpackr records whose key lists live once in the file's structure
 * table. Values round-trip and take fewer bytes than JSON; handles of other processes decode the
 * shapes a process added after they loaded the table; concurrent writers adding new shapes never
 * make a reader decode a value with a wrong structure; a full table falls back to per-record
 * structures; a saver killed mid-save leaves a usable table; a damaged table is never misread.
 */
import { openSync, readSync, writeSync, closeSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SharedCache } from '../../src/index.js';
import { SC_CAPACITY, SC_DATA_OFF, STRUCTURES_OFF, S_COPY_OFF, S_COPY_SIZE, S_GEN_OFF } from '../../src/core/layout.js';
import { openChild, useChildCleanup } from '../helpers/child.js';
import { crashAt } from '../helpers/crash.js';
import { useTmpDir } from '../helpers/tmp.js';

const SESSION = {
  cookie: { originalMaxAge: 1_800_000, expires: '2026-12-01T20:00:00.000Z', secure: true, httpOnly: true, path: '/', sameSite: 'lax' },
  userId: 'u-1234',
  views: 17,
  cart: [{ sku: 'A-1', qty: 2 }, { sku: 'B-7', qty: 1 }],
  flash: null,
  name: 'Zoë',
};

/** The generation word of the file's structure table. */
function generation(path: string): number {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(4);
    readSync(fd, b, 0, 4, STRUCTURES_OFF + S_GEN_OFF);
    return b.readUInt32LE(0);
  } finally {
    closeSync(fd);
  }
}

/** A shape of its own for (writer, n): key names no other writer uses. */
function shaped(w: number, n: number): Record<string, unknown> {
  return { [`w${w}`]: n, [`k${w}_${n}`]: `v${n}`, [`x${n % 7}`]: [n, { [`d${w}_${n}`]: n }] };
}

describe("the 'structured' serializer", () => {
  const tmp = useTmpDir();
  useChildCleanup();

  it('round-trips session values in fewer bytes than JSON, and records itself as the file default', () => {
    const path = tmp.path();
    const c = SharedCache.create(path, { size: '1m', serializer: 'structured' });
    try {
      for (let i = 0; i < 50; i++) c.set(`s:${i}`, { ...SESSION, views: i });
      for (let i = 0; i < 50; i++) expect(c.get(`s:${i}`)).toEqual({ ...SESSION, views: i });
      const json = SharedCache.create(tmp.path('json.smap'), { size: '1m', serializer: 'json' });
      json.set('s:0', { ...SESSION, views: 0 });
      const jsonSize = json.inspect('s:0')!.size;
      json.close();
      const size = c.inspect('s:1')!.size;
      expect(size, `${size} bytes structured vs ${jsonSize} as JSON`).toBeLessThan(jsonSize * 0.6);
      expect(generation(path)).toBeGreaterThan(0);
    } finally {
      c.close();
    }
    // Opened without a serializer, a handle takes the file's; a JSON handle reads the same values.
    const again = SharedCache.open(path);
    const asJson = SharedCache.open(path, { serializer: 'json' });
    try {
      expect(again.get('s:3')).toEqual({ ...SESSION, views: 3 });
      asJson.set('j', { a: 1 });
      expect(again.get('j')).toEqual({ a: 1 });
      expect(asJson.get('s:4')).toEqual({ ...SESSION, views: 4 });
    } finally {
      again.close();
      asJson.close();
    }
  });

  it('gives values of their own: a binary field read is not changed by the reads after it', () => {
    const c = SharedCache.create(tmp.path(), { size: '1m', serializer: 'structured' });
    try {
      c.set('a', { bytes: Buffer.from('first value bytes'), n: 1 });
      c.set('b', { bytes: Buffer.from('other value bytes'), n: 2 });
      const first = c.get('a') as { bytes: Uint8Array; n: number };
      for (let i = 0; i < 10; i++) c.get('b');
      expect(Buffer.from(first.bytes).toString()).toBe('first value bytes');
      expect(first.n).toBe(1);
    } finally {
      c.close();
    }
  });

  it('decodes in one process the shapes another process added after it loaded the table', async () => {
    const path = tmp.path();
    const c = SharedCache.create(path, { size: '1m', serializer: 'structured' });
    c.set('first', shaped(0, 0));
    expect(c.get('first')).toEqual(shaped(0, 0));
    const child = await openChild(path, { serializer: 'structured' });
    for (let n = 1; n <= 20; n++) await child.callOk('set', `k${n}`, shaped(1, n));
    try {
      for (let n = 1; n <= 20; n++) expect(c.get(`k${n}`)).toEqual(shaped(1, n));
      // And the other way round: shapes of this process, read there.
      for (let n = 1; n <= 20; n++) c.set(`m${n}`, shaped(2, n));
      for (let n = 1; n <= 20; n++) expect(await child.callOk('get', `m${n}`)).toEqual(shaped(2, n));
    } finally {
      await child.close();
      c.close();
    }
  });

  // Three rounds, each on a new file: two writers racing to save new shapes declined each
  // other's saves about one round in five before the table checked for a prefix (a pack that
  // never ended); a round that hangs fails by the test's timeout.
  it.each([1, 2, 3])('never decodes a value with a wrong structure while writers in two processes add shapes and a third reads (round %i)', async (round) => {
    const path = tmp.path(`race-${round}.smap`);
    SharedCache.create(path, { size: '4m', serializer: 'structured' }).close();
    const writers = await Promise.all([1, 2].map(() => openChild(path, { serializer: 'structured' })));
    const reader = await openChild(path, { serializer: 'structured' });
    const N = 300;
    try {
      const writes = writers.map((w, i) => w.fireBatch(Array.from({ length: N }, (_, n) => ({ method: 'set', args: [`w${i}:${n}`, shaped(i, n)] }))));
      // Reads racing the writes: each value read must be exactly the one written under its key.
      const keys = Array.from({ length: N }, (_, n) => [`w0:${n}`, `w1:${n}`]).flat();
      let seen = 0;
      for (let round = 0; round < 4; round++) {
        const got = await reader.fireBatch(keys.map((k) => ({ method: 'get', args: [k] })));
        got.forEach((r, j) => {
          expect(r.ok, JSON.stringify(r)).toBe(true);
          const v = (r as { value?: unknown }).value;
          if (v === undefined || v === null) return;
          const [w, n] = keys[j]!.slice(1).split(':').map(Number) as [number, number];
          expect(v, keys[j]).toEqual(shaped(w, n));
          seen++;
        });
      }
      for (const r of (await Promise.all(writes)).flat()) expect(r.ok, JSON.stringify(r)).toBe(true);
      const final = await reader.fireBatch(keys.map((k) => ({ method: 'get', args: [k] })));
      final.forEach((r, j) => {
        const [w, n] = keys[j]!.slice(1).split(':').map(Number) as [number, number];
        expect((r as { value?: unknown }).value, keys[j]).toEqual(shaped(w, n));
      });
      expect(seen).toBeGreaterThan(0);
    } finally {
      await Promise.all([...writers, reader].map((c) => c.close()));
    }
  });

  it('falls back to per-record structures when the table is full: no error, no value lost', () => {
    const path = tmp.path();
    const c = SharedCache.create(path, { size: '4m', serializer: 'structured' });
    try {
      const long = (n: number): Record<string, number> => ({ [`a-rather-long-field-name-for-shape-${n}`]: n, [`another-long-one-${n}`]: -n - 1 });
      for (let n = 0; n < 1500; n++) c.set(`k${n}`, long(n));
      for (let n = 0; n < 1500; n++) expect(c.get(`k${n}`), `k${n}`).toEqual(long(n));
      const other = SharedCache.open(path);
      try {
        for (let n = 0; n < 1500; n += 37) expect(other.get(`k${n}`)).toEqual(long(n));
        other.set('late', long(99_999));
        expect(c.get('late')).toEqual(long(99_999));
      } finally {
        other.close();
      }
      // The table stopped growing at its capacity.
      expect(generation(path)).toBeGreaterThan(10);
      expect(generation(path)).toBeLessThan(1500);
      expect(SC_CAPACITY).toBeGreaterThan(8000);
    } finally {
      c.close();
    }
  });

  for (const point of ['structures:partial', 'structures:unpublished']) {
    it(`leaves the table usable, with every saved shape, when a saver is killed at ${point}`, async () => {
      const path = tmp.path();
      const c = SharedCache.create(path, { size: '1m', serializer: 'structured' });
      try {
        for (let n = 0; n < 5; n++) c.set(`before${n}`, shaped(0, n));
        const gen = generation(path);
        await crashAt(path, point, [{ method: 'set', args: ['killed', shaped(9, 9)] }]);
        expect(generation(path), 'the killed save was not published').toBe(gen);
        const after = SharedCache.open(path);
        try {
          for (let n = 0; n < 5; n++) expect(after.get(`before${n}`)).toEqual(shaped(0, n));
          expect(after.get('killed')).toBeUndefined();
          for (let n = 0; n < 5; n++) after.set(`new${n}`, shaped(3, n));
          for (let n = 0; n < 5; n++) expect(c.get(`new${n}`)).toEqual(shaped(3, n));
          expect(generation(path)).toBeGreaterThan(gen);
        } finally {
          after.close();
        }
      } finally {
        c.close();
      }
    });
  }

  it('never reads a value with another structure after the active copy of the table was damaged', () => {
    const path = tmp.path();
    const c = SharedCache.create(path, { size: '1m', serializer: 'structured' });
    c.set('old', shaped(0, 1));
    c.set('new', shaped(1, 2));
    c.close();
    // Damage a byte of the active copy's text.
    const gen = generation(path);
    const at = STRUCTURES_OFF + S_COPY_OFF + (gen & 1) * S_COPY_SIZE + SC_DATA_OFF + 3;
    const fd = openSync(path, 'r+');
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, at);
    writeSync(fd, Buffer.from([b[0]! ^ 0x20]), 0, 1, at);
    closeSync(fd);
    const d = SharedCache.open(path);
    try {
      const old = d.get('old');
      const nu = d.get('new');
      // Either what was written, or nothing (dropped as unreadable): never a value of another shape.
      if (old !== undefined) expect(old).toEqual(shaped(0, 1));
      if (nu !== undefined) expect(nu).toEqual(shaped(1, 2));
      // New shapes still work, with per-record structures; the table is not written again.
      d.set('after', shaped(2, 3));
      expect(d.get('after')).toEqual(shaped(2, 3));
      expect(generation(path)).toBe(gen);
    } finally {
      d.close();
    }
  });
});
