/**
 * The stores under comparison, behind one small interface so a scenario runs the same loop over
 * each. Every store runs in its own child process, so each loop call site stays monomorphic.
 *
 * sessmap is loaded dynamically from src/index.ts: while it is missing or broken the harness runs
 * with the other stores and reports why sessmap was skipped.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { deserialize as v8Deserialize, serialize as v8Serialize } from 'node:v8';
import { LRUCache } from 'lru-cache';
import { open as lmdbOpen } from 'lmdb';
import { Packr } from 'msgpackr';

/** Stores of the session workload. */
export type StoreKind = 'sessmap' | 'lru-cache' | 'lmdb' | 'lmdb-structs';
export const STORE_KINDS: readonly StoreKind[] = ['sessmap', 'lru-cache', 'lmdb', 'lmdb-structs'];

/**
 * How values are encoded: sessmap's serializer names; lru-cache mirrors them ('structured': an
 * in-process msgpackr Packr with shared structures); lmdb uses its own (only 'raw' changes it).
 */
export type ValueMode = 'json' | 'v8' | 'raw' | 'structured';

/** The store column of a store's rows with a value mode: the kind alone with JSON, else the kind and the mode. */
export function rowLabel(kind: StoreKind, mode: ValueMode): string {
  return mode === 'json' ? kind : `${kind} '${mode}'`;
}

/** What each store is, for the report. */
export const STORE_NOTES: Record<StoreKind, string> = {
  sessmap: "SharedCache, serializer as stated (default 'json'), size 256m",
  'lru-cache':
    'LRUCache({ max: 60000 }) holding the serialized value (JSON.stringify on set, JSON.parse on get); per process, not shared',
  lmdb: 'lmdb open({ path }) defaults: msgpackr with per-entry records (no shared structures), cache off, putSync',
  'lmdb-structs':
    "lmdb with sharedStructuresKey: Symbol.for('structures') (shared msgpackr structures kept in the db, as lmdb's README recommends)",
};

/** What the stores with ValueMode 'structured' are, for the report. */
export const STRUCTURED_NOTES: Partial<Record<StoreKind, string>> = {
  sessmap: "SharedCache with serializer 'structured' (msgpackr records against the structure table kept in the file; what the session backend creates its file with), size 256m",
  'lru-cache':
    'LRUCache({ max: 60000 }) holding msgpackr bytes of one in-process Packr({ structures: [], maxSharedStructures }) with the limit of sessmap\'s table (so the same bytes as sessmap\'s), packed on set, unpacked on get; per process, not shared',
};

export interface BenchStore<V> {
  readonly kind: StoreKind;
  get(key: string): V | undefined;
  set(key: string, value: V): void;
  /** Read-modify-write of one entry (sessmap: under its page lock; lmdb: get + putSync). */
  update(key: string, fn: (v: V) => V): void;
  close(): void;
}

/** Whether the store is one shared file (attachable from another process) or per process. */
export function isShared(kind: StoreKind): boolean {
  return kind !== 'lru-cache';
}

// ---------------------------------------------------------------------------------- sessmap

/** The slice of SharedCache the bench uses (typed locally so bench/ compiles without src/). */
interface SharedCacheLike {
  get(key: string): unknown;
  getInto(key: string, target: Uint8Array, offset?: number): number;
  set(key: string, value: unknown, options?: { ttl?: number }): unknown;
  update(key: string, fn: (value: unknown) => unknown): unknown;
  stats(): unknown;
  close(): void;
}
interface SharedCacheStatic {
  create(path: string, options: Record<string, unknown>): SharedCacheLike;
  open(path: string, options?: Record<string, unknown>): SharedCacheLike;
}

const SESSMAP_ENTRY = fileURLToPath(new URL('../../src/index.ts', import.meta.url));
let sessmapModule: SharedCacheStatic | undefined;

/** Import sessmap; resolves to the SharedCache class or throws with why it is unavailable. */
export async function loadSessmap(): Promise<SharedCacheStatic> {
  if (sessmapModule) return sessmapModule;
  if (!existsSync(SESSMAP_ENTRY)) throw new Error('src/index.ts does not exist yet');
  const spec: string = new URL('../../src/index.ts', import.meta.url).href;
  const mod = (await import(spec)) as { SharedCache?: SharedCacheStatic };
  const sc = mod.SharedCache;
  if (!sc || typeof sc.create !== 'function' || typeof sc.open !== 'function') {
    throw new Error('src/index.ts does not export SharedCache with create() and open()');
  }
  sessmapModule = sc;
  return sc;
}

