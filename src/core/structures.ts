/**
 * The 'structured' serializer: msgpackr records whose structures (the key lists a record refers
 * to by id) are shared through the file, so every process and thread attached encodes and decodes
 * with the same table, and a value spends its bytes on values, not on key names.
 *
 * The table lives in a region of its own after the header (layout.ts, docs/file-format.md): two
 * copies and a generation word; the active copy is `generation & 1`. It only ever grows: an id,
 * once saved, means the same key list for the life of the file, so a value decodes the same with
 * any later table. A save (under the region's lock) writes the inactive copy whole, checksum
 * last, then bumps the generation with one store: a saver killed at any point leaves the active
 * copy as it was, and the next saver overwrites the half-written one. Readers take no lock: they
 * read the generation, the copy, check its checksum and that the generation did not move.
 *
 * A value is always packed against a table that is saved: msgpackr saves a new structure before
 * the packed bytes are returned, and when another process saved first (the table grew under it)
 * the save is declined, the table reloaded and the value packed again. A process that meets an id
 * it does not know reloads the table (msgpackr's getStructures). When the table is full (its byte
 * capacity or the id limit), new shapes are written with per-record structures inside the value:
 * larger, never an error, never a lost value.
 */
import { crc32 } from 'node:zlib';
import { Packr } from 'msgpackr';
import { sessmapError } from '../errors.js';
import type { Segment } from './file.js';
import {
  SC_CAPACITY, SC_CRC_OFF, SC_DATA_OFF, SC_GEN_OFF, SC_LEN_OFF, STRUCTURES_OFF, S_COPY_OFF, S_COPY_SIZE, S_GEN_OFF, S_LOCK_OFF,
} from './layout.js';
import { FAULTS, fault } from './faults.js';
import { OWNER_ID, isOwnerAlive, sleep } from './lock.js';

/** Ids for shared structures (msgpackr allows up to 8160; two-byte record ids past the first 32). */
export const MAX_SHARED_STRUCTURES = 2048;
const READ_TRIES = 64;
/** Declined saves after which one value's new shapes go per record. */
const MAX_DECLINED = 8;

type KeyList = string[];

/** The region in the header mapping: loads and saves the table. */
export class StructureTable {
  readonly #seg: Segment;
  readonly #path: string;
  readonly #lockTimeout: number;
  readonly #lockIdx: number;
  readonly #genIdx: number;

  constructor(header: Segment, path: string, lockTimeout: number) {
    this.#seg = header;
    this.#path = path;
    this.#lockTimeout = lockTimeout;
    this.#lockIdx = (STRUCTURES_OFF + S_LOCK_OFF) >> 2;
    this.#genIdx = (STRUCTURES_OFF + S_GEN_OFF) >> 2;
  }

