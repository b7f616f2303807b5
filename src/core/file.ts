/**
 * The cache file on disk: secure creation and opening, the header, and the mappings.
 *
 * Security: files are created 0600 with O_EXCL | O_NOFOLLOW; opening refuses symlinks (by
 * O_NOFOLLOW on the open itself, so there is no check-then-use race), non-regular files,
 * files of another user, and files or directories writable by group or others (a sticky
 * directory such as /tmp or /dev/shm is accepted). Nothing here ever unlinks, truncates
 * or recreates a file because options differ.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { sessmapError, type SessmapError } from '../errors.js';
import { loadBinding } from './native.js';
import {
  FORMAT_VERSION, HEADER_SIZE, PAGES_OFF, H_CRC_OFF, H_CREATED_OFF, H_DEFAULT_TTL_OFF, H_EPOCH_IDX, H_FILE_SIZE_OFF, H_FLAGS_OFF,
  H_HEADER_SIZE_OFF, H_IMMUTABLE_END, H_MAGIC_OFF, H_MAX_KEY_OFF, H_PAGE_COUNT_OFF, H_PAGE_SIZE_OFF, H_SEED_LEN, H_SEED_OFF,
  H_SLOTS_OFF, H_STATE_IDX, H_VERSION_OFF, MAGIC, POLICY_CODES, SERIALIZER_CODES, SLOT_GRAIN, STATE_READY,
} from './layout.js';
import { MAX_KEY_BYTES_LIMIT, MAX_PAGE_COUNT, MAX_PAGE_SIZE, MIN_PAGE_SIZE, dataStart, type FileGeometry, type SegmentPlan } from './options.js';
import type { EvictionPolicy, PathStatus, SerializerName } from './types.js';

/** Everything the header says. */
export interface HeaderInfo extends FileGeometry {
  version: number;
  policy: EvictionPolicy;
  serializer: SerializerName;
  createdAt: number;
  defaultTtl: number;
  seed: Buffer;
}

/** One mapping of the file, with the typed views the engine works through. */
export class Segment {
  readonly buf: Buffer;
  readonly i32: Int32Array;
  readonly u32: Uint32Array;
  readonly f64: Float64Array;
  readonly u16: Uint16Array;
  constructor(buf: Buffer) {
    this.buf = buf;
    this.i32 = new Int32Array(buf.buffer, buf.byteOffset, buf.length >> 2);
    this.u32 = new Uint32Array(buf.buffer, buf.byteOffset, buf.length >> 2);
    this.f64 = new Float64Array(buf.buffer, buf.byteOffset, buf.length >> 3);
    this.u16 = new Uint16Array(buf.buffer, buf.byteOffset, buf.length >> 1);
  }
}

function ioError(op: string, file: string, err: unknown): SessmapError {
  const e = err as NodeJS.ErrnoException;
  return sessmapError('SESSMAP_ERR_IO', `${op} ${file} failed: ${e.message}`, { path: file, syscall: e.syscall, errno: e.code }, err);
}

const POLICY_NAMES: EvictionPolicy[] = ['lru', 'none'];
const SERIALIZER_NAMES: SerializerName[] = ['json', 'v8', 'raw', 'structured'];

/** Creates the directory (0700) when missing; refuses one that others may write into. */
export function ensurePrivateDir(dir: string): void {
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw ioError('mkdir', dir, err);
  }
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch (err) {
    throw ioError('stat', dir, err);
  }
  const sticky = (st.mode & 0o1000) !== 0;
  const uid = process.getuid?.();
  if (!sticky && uid !== undefined && st.uid !== uid && st.uid !== 0) {
    throw sessmapError('SESSMAP_ERR_FILE_OWNER', `directory ${dir} belongs to uid ${st.uid}, not to this process (uid ${uid})`, { path: dir, owner: st.uid, uid });
  }
  // World- or group-writable without the sticky bit: anyone could swap our file.
  if ((st.mode & 0o022) !== 0 && !sticky) {
    throw sessmapError('SESSMAP_ERR_FILE_PERMISSIONS', `directory ${dir} is writable by group or others (mode ${(st.mode & 0o7777).toString(8)}) and not sticky; use a private (0700) directory`, { path: dir, mode: st.mode & 0o7777 });
  }
}

/** Opens an existing file for read and write, refusing what is not ours to attach to. */
export function openSecure(file: string): number {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw sessmapError('SESSMAP_ERR_FILE_NOT_FOUND', `cache file ${file} does not exist`, { path: file });
    if (code === 'ELOOP') throw sessmapError('SESSMAP_ERR_FILE_SYMLINK', `cache file ${file} is a symbolic link; sessmap never follows one`, { path: file });
    if (code === 'EISDIR') throw sessmapError('SESSMAP_ERR_FILE_NOT_REGULAR', `cache path ${file} is a directory, not a regular file`, { path: file });
    throw ioError('open', file, err);
  }
  try {
    checkOwnership(fd, file);
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
  return fd;
}

