/**
 * A backend that is still opening, usable at once: every call waits for the opening, then runs
 * on the backend it opened (or fails with the opening's error). setupPrimary returns its handle
 * synchronously (the app forks its workers right after it), while a network backend opens
 * asynchronously; the primary's store and events exist from the first moment, and its `ready`
 * promise says when the backend is open.
 */
import { sessmapError } from '../errors.js';
import type { SessionEvents } from '../events/types.js';
import type { BackendChange, SessionBackend, StoredSession, WriteResult, WriteSpec } from '../sessions/backend.js';
import { KEEP } from '../sessions/backend.js';

export interface DeferredBackend<B extends SessionBackend> extends SessionBackend {
  /** The backend, once open. */
  readonly opened: Promise<B>;
}

export function deferBackend<B extends SessionBackend>(opening: Promise<B>): DeferredBackend<B> {
  let open: B | undefined;
  let listener: ((c: BackendChange) => void) | undefined;
  let unsubscribe: (() => void) | undefined;
  const opened = opening.then((b) => {
    open = b;
    if (listener !== undefined) unsubscribe = b.subscribe(listener);
    return b;
  });
  opened.catch(() => {});
  const now = (): B => {
    if (open === undefined) throw sessmapError('SESSMAP_ERR_BACKEND_UNAVAILABLE', 'the session backend is still opening');
    return open;
  };
  return {
    opened,
    read: async (id: string) => (await opened).read(id),
    modify: async (id: string, t: number, fn: (c: StoredSession | undefined) => StoredSession | undefined | typeof KEEP) => (await opened).modify(id, t, fn),
    write: async (id: string, t: number, spec: WriteSpec): Promise<WriteResult> => (await opened).write(id, t, spec),
    remove: async (id: string, t: number) => (await opened).remove(id, t),
    extend: async (id: string, at: number, slack?: number, t?: number) => (await opened).extend(id, at, slack, t),
    indexAdd: async (u: string, id: string, a?: number) => (await opened).indexAdd(u, id, a),
    indexRemove: async (u: string, id: string) => (await opened).indexRemove(u, id),
    indexList: async (u: string) => (await opened).indexList(u),
    count: async () => (await opened).count(),
    list: async () => (await opened).list(),
    clear: async () => (await opened).clear(),
    digest: (text: string) => now().digest(text),
    sid: (id: string) => now().sid(id),
    handle: (id: string) => {
      const b = now();
      return b.handle === undefined ? id : b.handle(id);
    },
    isHandle: (id: string) => open?.isHandle?.(id) === true,
    counts: () => open?.counts?.(),
    metrics: () => open?.metrics?.(),
    get remote(): boolean {
      return open?.remote === true;
    },
    share<K extends keyof SessionEvents>(name: K, args: SessionEvents[K]): void {
      open?.share?.(name, args);
    },
    subscribe(l: (c: BackendChange) => void): () => void {
      listener = l;
      if (open !== undefined) unsubscribe = open.subscribe(l);
      return () => {
        listener = undefined;
        unsubscribe?.();
      };
    },
    processExited: (pid: number) => (open?.processExited === undefined ? 0 : open.processExited(pid)),
    async close(): Promise<void> {
      let b: B;
      try {
        b = await opened;
      } catch {
        return;
      }
      await b.close();
    },
  };
}
