import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';
import { rmSync } from 'node:fs';
import { SharedCache } from '../../src/index.js';
import type { CreateOptions, RemovalEvent } from '../../src/core/types.js';
import { manualClock } from '../helpers/clock.js';
import { useTmpDir } from '../helpers/tmp.js';

/*
 * Long random sequences of operations, through two handles of one file, against a plain Map
 * with expiry. The model is exact: every removal the cache makes is reported by onRemove and
 * applied to the model, so a read must match the model exactly. Evictions are the only removals
 * a model cannot predict, and each must be reported with the right ttlLeft.
 *
 * Clock values are always even and TTLs always odd, so no read ever lands exactly on an expiry
 * instant (whose meaning the contract leaves open).
 */

const KEYS = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'ключ', '🔑', 'sess:0123456789abcdef', 'é'];

type Val = unknown;
type Fn = { f: 'inc' } | { f: 'del' } | { f: 'put'; v: Val };
type Op =
  | { t: 'set' | 'add' | 'replace'; k: string; v: Val; ttl?: number; low: boolean; h: number }
  | { t: 'get' | 'has' | 'delete' | 'ttl' | 'inspect'; k: string; h: number }
  | { t: 'touch'; k: string; ttl: number; h: number }
  | { t: 'update'; k: string; fn: Fn; ttl?: number; h: number }
  | { t: 'getMany'; ks: string[]; h: number }
  | { t: 'advance'; ms: number }
  | { t: 'purge' | 'keys'; h: number };

const key = fc.constantFrom(...KEYS);
const handle = fc.integer({ min: 0, max: 1 });
/** Mostly the default or long TTLs (so pages fill up), sometimes ones that run out within a run. */
const ttl: fc.Arbitrary<number | undefined> = fc.oneof(
  { weight: 4, arbitrary: fc.constant(undefined) },
  { weight: 2, arbitrary: fc.constantFrom(0, Infinity) },
  { weight: 2, arbitrary: fc.constant(600_001) },
  { weight: 2, arbitrary: fc.constantFrom(1, 99, 501, 1_999, 30_001) },
);
const val: fc.Arbitrary<Val> = fc.oneof(
  fc.integer({ min: -1000, max: 1000 }).map((n) => n + 0), // never -0, which JSON cannot keep
  fc.string({ maxLength: 20 }),
  fc.constant(null),
  fc.boolean(),
  // JSON values have Object.prototype; fast-check records may not.
  fc.record({ n: fc.integer().map((n) => n + 0), s: fc.string({ maxLength: 10 }), l: fc.array(fc.integer().map((n) => n + 0), { maxLength: 5 }) }).map((r) => ({ ...r })),
  { weight: 3, arbitrary: fc.integer({ min: 100, max: 2_500 }).map((n) => `${n}:${'x'.repeat(n)}`) },
);
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ t: fc.constantFrom('set' as const, 'add' as const, 'replace' as const), k: key, v: val, ttl, low: fc.boolean(), h: handle }) },
  { weight: 6, arbitrary: fc.record({ t: fc.constantFrom('get' as const, 'has' as const, 'delete' as const, 'ttl' as const, 'inspect' as const), k: key, h: handle }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('touch' as const), k: key, ttl: fc.constantFrom(0, 1, 501, 30_001), h: handle }) },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('update' as const),
      k: key,
      fn: fc.oneof(fc.constant({ f: 'inc' } as Fn), fc.constant({ f: 'del' } as Fn), val.map((v): Fn => ({ f: 'put', v }))),
      ttl,
      h: handle,
    }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('getMany' as const), ks: fc.array(key, { maxLength: 6 }), h: handle }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('advance' as const), ms: fc.constantFrom(0, 2, 100, 500, 2_000, 10_000) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constantFrom('purge' as const, 'keys' as const), h: handle }) },
);

interface Entry {
  v: Val;
  exp: number;
}

/** What the runs did, so a test can check it exercised what it claims to. */
interface Tally {
  ops: number;
  hits: number;
  evicted: number;
  expired: number;
}