function checkOwnership(fd: number, file: string): void {
  const st = fs.fstatSync(fd);
  if (!st.isFile()) throw sessmapError('SESSMAP_ERR_FILE_NOT_REGULAR', `cache path ${file} is not a regular file`, { path: file });
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) {
    throw sessmapError('SESSMAP_ERR_FILE_OWNER', `cache file ${file} belongs to uid ${st.uid}, not to this process (uid ${uid})`, { path: file, owner: st.uid, uid });
  }
  if ((st.mode & 0o022) !== 0) {
    throw sessmapError('SESSMAP_ERR_FILE_PERMISSIONS', `cache file ${file} is writable by group or others (mode ${(st.mode & 0o777).toString(8)}); expected 0600`, { path: file, mode: st.mode & 0o777 });
  }
}

/** Creates a new file exclusively, or returns undefined when it already exists. */
export function createExclusive(file: string): number | undefined {
  ensurePrivateDir(path.dirname(path.resolve(file)));
  try {
    const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
    fs.fchmodSync(fd, 0o600);
    return fd;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return undefined;
    throw ioError('create', file, err);
  }
}

/** Encodes the immutable header fields (the mutable state and epoch words are left to the caller). */
export function writeHeader(buf: Buffer, g: FileGeometry, policy: EvictionPolicy, serializer: SerializerName, defaultTtl: number, createdAt: number): void {
  buf.fill(0, 0, H_IMMUTABLE_END + 4);
  MAGIC.copy(buf, H_MAGIC_OFF);
  buf.writeUInt32LE(FORMAT_VERSION, H_VERSION_OFF);
  buf.writeUInt32LE(HEADER_SIZE, H_HEADER_SIZE_OFF);
  buf.writeUInt32LE(g.pageCount, H_PAGE_COUNT_OFF);
  buf.writeUInt32LE(g.pageSize, H_PAGE_SIZE_OFF);
  buf.writeUInt32LE(g.slotsPerPage, H_SLOTS_OFF);
  buf.writeUInt32LE(g.maxKeyBytes, H_MAX_KEY_OFF);
  buf.writeUInt32LE(POLICY_CODES[policy] | (SERIALIZER_CODES[serializer] << 2), H_FLAGS_OFF);
  buf.writeDoubleLE(createdAt, H_CREATED_OFF);
  buf.writeDoubleLE(defaultTtl === Infinity ? 0 : defaultTtl, H_DEFAULT_TTL_OFF);
  buf.writeDoubleLE(g.fileSize, H_FILE_SIZE_OFF);
  randomBytes(H_SEED_LEN).copy(buf, H_SEED_OFF);
  buf.writeUInt32LE(crc32(buf.subarray(0, H_IMMUTABLE_END)), H_CRC_OFF);
}

/** Reads and checks the header through `fd`; each failure is a coded error naming what is wrong. */
export function readHeader(fd: number, file: string): HeaderInfo {
  const st = fs.fstatSync(fd);
  const head = Buffer.alloc(HEADER_SIZE);
  const n = fs.readSync(fd, head, 0, HEADER_SIZE, 0);
  if (n < MAGIC.length || !head.subarray(0, MAGIC.length).equals(MAGIC)) {
    const partial = n > 0 && n < MAGIC.length && MAGIC.subarray(0, n).equals(head.subarray(0, n));
    if (partial) throw sessmapError('SESSMAP_ERR_FILE_TRUNCATED', `cache file ${file} is truncated (${n} bytes)`, { path: file, size: n });
    throw sessmapError('SESSMAP_ERR_FILE_FOREIGN', `${file} is not a sessmap cache file (no sessmap magic at offset 0)`, { path: file });
  }
  if (n < HEADER_SIZE) throw sessmapError('SESSMAP_ERR_FILE_TRUNCATED', `cache file ${file} is truncated: ${n} bytes, shorter than its ${HEADER_SIZE}-byte header`, { path: file, size: n });
  const version = head.readUInt32LE(H_VERSION_OFF);
  if (version !== FORMAT_VERSION) {
    throw sessmapError('SESSMAP_ERR_FILE_VERSION', `cache file ${file} has format version ${version}; this build of sessmap reads version ${FORMAT_VERSION}`, { path: file, version, supported: FORMAT_VERSION });
  }
  const stored = head.readUInt32LE(H_CRC_OFF);
  const actual = crc32(head.subarray(0, H_IMMUTABLE_END));
  if (stored !== actual) throw sessmapError('SESSMAP_ERR_FILE_CORRUPT', `cache file ${file} has a corrupt header (checksum ${actual.toString(16)} does not match the stored ${stored.toString(16)})`, { path: file });
  const flags = head.readUInt32LE(H_FLAGS_OFF);
  const info: HeaderInfo = {
    version,
    pageCount: head.readUInt32LE(H_PAGE_COUNT_OFF),
    pageSize: head.readUInt32LE(H_PAGE_SIZE_OFF),
    slotsPerPage: head.readUInt32LE(H_SLOTS_OFF),
    maxKeyBytes: head.readUInt32LE(H_MAX_KEY_OFF),
    fileSize: head.readDoubleLE(H_FILE_SIZE_OFF),
    policy: POLICY_NAMES[flags & 3],
    serializer: SERIALIZER_NAMES[(flags >> 2) & 3],
    createdAt: head.readDoubleLE(H_CREATED_OFF),
    defaultTtl: head.readDoubleLE(H_DEFAULT_TTL_OFF),
    seed: Buffer.from(head.subarray(H_SEED_OFF, H_SEED_OFF + H_SEED_LEN)),
  };
  const sane =
    head.readUInt32LE(H_HEADER_SIZE_OFF) === HEADER_SIZE &&
    info.pageSize >= MIN_PAGE_SIZE && info.pageSize <= MAX_PAGE_SIZE && info.pageSize % 4096 === 0 &&
    info.pageCount >= 1 && info.pageCount <= MAX_PAGE_COUNT &&
    info.slotsPerPage >= 8 && info.slotsPerPage % SLOT_GRAIN === 0 && dataStart(info.slotsPerPage) <= info.pageSize / 4 &&
    info.maxKeyBytes >= 1 && info.maxKeyBytes <= MAX_KEY_BYTES_LIMIT &&
    info.fileSize === PAGES_OFF + info.pageCount * info.pageSize &&
    info.policy !== undefined && info.serializer !== undefined && info.defaultTtl >= 0;
  if (!sane) throw sessmapError('SESSMAP_ERR_FILE_CORRUPT', `cache file ${file} describes an impossible geometry`, { path: file });
  if (st.size < info.fileSize) {
    throw sessmapError('SESSMAP_ERR_FILE_TRUNCATED', `cache file ${file} is truncated: ${st.size} bytes, its header says ${info.fileSize}`, { path: file, size: st.size, expected: info.fileSize });
  }
  return info;
}

