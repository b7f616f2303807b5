/**
 * What every operation of a handle checks first, and what an operation leaves for its caller:
 * the guard (handle open, not called from inside a page lock, file not reinitialised since it
 * attached) and the expiry of the entry the last read returned or the last write stored.
 */
import { sessmapError } from '../../errors.js';
import type { Segment } from '../file.js';
import { H_EPOCH_IDX } from '../layout.js';
import { held } from '../lock.js';

export class HandleState {
  readonly path: string;
  /** The file header's mapping, whose epoch word a reinit bumps. */
  readonly #header: Segment;
  readonly #epoch: number;
  closed: boolean;
  /** Expiry of the entry the last successful get returned, or the last write set (for getEntry, updateEntry). */
  lastExpiry: number;

  constructor(path: string, header: Segment, epoch: number) {
    this.path = path;
    this.#header = header;
    this.#epoch = epoch;
    this.closed = false;
    this.lastExpiry = 0;
  }

  /** Throws unless the handle may be used now. */
  enter(): void {
    if (this.closed) throw sessmapError('SESSMAP_ERR_CLOSED', `cache handle for ${this.path} is closed`, { path: this.path });
    if (held.count !== 0) throw sessmapError('SESSMAP_ERR_REENTRANT_CALL', 'the cache was called while this thread holds a page lock (from inside an update callback or a serializer hook); do that work outside the callback');
    if (this.#header.i32[H_EPOCH_IDX] !== this.#epoch) throw sessmapError('SESSMAP_ERR_STALE_HANDLE', `cache file ${this.path} was reinitialised by another process; open it again`, { path: this.path });
  }
}