function runModel(path: string, opts: CreateOptions, ops: Op[], expectNoEviction: boolean, tally: Tally): void {
  const clock = manualClock();
  const events: RemovalEvent[] = [];
  const onRemove = (e: RemovalEvent) => events.push(e);
  const a = SharedCache.create(path, { ...opts, clock: clock.fn, onRemove });
  const b = SharedCache.open(path, { clock: clock.fn, onRemove });
  const handles = [a, b];
  const defaultTtl = opts.defaultTtl ?? 0;
  const model = new Map<string, Entry>();
  const versions = new Map<string, { version: number; written: boolean }>();
  const now = () => clock.now();
  const live = (k: string) => {
    const e = model.get(k);
    return e !== undefined && e.exp > now() ? e : undefined;
  };
  const expOf = (t: number | undefined) => {
    const eff = t ?? defaultTtl;
    return eff === 0 || eff === Infinity ? Infinity : now() + eff;
  };
  const write = (k: string, v: Val, exp: number) => {
    model.set(k, { v, exp });
    const ver = versions.get(k);
    if (ver) ver.written = true;
  };
  const fail = (i: number, o: Op, msg: string): never => {
    throw new Error(`op #${i} ${JSON.stringify(o)?.slice(0, 200)}: ${msg}`);
  };

  try {
    ops.forEach((o, i) => {
      const c = 'h' in o ? handles[o.h] : a;
      const writesKey = o.t === 'set' || o.t === 'add' || o.t === 'replace' || o.t === 'update' ? o.k : undefined;
      const mark = events.length;
      const opKey = 'k' in o ? o.k : undefined;
      const before = opKey === undefined ? undefined : model.get(opKey);
      const beforeOp = before && { ...before };
      switch (o.t) {
        case 'set':
          c.set(o.k, o.v, { ttl: o.ttl, priority: o.low ? 'low' : 'normal' });
          write(o.k, o.v, expOf(o.ttl));
          break;
        case 'add': {
          const r = c.add(o.k, o.v, { ttl: o.ttl });
          if (r !== (live(o.k) === undefined)) fail(i, o, `add returned ${r}, model live: ${live(o.k) !== undefined}`);
          if (r) write(o.k, o.v, expOf(o.ttl));
          break;
        }
        case 'replace': {
          const r = c.replace(o.k, o.v, { ttl: o.ttl });
          if (r !== (live(o.k) !== undefined)) fail(i, o, `replace returned ${r}`);
          if (r) write(o.k, o.v, expOf(o.ttl));
          break;
        }
        case 'get': {
          const r = c.get(o.k);
          const e = live(o.k);
          if (e) tally.hits++;
          if (!isDeepStrictEqual(r, e?.v)) fail(i, o, `get returned ${JSON.stringify(r)?.slice(0, 80)}, model ${JSON.stringify(e?.v)?.slice(0, 80)}`);
          break;
        }
        case 'getMany': {
          const r = c.getMany(o.ks);
          o.ks.forEach((k, j) => {
            if (!isDeepStrictEqual(r[j], live(k)?.v)) fail(i, o, `getMany[${j}] (${k}) returned ${JSON.stringify(r[j])?.slice(0, 80)}`);
          });
          break;
        }
        case 'has':
          if (c.has(o.k) !== (live(o.k) !== undefined)) fail(i, o, 'has disagrees');
          break;
        case 'delete': {
          const r = c.delete(o.k);
          const e = model.get(o.k);
          if (live(o.k) && !r) fail(i, o, 'delete of a live entry returned false');
          if (!e && r) fail(i, o, 'delete of an absent entry returned true');
          model.delete(o.k);
          break;
        }
        case 'touch': {
          const r = c.touch(o.k, o.ttl);
          const e = live(o.k);
          if (r !== (e !== undefined)) fail(i, o, `touch returned ${r}`);
          if (e) e.exp = expOf(o.ttl);
          break;
        }
        case 'ttl': {
          const r = c.ttl(o.k);
          const e = live(o.k);
          const want = e === undefined ? undefined : e.exp === Infinity ? Infinity : e.exp - now();
          if (r !== want) fail(i, o, `ttl ${r}, model ${want}`);
          break;
        }
        case 'inspect': {
          const r = c.inspect(o.k);
          const e = live(o.k);
          if ((r === undefined) !== (e === undefined)) fail(i, o, `inspect ${JSON.stringify(r)}, model live ${e !== undefined}`);
          if (r && e) {
            if (r.expiresAt !== e.exp) fail(i, o, `expiresAt ${r.expiresAt}, model ${e.exp}`);
            const prev = versions.get(o.k);
            if (prev && prev.written === (prev.version === r.version)) fail(i, o, `version ${prev.version} -> ${r.version}, written since: ${prev.written}`);
            versions.set(o.k, { version: r.version, written: false });
          }
          break;
        }
        case 'update': {
          const e = live(o.k);
          let seen: unknown = 'not called';
          const r = c.update(
            o.k,
            (old) => {
              seen = old;
              if (o.fn.f === 'inc') return (typeof old === 'number' ? old : 0) + 1;
              if (o.fn.f === 'del') return undefined;
              return o.fn.v;
            },
            { ttl: o.ttl },
          );
          if (!isDeepStrictEqual(seen, e?.v)) fail(i, o, `fn got ${JSON.stringify(seen)?.slice(0, 80)}, model ${JSON.stringify(e?.v)?.slice(0, 80)}`);
          const next = o.fn.f === 'inc' ? (typeof e?.v === 'number' ? e.v : 0) + 1 : o.fn.f === 'del' ? undefined : o.fn.v;
          if (!isDeepStrictEqual(r, next)) fail(i, o, `update returned ${JSON.stringify(r)?.slice(0, 80)}`);
          if (next === undefined) model.delete(o.k);
          else write(o.k, next, o.ttl !== undefined ? expOf(o.ttl) : e ? e.exp : expOf(undefined));
          break;
        }
        case 'advance':
          clock.advance(o.ms);
          break;
        case 'purge': {
          const n = c.purgeExpired();
          const removed = events.length - mark;
          if (n !== removed) fail(i, o, `purgeExpired returned ${n} but reported ${removed} removals`);
          break;
        }
        case 'keys': {
          const got = [...c.keys()].sort();
          const want = KEYS.filter((k) => live(k)).sort();
          if (!isDeepStrictEqual(got, want)) fail(i, o, `keys ${JSON.stringify(got)}, model ${JSON.stringify(want)}`);
          break;
        }
      }

      // Apply what the cache reported removing during this operation.
      tally.ops++;
      for (const ev of events.slice(mark)) {
        if (ev.reason === 'evicted') tally.evicted++;
        if (ev.reason === 'expired') tally.expired++;
        // The operation's own key is judged by its state before the operation.
        const e = ev.key === opKey ? beforeOp : model.get(ev.key);
        switch (ev.reason) {
          case 'evicted':
            if (expectNoEviction) fail(i, o, `unexpected eviction ${JSON.stringify(ev)}`);
            if (ev.key === writesKey) fail(i, o, 'the key being written was reported evicted (an overwrite is not a removal)');
            if (!e) fail(i, o, `evicted ${ev.key}, which the model does not hold`);
            else {
              const want = e.exp === Infinity ? Infinity : Math.max(0, e.exp - now());
              if (ev.ttlLeft !== want) fail(i, o, `evicted ${ev.key} with ttlLeft ${ev.ttlLeft}, model ${want}`);
              model.delete(ev.key);
            }
            break;
          case 'expired':
            if (!e || e.exp > now()) fail(i, o, `reported ${ev.key} expired; model ${JSON.stringify(e)}, now ${now()}`);
            // Drop it from the model unless this operation has just written a new value there.
            if ((model.get(ev.key)?.exp ?? Infinity) <= now()) model.delete(ev.key);
            break;
          case 'deleted':
            if (ev.key !== opKey || (o.t !== 'delete' && o.t !== 'update')) fail(i, o, `unexpected 'deleted' ${ev.key}`);
            if (!beforeOp || beforeOp.exp <= now()) fail(i, o, `'deleted' reported for ${ev.key}, which was not live`);
            break;
          default:
            fail(i, o, `unexpected removal ${JSON.stringify(ev)}`);
        }
      }
      if (o.t === 'purge') {
        for (const [k, e] of model) if (e.exp <= now()) fail(i, o, `${k} is expired but purgeExpired left it`);
      }
    });
  } finally {
    a.close();
    b.close();
  }
}

