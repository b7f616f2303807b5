/**
 * The core tests' harness: a forked `core/cache-child.ts` holding its own SharedCache handle,
 * driven over IPC (support/rpc.ts), with real fault points and a real SIGKILL (support/child.ts).
 */
import { Child, handled, type SpawnOptions } from '../support/child.js';
import type { CallResult } from '../support/rpc.js';

export { Child, type ChildExit, type SpawnOptions } from '../support/child.js';
export { killAllChildren, useChildCleanup } from '../support/suite.js';
export type { CallResult, WireError } from '../support/rpc.js';

/** A named update function (functions cannot cross IPC). */
export type UpdateSpec = { kind: 'increment' } | { kind: 'set'; value: unknown } | { kind: 'delete' };

export interface CallSpec {
  method: string;
  args: unknown[];
}

/** A forked `core/cache-child.ts`: a process holding its own SharedCache handle. */
export class CacheChild extends Child {
  constructor(opts: SpawnOptions = {}) {
    super('core/cache-child.ts', opts);
  }

  async #value<T>(body: Record<string, unknown>): Promise<T> {
    const r = await this.request<T>(body);
    if (!r.ok) throw new Error(`${this.name}: ${String(body.cmd)} failed: ${JSON.stringify(r.error)}`);
    return r.value;
  }

  /** Opens the file with SharedCache.open (or create with ifExists 'attach' when `create`). */
  async open(path: string, opts: Record<string, unknown> = {}, create = false): Promise<CallResult> {
    return this.request({ cmd: 'open', path, opts, create });
  }

  /** Opens and throws when that fails. */
  async openOk(path: string, opts: Record<string, unknown> = {}): Promise<void> {
    const r = await this.open(path, opts);
    if (!r.ok) throw new Error(`${this.name}: open failed: ${JSON.stringify(r.error)}`);
  }

  /** Calls a method of the child's handle. `update` takes an UpdateSpec in place of the function. */
  async call(method: string, ...args: unknown[]): Promise<CallResult> {
    return this.request({ cmd: 'call', method, args });
  }

  /** Calls and returns the value, throwing when the call failed in the child. */
  async callOk(method: string, ...args: unknown[]): Promise<any> {
    const r = await this.call(method, ...args);
    if (!r.ok) throw new Error(`${this.name}: ${method} failed: ${JSON.stringify(r.error)}`);
    return r.value;
  }

  /** Sends a call without waiting for its reply (for calls expected to hang or die). */
  fire(method: string, ...args: unknown[]): Promise<CallResult> {
    return handled(this.request({ cmd: 'call', method, args }, 10 * 60_000));
  }

  /** Runs several calls back to back in one message (no IPC round trips between them). */
  fireBatch(calls: CallSpec[]): Promise<CallResult[]> {
    return handled(this.request<CallResult[]>({ cmd: 'batch', calls }, 10 * 60_000).then((r) => (r.ok ? r.value : Promise.reject(new Error(JSON.stringify(r.error))))));
  }

  async ownerId(): Promise<number> {
    return this.#value<number>({ cmd: 'ownerId' });
  }

  async close(): Promise<void> {
    await this.request({ cmd: 'exit' }).catch(() => undefined);
    await this.waitExit();
  }
}

/** Spawns a cache child and opens `path` in it. */
export async function openChild(path: string, openOpts: Record<string, unknown> = {}, spawn: SpawnOptions = {}): Promise<CacheChild> {
  const c = new CacheChild(spawn);
  await c.openOk(path, openOpts);
  return c;
}

/**
 * A child process that holds page `key`'s lock and stays inside it (the `lock:held` fault point,
 * hanging): a live holder, until the test kills it.
 */
export async function lockHolder(path: string, key: string, openOpts: Record<string, unknown> = {}): Promise<CacheChild> {
  const holder = await openChild(path, openOpts, { fault: 'lock:held', faultAction: 'hang' });
  void holder.fire('set', key, 'held');
  await holder.waitForFault('lock:held');
  return holder;
}
