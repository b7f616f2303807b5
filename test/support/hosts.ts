/**
 * Hosts of a multi-host deployment on Redis, for the tests: each a process of its own
 * (test/fixtures/backends/redis-host.ts) with openSessionStore({ redis, ... }), driven over IPC.
 */
import type { SessionServiceOptions } from '../../src/cluster/options.js';
import type { RecordedEvent } from '../fixtures/cluster/wire.js';
import { Child } from './child.js';
import { decode, describeError, encode, isTagged, type WireError } from './rpc.js';

/** Starts a host with these options; resolves once its store is open. */
export async function startHost(options: SessionServiceOptions): Promise<Child> {
  const c = new Child('backends/redis-host.ts', { env: { SESSMAP_TEST_HOST: encode(options) } });
  const ready = await c.nextMessage<{ ok: boolean; error?: string }>((m) => isTagged(m, 'ready'));
  if (!ready.ok) throw new Error(`host did not open: ${describeError(decode<WireError>(ready.error!))}`);
  return c;
}

/** store[method](...args) on the host; throws what it threw, as a message. */
export async function call<T = unknown>(c: Child, method: string, ...args: unknown[]): Promise<T> {
  const r = await c.request<T>({ op: 'call', method, args });
  if (!r.ok) throw new Error(`${method}: ${describeError(r.error)}`);
  return r.value;
}

/** Every event the host's store emitted so far (of `name`, when given). */
export async function hostEvents(c: Child, name?: string): Promise<RecordedEvent[]> {
  const r = await c.request<RecordedEvent[]>({ op: 'events' });
  if (!r.ok) throw new Error(describeError(r.error));
  return name === undefined ? r.value : r.value.filter((e) => e.name === name);
}
