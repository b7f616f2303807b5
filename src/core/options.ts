/**
 * Option validation and geometry. Every validator names the option and the expected range,
 * and throws SESSMAP_ERR_INVALID_OPTION; `undefined` always means the default.
 */
import { invalidOption as invalid, parseSize, validateBoolean, validateEnum, validateFunction, validateInt, validateTimeout, validateTtl } from '../util/validate.js';
import { PAGES_OFF, ITEM_HEADER_SIZE, MAX_MAPPING_BYTES, PAGE_HEADER_SIZE, SLOT_GRAIN, SLOT_SIZE } from './layout.js';
import type { CreateOptions, EvictionPolicy, LockRecoveryEvent, RemovalEvent, RepairEvent, SerializerName } from './types.js';

// The generic validators live in util/validate.ts; re-exported for the core modules that import them from here.
export { parseSize, validateBoolean, validateEnum, validateFunction, validateInt, validateTimeout, validateTtl };

export const MIN_PAGE_SIZE = 8 * 1024;
export const MAX_PAGE_SIZE = 64 * 1024 * 1024;
export const MAX_KEY_BYTES_LIMIT = 4096;
export const MAX_PAGE_COUNT = 1 << 24;

/** Defaults of {@link CreateOptions}. */
export const DEFAULT_OPTIONS = Object.freeze({
  size: 64 * 1024 * 1024,
  maxKeyBytes: 1024,
  defaultTtl: 0,
  serializer: 'json' as SerializerName,
  evictionPolicy: 'lru' as EvictionPolicy,
  ifExists: 'error' as 'error' | 'attach' | 'reinit',
  lockTimeout: 2000,
  verifyReads: false,
});

/** Per-handle options, shared by create and open. */
export interface HandleOptions {
  serializer: SerializerName | undefined;
  defaultTtl: number | undefined;
  lockTimeout: number;
  onRemove: ((event: RemovalEvent) => void) | undefined;
  onLockRecovered: ((event: LockRecoveryEvent) => void) | undefined;
  onRepair: ((event: RepairEvent) => void) | undefined;
  verifyReads: boolean;
  removalValues: boolean;
  clock: () => number;
  listed: boolean;
}

export function normaliseHandleOptions(o: {
  serializer?: unknown;
  defaultTtl?: unknown;
  lockTimeout?: unknown;
  onRemove?: unknown;
  onLockRecovered?: unknown;
  onRepair?: unknown;
  verifyReads?: unknown;
  removalValues?: unknown;
  clock?: unknown;
  listed?: unknown;
}): HandleOptions {
  return {
    serializer: o.serializer === undefined ? undefined : validateEnum<SerializerName>('serializer', o.serializer, ['json', 'v8', 'raw', 'structured']),
    defaultTtl: o.defaultTtl === undefined ? undefined : validateTtl('defaultTtl', o.defaultTtl),
    lockTimeout: o.lockTimeout === undefined ? DEFAULT_OPTIONS.lockTimeout : validateTimeout('lockTimeout', o.lockTimeout),
    onRemove: o.onRemove === undefined ? undefined : validateFunction('onRemove', o.onRemove),
    onLockRecovered: o.onLockRecovered === undefined ? undefined : validateFunction('onLockRecovered', o.onLockRecovered),
    onRepair: o.onRepair === undefined ? undefined : validateFunction('onRepair', o.onRepair),
    verifyReads: o.verifyReads === undefined ? DEFAULT_OPTIONS.verifyReads : validateBoolean('verifyReads', o.verifyReads),
    removalValues: o.removalValues === undefined ? false : validateBoolean('removalValues', o.removalValues),
    clock: o.clock === undefined ? Date.now : validateFunction('clock', o.clock),
    listed: o.listed === undefined ? true : validateBoolean('listed', o.listed),
  };
}

/** The geometry of a file, as laid down at creation. */
export interface FileGeometry {
  pageCount: number;
  pageSize: number;
  slotsPerPage: number;
  maxKeyBytes: number;
  fileSize: number;
}

/** Byte offset (page-relative) where a page's item area starts. */
export function dataStart(slotsPerPage: number): number {
  return (PAGE_HEADER_SIZE + slotsPerPage * SLOT_SIZE + 7) & ~7;
}

/**
 * The largest key + value byte count that can always be stored: half the item area less one
 * item header and a padding margin, so the old value of a key and its new value fit in a page
 * side by side (an overwrite never has to destroy the old value before the new one is whole).
 */
export function maxItemBytesOf(pageSize: number, slotsPerPage: number): number {
  const half = Math.floor((pageSize - dataStart(slotsPerPage)) / 2);
  return (half & ~7) - 2 * ITEM_HEADER_SIZE;
}