  /** The current generation (0: nothing saved yet). */
  generation(): number {
    return Atomics.load(this.#seg.u32, this.#genIdx);
  }

  /**
   * True once the active copy was found damaged (it fails its checksum while no save is under
   * way: damage to the file, not a race). Then the table is frozen: the copy of the generation
   * before serves reads (values that use an id only the damaged copy had no longer decode, and
   * are dropped as unreadable, never read with another structure), and nothing is saved again
   * (an id must never be given a second meaning); new shapes get per-record structures.
   */
  damaged = false;

  /** The table as saved now, with its text's length in bytes. */
  load(): { structures: KeyList[]; bytes: number } {
    let gen = 0;
    for (let i = 0; i < READ_TRIES; i++) {
      gen = this.generation();
      if (gen === 0) return { structures: [], bytes: 2 };
      const text = this.#readCopy(gen);
      if (text !== undefined && this.generation() === gen) return { structures: this.#parse(text), bytes: Buffer.byteLength(text) };
      // A save writes only the inactive copy: a failing active copy whose generation did not
      // move is damage, not a race (a reader overtaken by two saves sees the generation move).
      if (this.generation() === gen) break;
    }
    this.damaged = true;
    const older = gen > 1 ? this.#readCopy(gen - 1) : undefined;
    return older === undefined ? { structures: [], bytes: 2 } : { structures: this.#parse(older), bytes: Buffer.byteLength(older) };
  }

  #parse(text: string): KeyList[] {
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch {
      v = undefined;
    }
    if (!Array.isArray(v) || !v.every((k) => Array.isArray(k) && k.every((x) => typeof x === 'string'))) {
      throw sessmapError('SESSMAP_ERR_FILE_CORRUPT', `the structure table of ${this.#path} is not a list of key lists`, { path: this.#path });
    }
    return v as KeyList[];
  }

  /** The active copy's text, or undefined when it does not check (a save in between). */
  #readCopy(gen: number): string | undefined {
    const at = this.#copyAt(gen);
    const u32 = this.#seg.u32;
    const len = u32[(at + SC_LEN_OFF) >> 2];
    if (u32[(at + SC_GEN_OFF) >> 2] !== gen || len > SC_CAPACITY) return undefined;
    const body = this.#seg.buf.subarray(at + SC_DATA_OFF, at + SC_DATA_OFF + len);
    if (checksum(gen, len, body) !== u32[(at + SC_CRC_OFF) >> 2]) return undefined;
    return body.toString('utf8');
  }

  #copyAt(gen: number): number {
    return STRUCTURES_OFF + S_COPY_OFF + (gen & 1) * S_COPY_SIZE;
  }

  /**
   * Saves `next` when the table saved now is a prefix of it (every saved id keeps its key list);
   * false when it is not (another process saved first: the saver reloads and packs again) or
   * when `next` does not fit (the saver packs again, with per-record structures for the rest).
   */
  save(next: readonly KeyList[]): boolean {
    if (this.damaged) return false;
    this.#lock();
    try {
      const saved = this.load().structures;
      if (this.damaged || !isPrefix(saved, next)) return false;
      const text = Buffer.from(JSON.stringify(next), 'utf8');
      if (text.length > SC_CAPACITY) return false;
      const gen = this.generation() + 1;
      const at = this.#copyAt(gen);
      const u32 = this.#seg.u32;
      u32[(at + SC_GEN_OFF) >> 2] = 0;
      this.#seg.buf.set(text, at + SC_DATA_OFF);
      u32[(at + SC_LEN_OFF) >> 2] = text.length;
      if (FAULTS) fault('structures:partial');
      u32[(at + SC_CRC_OFF) >> 2] = checksum(gen, text.length, text);
      u32[(at + SC_GEN_OFF) >> 2] = gen;
      if (FAULTS) fault('structures:unpublished');
      Atomics.store(u32, this.#genIdx, gen);
      return true;
    } finally {
      Atomics.compareExchange(this.#seg.i32, this.#lockIdx, OWNER_ID, 0);
    }
  }

  /** Takes the region's lock; a dead holder's is taken over (it can only have half-written the inactive copy). */
  #lock(): void {
    const i32 = this.#seg.i32;
    const deadline = Date.now() + this.#lockTimeout;
    for (let spin = 0; ; spin++) {
      const owner = Atomics.compareExchange(i32, this.#lockIdx, 0, OWNER_ID);
      if (owner === 0) return;
      if (owner === OWNER_ID) {
        throw sessmapError('SESSMAP_ERR_REENTRANT_CALL', 'the structure table was saved to from inside its own save');
      }
      if (!isOwnerAlive(owner)) {
        if (Atomics.compareExchange(i32, this.#lockIdx, owner, OWNER_ID) === owner) return;
        continue;
      }
      if (Date.now() >= deadline) {
        throw sessmapError('SESSMAP_ERR_LOCK_TIMEOUT', `the structure table of ${this.#path} stayed locked for ${this.#lockTimeout} ms`, { owner, lockTimeout: this.#lockTimeout });
      }
      if (spin > 20) sleep(1);
    }
  }
}

/** Whether every key list of `saved` is the one `next` has under the same id. */
function isPrefix(saved: readonly KeyList[], next: readonly KeyList[]): boolean {
  if (saved.length > next.length) return false;
  for (let i = 0; i < saved.length; i++) {
    const a = saved[i]!;
    const b = next[i]!;
    if (a.length !== b.length) return false;
    for (let j = 0; j < a.length; j++) if (a[j] !== b[j]) return false;
  }
  return true;
}

function checksum(gen: number, len: number, body: Uint8Array): number {
  const head = Buffer.allocUnsafe(8);
  head.writeUInt32LE(gen, 0);
  head.writeUInt32LE(len, 4);
  return crc32(body, crc32(head));
}

/** Bytes a key list adds to the table's text (JSON, with its comma). */
function textBytes(keys: readonly unknown[]): number {
  return Buffer.byteLength(JSON.stringify(keys)) + 1;
}

/**
 * A handle's codec over the file's table: one msgpackr Packr whose shared structures are the
 * table's. `encode` returns bytes valid until the next encode (they are copied into the page at
 * once); `decode` takes bytes already checked consistent (copied out under the seqlock or lock).
 */
export class StructuredCodec {
  readonly #table: StructureTable;
  readonly #packr: Packr;
  /** Bytes of the table's text as this handle last loaded or saved it. */
  #bytes = 2;
  /**
   * Saves declined during the value being packed: past a few (other processes saving all the
   * while), its new shapes are written per record, so a pack always ends.
   */
  #declined = 0;

  constructor(table: StructureTable) {
    this.#table = table;
    this.#packr = new Packr({
      useRecords: true,
      mapsAsObjects: true,
      // Binary values are copied out of the bytes decoded (a handle's reused scratch).
      copyBuffers: true,
      maxSharedStructures: MAX_SHARED_STRUCTURES,
      getStructures: () => {
        const t = this.#table.load();
        this.#bytes = t.bytes;
        return t.structures;
      },
      // The check is the table's own (saved ids kept: a prefix), not msgpackr's count of what it
      // saved last, which could disagree with the table forever after concurrent saves of
      // nested shapes, and decline (and pack again) without end.
      saveStructures: (structures: KeyList[]) => {
        const shared = structures.slice(0, (structures as { sharedLength?: number }).sharedLength ?? structures.length);
        const ok = this.#table.save(shared);
        if (ok) this.#bytes = textBytes(shared);
        else {
          this.#declined++;
          this.#bytes = this.#table.load().bytes;
        }
        return ok;
      },
      // A shape joins the table only while its key list fits in the table's text.
      shouldShareStructure: (keys: readonly unknown[]) => !this.#table.damaged && this.#declined < MAX_DECLINED && this.#bytes + textBytes(keys) <= SC_CAPACITY,
    } as unknown as ConstructorParameters<typeof Packr>[0]);
  }

  encode(value: unknown): Uint8Array {
    this.#declined = 0;
    return this.#packr.pack(value);
  }

  decode(bytes: Uint8Array): unknown {
    return this.#packr.unpack(bytes);
  }

  /**
   * Decodes bytes [0, end) of `scratch`, a buffer the caller reuses (msgpackr keeps a DataView
   * on a source it sees again: no new Buffer, no new view per read).
   */
  decodeScratch(scratch: Buffer, end: number): unknown {
    return this.#packr.unpack(scratch, { start: 0, end });
  }
}
