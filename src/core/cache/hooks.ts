/**
 * The hook queues of a handle: removals, lock recoveries and repairs are collected while a page
 * lock is held and handed to onRemove, onLockRecovered and onRepair once no lock is (a hook may
 * call the cache). A hook that throws becomes a process warning.
 */
import { held } from '../lock.js';
import type { HandleOptions } from '../options.js';
import type { PendingRemoval } from '../page/pages.js';
import type { RepairResult } from '../page/repair.js';
import { decode } from '../serializer.js';
import type { StructuredCodec } from '../structures.js';
import type { LockRecoveryEvent, RemovalEvent, RepairEvent } from '../types.js';

export class Hooks {
  /** Removals collected under a lock, for onRemove (null when nobody listens): the page engine's sink. */
  readonly removals: PendingRemoval[] | null;
  readonly #onRemove: ((event: RemovalEvent) => void) | undefined;
  readonly #onLockRecovered: ((event: LockRecoveryEvent) => void) | undefined;
  readonly #onRepair: ((event: RepairEvent) => void) | undefined;
  #recoveries: LockRecoveryEvent[];
  #repairs: RepairEvent[];
  /** Something other than removals is queued (or a repair may have queued removals). */
  #pending: boolean;
  readonly #codec: StructuredCodec;

  constructor(o: HandleOptions, codec: StructuredCodec) {
    this.#codec = codec;
    this.removals = o.onRemove ? [] : null;
    this.#onRemove = o.onRemove;
    this.#onLockRecovered = o.onLockRecovered;
    this.#onRepair = o.onRepair;
    this.#recoveries = [];
    this.#repairs = [];
    this.#pending = false;
  }

  /** A lock held by dead `owner` was taken over (lock held). */
  lockRecovered(page: number, owner: number, pid: number): void {
    if (this.#onLockRecovered === undefined) return;
    this.#recoveries.push({ page, owner, pid });
    this.#pending = true;
  }

  /** Page `page` was checked (lock held): queues a repair event when it had to be rebuilt. */
  checked(page: number, r: RepairResult): void {
    if (r.problems.length === 0) return;
    if (this.#onRepair !== undefined) this.#repairs.push({ page, problems: r.problems, dropped: r.dropped });
    this.#pending = true;
  }

  /** Hands what is queued to the hooks, unless a lock is held. */
  maybeFlush(): void {
    if (this.#pending || (this.removals !== null && this.removals.length !== 0)) this.#flush();
  }

  #flush(): void {
    if (held.count !== 0) return;
    this.#pending = false;
    if (this.#recoveries.length > 0) {
      const list = this.#recoveries;
      this.#recoveries = [];
      for (const e of list) callHook(this.#onLockRecovered, e);
    }
    if (this.#repairs.length > 0) {
      const list = this.#repairs;
      this.#repairs = [];
      for (const e of list) callHook(this.#onRepair, e);
    }
    const removals = this.removals;
    if (removals !== null && removals.length > 0) {
      const list = removals.splice(0, removals.length);
      for (const r of list) {
        const e: { -readonly [K in keyof RemovalEvent]: RemovalEvent[K] } = { key: r.key, reason: r.reason, page: r.page, ttlLeft: r.ttlLeft, expiresAt: r.expiresAt };
        if (r.raw !== undefined) {
          try {
            e.value = decode(r.type, r.raw, this.#codec);
          } catch {
            // a value that does not decode is left out
          }
        }
        callHook(this.#onRemove, e);
      }
    }
  }
}

function callHook<E>(hook: ((e: E) => void) | undefined, e: E): void {
  if (hook === undefined) return;
  try {
    hook(e);
  } catch (err) {
    process.emitWarning(err instanceof Error ? err : new Error(String(err)), { code: 'SESSMAP_HOOK_ERROR' });
  }
}