/**
 * Page bytes per slot of the default slot table: a 256 KiB page gets 1,408 slots (22 KiB), room
 * for 1,056 entries (MAX_SLOT_LOAD) of 226 bytes or more on average, the size of a session of the
 * benchmark's workload with the 'structured' serializer and its key (docs/benchmarks.md, capacity).
 */
const DEFAULT_BYTES_PER_SLOT = 192;

/** The default slots per page: one per DEFAULT_BYTES_PER_SLOT page bytes, rounded up to a multiple of 64. */
export function defaultSlotsPerPage(pageSize: number): number {
  return Math.ceil(pageSize / DEFAULT_BYTES_PER_SLOT / 64) * 64;
}

/** Validates the geometry options of `create` and derives the full geometry. */
export function computeGeometry(o: CreateOptions): FileGeometry {
  const explicitPageSize = o.pageSize === undefined ? undefined : parseSize('pageSize', o.pageSize);
  const size = o.size === undefined ? undefined : parseSize('size', o.size);
  const totalForDefault = size ?? DEFAULT_OPTIONS.size;
  const pageSize = explicitPageSize ?? (totalForDefault <= 16 * 1024 * 1024 ? 64 * 1024 : 256 * 1024);
  if (pageSize < MIN_PAGE_SIZE || pageSize > MAX_PAGE_SIZE || pageSize % 4096 !== 0) {
    invalid('pageSize', `a multiple of 4096 from ${MIN_PAGE_SIZE} to ${MAX_PAGE_SIZE}`, o.pageSize ?? pageSize);
  }
  // `size` is the most the file may take: the header plus as many whole pages as fit in it.
  const fitting = Math.floor((totalForDefault - PAGES_OFF) / pageSize);
  if (fitting < 1 && (size !== undefined || o.pageCount === undefined)) {
    invalid('size', `at least ${PAGES_OFF + pageSize} bytes (header, structure table and one page of ${pageSize})`, o.size);
  }
  let pageCount: number;
  if (o.pageCount !== undefined) {
    pageCount = validateInt('pageCount', o.pageCount, 1, MAX_PAGE_COUNT);
    if (size !== undefined && pageCount > fitting) {
      invalid('pageCount', `at most ${fitting} for size ${size} (the file, a ${PAGES_OFF}-byte header and structure table and pageCount pages of ${pageSize} bytes, must fit in it); leave out size or pageCount`, o.pageCount);
    }
  } else pageCount = fitting;
  let slotsPerPage: number;
  if (o.slotsPerPage !== undefined) {
    slotsPerPage = validateInt('slotsPerPage', o.slotsPerPage, 8, 1 << 20);
    if (slotsPerPage % SLOT_GRAIN !== 0) invalid('slotsPerPage', `a multiple of ${SLOT_GRAIN}`, o.slotsPerPage);
  } else slotsPerPage = defaultSlotsPerPage(pageSize);
  if (dataStart(slotsPerPage) > pageSize / 4) invalid('slotsPerPage', `small enough that the slot table takes at most a quarter of a ${pageSize}-byte page`, slotsPerPage);
  const maxKeyBytes = o.maxKeyBytes === undefined ? DEFAULT_OPTIONS.maxKeyBytes : validateInt('maxKeyBytes', o.maxKeyBytes, 1, MAX_KEY_BYTES_LIMIT);
  if (maxKeyBytes > maxItemBytesOf(pageSize, slotsPerPage) / 2) invalid('maxKeyBytes', `at most half of maxItemBytes (${maxItemBytesOf(pageSize, slotsPerPage)}) for pageSize ${pageSize}`, maxKeyBytes);
  const fileSize = PAGES_OFF + pageCount * pageSize;
  return { pageCount, pageSize, slotsPerPage, maxKeyBytes, fileSize };
}

/** One mapping of whole pages: the binding's size and offset arguments are C ints. */
export interface SegmentPlan {
  offset: number;
  firstPage: number;
  pageCount: number;
}

/** Splits the pages into mappings that the binding can make; throws when the file is too large for it. */
export function planSegments(g: FileGeometry, segmentLimit: number = MAX_MAPPING_BYTES): SegmentPlan[] {
  const perSegment = Math.max(1, Math.floor(Math.min(segmentLimit, MAX_MAPPING_BYTES) / g.pageSize));
  const plans: SegmentPlan[] = [];
  for (let first = 0; first < g.pageCount; first += perSegment) {
    const offset = PAGES_OFF + first * g.pageSize;
    if (offset > MAX_MAPPING_BYTES) {
      invalid('size', `small enough for the mmap binding, whose offsets stop at ${MAX_MAPPING_BYTES} bytes (about ${Math.floor((MAX_MAPPING_BYTES + perSegment * g.pageSize) / 1024 ** 2)} MiB in all with pageSize ${g.pageSize})`, g.fileSize);
    }
    plans.push({ offset, firstPage: first, pageCount: Math.min(perSegment, g.pageCount - first) });
  }
  return plans;
}