class SessmapStore<V> implements BenchStore<V> {
  readonly kind = 'sessmap' as const;
  readonly #cache: SharedCacheLike;
  constructor(cache: SharedCacheLike) {
    this.#cache = cache;
  }
  get(key: string): V | undefined {
    return this.#cache.get(key) as V | undefined;
  }
  /** serializer 'raw' only: the value's bytes into `target`, their count (-1: absent). */
  getInto(key: string, target: Uint8Array): number {
    return this.#cache.getInto(key, target);
  }
  set(key: string, value: V): void {
    this.#cache.set(key, value);
  }
  update(key: string, fn: (v: V) => V): void {
    this.#cache.update(key, fn as (value: unknown) => unknown);
  }
  /** The cache's own counters, for the report. */
  stats(): unknown {
    return this.#cache.stats();
  }
  close(): void {
    this.#cache.close();
  }
}

// ---------------------------------------------------------------------------------- lru-cache

class LruJsonStore<V> implements BenchStore<V> {
  readonly kind = 'lru-cache' as const;
  readonly #lru = new LRUCache<string, string>({ max: 60_000 });
  get(key: string): V | undefined {
    const s = this.#lru.get(key);
    return s === undefined ? undefined : (JSON.parse(s) as V);
  }
  set(key: string, value: V): void {
    this.#lru.set(key, JSON.stringify(value));
  }
  update(key: string, fn: (v: V) => V): void {
    const s = this.#lru.get(key);
    if (s !== undefined) this.#lru.set(key, JSON.stringify(fn(JSON.parse(s) as V)));
  }
  close(): void {
    this.#lru.clear();
  }
}

class LruV8Store<V> implements BenchStore<V> {
  readonly kind = 'lru-cache' as const;
  readonly #lru = new LRUCache<string, Buffer>({ max: 60_000 });
  get(key: string): V | undefined {
    const b = this.#lru.get(key);
    return b === undefined ? undefined : (v8Deserialize(b as Uint8Array) as V);
  }
  set(key: string, value: V): void {
    this.#lru.set(key, v8Serialize(value));
  }
  update(key: string, fn: (v: V) => V): void {
    const b = this.#lru.get(key);
    if (b !== undefined) this.#lru.set(key, v8Serialize(fn(v8Deserialize(b as Uint8Array) as V)));
  }
  close(): void {
    this.#lru.clear();
  }
}

/** Buffers stored as they are: get returns the stored Buffer itself (no copy). */
class LruRawStore<V> implements BenchStore<V> {
  readonly kind = 'lru-cache' as const;
  readonly #lru = new LRUCache<string, Buffer>({ max: 60_000 });
  get(key: string): V | undefined {
    return this.#lru.get(key) as V | undefined;
  }
  set(key: string, value: V): void {
    this.#lru.set(key, value as unknown as Buffer);
  }
  update(key: string, fn: (v: V) => V): void {
    const b = this.#lru.get(key);
    if (b !== undefined) this.#lru.set(key, fn(b as unknown as V) as unknown as Buffer);
  }
  close(): void {
    this.#lru.clear();
  }
}

/**
 * msgpackr records with shared structures kept in this process: the bytes of sessmap's
 * 'structured' (the same encoding options; the shapes get the same ids when they come in the same
 * order: for the workload's sessions every value has the size sessmap stores).
 */