const NUM_RUNS = 200;

describe('the cache against a Map model', () => {
  const tmp = useTmpDir();
  let n = 0;

  function property(opts: CreateOptions, expectNoEviction: boolean): Tally {
    const seed = process.env.SESSMAP_TEST_SEED ? Number(process.env.SESSMAP_TEST_SEED) : undefined;
    const tally: Tally = { ops: 0, hits: 0, evicted: 0, expired: 0 };
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 200, size: 'max' }), (ops) => {
        const path = tmp.path(`model-${n++}.smap`);
        try {
          runModel(path, opts, ops, expectNoEviction, tally);
        } finally {
          rmSync(path, { force: true });
        }
      }),
      { numRuns: NUM_RUNS, seed },
    );
    return tally;
  }

  it('matches exactly in a cache large enough that nothing is ever evicted', () => {
    const t = property({ pageCount: 4, pageSize: 65536 }, true);
    // Not vacuous: long sequences, reads that found values, entries that expired.
    expect(t.ops).toBeGreaterThan(NUM_RUNS * 50);
    expect(t.hits).toBeGreaterThan(NUM_RUNS);
    expect(t.expired).toBeGreaterThan(0);
  }, 180_000);

  // The second has a slot table of 24 slots, not a power of two: the 16 keys fill up to two thirds
  // of it, and probe runs wrap at the count idealSlot scales to.
  it.each([
    ['one small page that overflows', 16],
    ['one small page with a slot table of 24 slots (not a power of two)', 24],
  ])('matches exactly, apart from reported evictions, in %s', (_name, slotsPerPage) => {
    const t = property({ pageCount: 1, pageSize: 8192, slotsPerPage, defaultTtl: 60_001 }, false);
    expect(t.ops).toBeGreaterThan(NUM_RUNS * 50);
    // A coverage guard, not the property: evictions average about one per run with these
    // arbitraries (195 to 260 per 200 runs were seen), so ask for half that, not a near-mean bound.
    expect(t.evicted, 'the small page never overflowed').toBeGreaterThan(NUM_RUNS / 2);
    expect(t.hits).toBeGreaterThan(NUM_RUNS);
  }, 180_000);
});
