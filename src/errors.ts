/**
 * The one error registry of sessmap.
 *
 * Every error sessmap throws is a {@link SessmapError} with a stable `code`
 * from {@link ERROR_CODES}. Codes are never reused or renamed; `docs/errors.md`
 * mirrors this table and a test keeps the two in sync.
 *
 * Errors cross process boundaries (cluster IPC) as `{ code, message, name }`
 * and are rebuilt here by code with {@link errorFromJSON}.
 */

/** What each code means; the text is the first line of its entry in docs/errors.md. */
export const ERROR_CODES = {
  SESSMAP_ERR_INVALID_OPTION: 'An option has the wrong type or is out of range.',
  SESSMAP_ERR_INVALID_KEY: 'A key is not a non-empty string within the maximum key length.',
  SESSMAP_ERR_VALUE_TOO_LARGE: 'A key and value together exceed maxItemBytes; nothing was evicted.',
  SESSMAP_ERR_CACHE_FULL: "The page is full of live entries and the eviction policy is 'none'.",
  SESSMAP_ERR_SERIALIZE: 'A value cannot be serialized by the chosen serializer.',
  SESSMAP_ERR_LOCK_TIMEOUT: 'A page lock could not be had within lockTimeout; its holder is alive.',
  SESSMAP_ERR_FILE_EXISTS: "The cache file already exists and ifExists is 'error'.",
  SESSMAP_ERR_FILE_NOT_FOUND: 'The cache file does not exist.',
  SESSMAP_ERR_FILE_SYMLINK: 'The cache path is a symbolic link; sessmap never follows one.',
  SESSMAP_ERR_FILE_NOT_REGULAR: 'The cache path is not a regular file.',
  SESSMAP_ERR_FILE_OWNER: 'The cache file belongs to another user.',
  SESSMAP_ERR_FILE_PERMISSIONS: 'The cache file (or its directory) is writable by group or others.',
  SESSMAP_ERR_FILE_FOREIGN: 'The file is not a sessmap cache file (wrong magic).',
  SESSMAP_ERR_FILE_TRUNCATED: 'The file is shorter than its header says.',
  SESSMAP_ERR_FILE_VERSION: 'The file was written in a format version this build does not read.',
  SESSMAP_ERR_FILE_CORRUPT: 'The file header fails its checksum or describes an impossible geometry.',
  SESSMAP_ERR_FILE_NOT_READY: 'The file is still being initialised by its creator.',
  SESSMAP_ERR_GEOMETRY_MISMATCH: 'Options given to open or attach differ from the geometry in the file header.',
  SESSMAP_ERR_STALE_HANDLE: 'The file was reinitialised by another process; reopen it.',
  SESSMAP_ERR_CLOSED: 'The cache handle was closed.',
  SESSMAP_ERR_UPDATE_ASYNC: 'An update callback returned a promise; update callbacks run under a lock and must be synchronous.',
  SESSMAP_ERR_REENTRANT_CALL: 'The cache was called from inside an update callback, which holds a page lock.',
  SESSMAP_ERR_IO: 'A system call on the cache file failed.',
  SESSMAP_ERR_INVALID_SESSION_ID: 'A session id is not a string of 1 to 512 UTF-8 bytes without control characters.',
  SESSMAP_ERR_VERSION_CONFLICT: 'A write with ifVersion found another version of the session (or none).',
  SESSMAP_ERR_SESSION_GONE: 'A write with ifExists found no session: it was destroyed, expired or evicted since it was read.',
  SESSMAP_ERR_NOT_PRIMARY: 'setupPrimary was called in a process that is not the cluster primary.',
  SESSMAP_ERR_NO_PRIMARY: 'attachWorker found no session service set up by a primary and was given no path.',
  SESSMAP_ERR_NATIVE_BINDING: 'The native mmap binding (@riaskov/mmap-io) cannot be loaded: its build did not run or failed.',
  SESSMAP_ERR_NO_SPACE: 'The filesystem holding the cache file has no room to allocate all of its blocks.',
  SESSMAP_ERR_FILE_REPLACED: 'The path of a cache file in use no longer leads to that file: it was deleted or replaced.',
  SESSMAP_ERR_OPTION_CONFLICT: 'An option given in a cluster worker contradicts the one the cluster primary set up.',
  SESSMAP_ERR_BACKEND_UNAVAILABLE: 'The session backend (Redis) did not answer within commandTimeout, or cannot be reached.',
  SESSMAP_ERR_REDIS_CLIENT: 'The redis option was given but node-redis (the redis package, v6) is not installed.',
  SESSMAP_ERR_TARGET_TOO_SMALL: 'The buffer given to getInto has too few bytes from its offset for the value.',
  SESSMAP_ERR_NOT_RAW: "getInto found a value stored with a serializer other than 'raw'.",
  SESSMAP_ERR_METRICS_CLIENT: 'Metrics were asked for but prom-client is not installed.',
  SESSMAP_ERR_METRICS_LISTEN: 'The metrics endpoint could not listen on its host and port.',
  SESSMAP_ERR_USAGE: 'The sessmap command line names no command it has, or lacks an argument the command needs.',
  SESSMAP_ERR_CONFIRMATION_REQUIRED: 'A command that removes every entry was run without --yes.',
  SESSMAP_ERR_RESIZE_NO_ROOM: 'A resize to fewer pages was refused: the live entries would not fit the smaller layout. Nothing was changed.',
  SESSMAP_ERR_RESIZE_IN_PROGRESS: 'Another live process (or this thread) is resizing the file.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** Base class of every error sessmap throws. */
export class SessmapError extends Error {
  readonly code: ErrorCode;
  /** Structured details (option name, sizes, page...) for logs and programs. */
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SessmapError';
    this.code = code;
    this.details = details;
  }

  /** The shape an error takes across IPC; rebuilt with {@link errorFromJSON}. */
  toJSON(): { code: ErrorCode; message: string; name: string; details?: Record<string, unknown> } {
    return { code: this.code, message: this.message, name: this.name, ...(this.details ? { details: { ...this.details } } : {}) };
  }
}

/** Creates a coded error. The message should name what is wrong and what was expected. */
export function sessmapError(
  code: ErrorCode,
  message: string,
  details?: Record<string, unknown>,
  cause?: unknown,
): SessmapError {
  return new SessmapError(code, message, details, cause === undefined ? undefined : { cause });
}

/** True when `err` is a SessmapError, optionally with the given code. */
export function isSessmapError(err: unknown, code?: ErrorCode): err is SessmapError {
  return err instanceof SessmapError && (code === undefined || err.code === code);
}

/**
 * Rebuilds an error that crossed a process boundary as `{ code, message, name, details }`.
 * Unknown codes become a plain Error that keeps the message, name and code.
 */
export function errorFromJSON(json: { code?: unknown; message?: unknown; name?: unknown; details?: unknown }): Error {
  const message = typeof json.message === 'string' ? json.message : 'unknown error';
  if (typeof json.code === 'string' && Object.hasOwn(ERROR_CODES, json.code)) {
    const details = json.details !== null && typeof json.details === 'object' ? (json.details as Record<string, unknown>) : undefined;
    return new SessmapError(json.code as ErrorCode, message, details);
  }
  const err = new Error(message);
  if (typeof json.name === 'string') err.name = json.name;
  if (typeof json.code === 'string') (err as Error & { code: string }).code = json.code;
  return err;
}