class LruStructuredStore<V> implements BenchStore<V> {
  readonly kind = 'lru-cache' as const;
  readonly #lru = new LRUCache<string, Uint8Array>({ max: 60_000 });
  readonly #packr: Packr;
  constructor(maxSharedStructures: number) {
    this.#packr = new Packr({ structures: [], maxSharedStructures, useRecords: true, mapsAsObjects: true });
  }
  get(key: string): V | undefined {
    const b = this.#lru.get(key);
    return b === undefined ? undefined : (this.#packr.unpack(b) as V);
  }
  // pack returns a view of the Packr's own buffer that later packs do not overwrite (it takes a
  // new buffer when it runs out), so it is kept as it is, as an in-process user would.
  set(key: string, value: V): void {
    this.#lru.set(key, this.#packr.pack(value));
  }
  update(key: string, fn: (v: V) => V): void {
    const b = this.#lru.get(key);
    if (b !== undefined) this.#lru.set(key, this.#packr.pack(fn(this.#packr.unpack(b) as V)));
  }
  close(): void {
    this.#lru.clear();
  }
}

/** sessmap's limit of shared structures (src/core/structures.ts), read from src/ like SharedCache. */
async function sessmapMaxSharedStructures(): Promise<number> {
  const spec: string = new URL('../../src/core/structures.ts', import.meta.url).href;
  const mod = (await import(spec)) as { MAX_SHARED_STRUCTURES?: unknown };
  if (typeof mod.MAX_SHARED_STRUCTURES !== 'number') throw new Error('src/core/structures.ts does not export MAX_SHARED_STRUCTURES');
  return mod.MAX_SHARED_STRUCTURES;
}

// ---------------------------------------------------------------------------------- lmdb

type LmdbDb = ReturnType<typeof lmdbOpen>;

class LmdbStore<V> implements BenchStore<V> {
  readonly kind: StoreKind;
  readonly #db: LmdbDb;
  constructor(kind: StoreKind, db: LmdbDb) {
    this.kind = kind;
    this.#db = db;
  }
  get(key: string): V | undefined {
    return this.#db.get(key) as V | undefined;
  }
  set(key: string, value: V): void {
    this.#db.putSync(key, value);
  }
  /** Not atomic: another process can write between the get and the putSync. */
  update(key: string, fn: (v: V) => V): void {
    const v = this.#db.get(key) as V | undefined;
    if (v !== undefined) this.#db.putSync(key, fn(v));
  }
  /** The atomic variant: get and put inside one synchronous write transaction. */
  updateTxn(key: string, fn: (v: V) => V): void {
    const db = this.#db;
    db.transactionSync(() => {
      const v = db.get(key) as V | undefined;
      if (v !== undefined) db.putSync(key, fn(v));
    });
  }
  close(): void {
    void this.#db.close();
  }
}

// ---------------------------------------------------------------------------------- factory

export interface OpenStoreOptions {
  kind: StoreKind;
  mode: ValueMode;
  /** File (sessmap) or directory (lmdb) of the store; unused by lru-cache. */
  path: string;
  /** `create` wipes and lays out a fresh store; `attach` opens the one another process created. */
  how: 'create' | 'attach';
}

export async function openStore<V>(o: OpenStoreOptions): Promise<BenchStore<V>> {
  switch (o.kind) {
    case 'sessmap': {
      const SharedCache = await loadSessmap();
      const cache =
        o.how === 'create'
          ? SharedCache.create(o.path, { size: '256m', serializer: o.mode, ifExists: 'reinit' })
          : SharedCache.open(o.path, { serializer: o.mode });
      return new SessmapStore<V>(cache);
    }
    case 'lru-cache':
      if (o.mode === 'raw') return new LruRawStore<V>();
      if (o.mode === 'structured') return new LruStructuredStore<V>(await sessmapMaxSharedStructures());
      return o.mode === 'v8' ? new LruV8Store<V>() : new LruJsonStore<V>();
    case 'lmdb':
    case 'lmdb-structs': {
      const options: Record<string, unknown> = { path: o.path };
      if (o.mode === 'raw') options.encoding = 'binary';
      if (o.kind === 'lmdb-structs') options.sharedStructuresKey = Symbol.for('structures');
      return new LmdbStore<V>(o.kind, lmdbOpen(options));
    }
  }
}

/** The lmdb store's atomic update, or undefined for other stores. */
export function txnUpdater<V>(store: BenchStore<V>): ((key: string, fn: (v: V) => V) => void) | undefined {
  return store instanceof LmdbStore ? (k, fn) => (store as LmdbStore<V>).updateTxn(k, fn) : undefined;
}

/** sessmap's stats(), or undefined for other stores. */
export function storeStats(store: BenchStore<unknown>): unknown {
  return store instanceof SessmapStore ? store.stats() : undefined;
}