/** Maps the header and the structure table. */
export function mapHeader(fd: number, file: string): Segment {
  return new Segment(mapRange(fd, file, PAGES_OFF, 0));
}

/** Maps the page segments. */
export function mapSegments(fd: number, file: string, plans: SegmentPlan[], pageSize: number): Segment[] {
  return plans.map((p) => new Segment(mapRange(fd, file, p.pageCount * pageSize, p.offset)));
}

function mapRange(fd: number, file: string, size: number, offset: number): Buffer {
  const mmap = loadBinding(); // SESSMAP_ERR_NATIVE_BINDING, not an mmap failure: outside the try
  try {
    return mmap.map(size, mmap.PROT_READ | mmap.PROT_WRITE, mmap.MAP_SHARED, fd, offset);
  } catch (err) {
    throw ioError('mmap', file, err);
  }
}

/** Waits (bounded) for a file's creator to mark it ready. */
export function waitReady(header: Segment, file: string, timeoutMs: number): void {
  const deadline = Date.now() + timeoutMs;
  const cell = new Int32Array(new SharedArrayBuffer(4));
  while (Atomics.load(header.i32, H_STATE_IDX) !== STATE_READY) {
    if (Date.now() >= deadline) {
      throw sessmapError('SESSMAP_ERR_FILE_NOT_READY', `cache file ${file} is still being initialised (or its creator died while initialising it; recreate it with ifExists: 'reinit')`, { path: file });
    }
    Atomics.wait(cell, 0, 0, 5);
  }
}

export function currentEpoch(header: Segment): number {
  return Atomics.load(header.i32, H_EPOCH_IDX);
}

/**
 * The default private directory for cache files: `$XDG_RUNTIME_DIR/sessmap` (a per-user tmpfs on
 * systemd hosts) when that variable names a directory, else `<tmpdir>/sessmap-<uid>`, created 0700.
 */
export function defaultCacheDir(): string {
  const xdg = process.env.XDG_RUNTIME_DIR;
  if (xdg && path.isAbsolute(xdg) && fs.existsSync(xdg)) return path.join(xdg, 'sessmap');
  return path.join(os.tmpdir(), `sessmap-${process.getuid?.() ?? 'user'}`);
}

/** Which file a path led to: the device and inode of the file a handle maps. */
export interface FileIdentity {
  readonly dev: number;
  readonly ino: number;
}

export function fileIdentity(st: fs.Stats): FileIdentity {
  return { dev: st.dev, ino: st.ino };
}

/**
 * Whether `file` still leads to the file `id` names: one lstat. `'deleted'` when nothing is there
 * (or a directory on the way is gone), `'replaced'` when something else is (another file, a
 * symbolic link, a directory).
 */
export function pathStatus(file: string, id: FileIdentity): PathStatus {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return 'deleted';
    throw ioError('lstat', file, err);
  }
  return st.dev === id.dev && st.ino === id.ino ? 'same' : 'replaced';
}
