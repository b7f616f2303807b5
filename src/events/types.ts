/**
 * The typed events map of the session service. Every payload identifies a session by `sid`,
 * a keyed hash of its id (stable for the life of the cache file, so events can be correlated),
 * never by the id itself unless the app opted in with `exposeIds` (then `id` is set too).
 */

/** Fields every event carries. */
export interface EventBase {
  /** ms since the epoch, when the event happened (in the process where it happened). */
  readonly at: number;
  /** pid of the process where it happened. */
  readonly pid: number;
}

export interface SessionRef extends EventBase {
  /** Keyed hash of the session id (16 hex characters). */
  readonly sid: string;
  /** The raw session id: only when the service was set up with `exposeIds: true`. */
  readonly id?: string;
  /** Keyed hash of the user id, when the session belongs to a user. */
  readonly uid?: string;
}

export interface SessionEvents {
  created: [SessionRef];
  updated: [SessionRef & { readonly version: number }];
  destroyed: [SessionRef & { readonly reason: 'destroyed' | 'regenerated' | 'logout-everywhere' }];
  /** The new session of a regeneration; `from` is the hashed old id. */
  regenerated: [SessionRef & { readonly from: string }];
  /** Passed its idle or absolute deadline and was removed (once, cluster-wide, within a sweep interval). */
  expired: [SessionRef & { readonly deadline: 'idle' | 'absolute' }];
  /** Removed to make room. `ttlLeft` > 0: a live session was lost to capacity. */
  evicted: [SessionRef & { readonly ttlLeft: number; readonly live: boolean }];
  /** A damaged or half-written page was rebuilt; `dropped` entries were lost. */
  repaired: [EventBase & { readonly page: number; readonly dropped: number; readonly problems: readonly string[] }];
  /** A lock held by a dead process (or terminated worker thread) was taken over; `deadPid` is its pid (a thread: its OS thread id). */
  lockRecovered: [EventBase & { readonly page: number; readonly deadPid: number }];
  workerAttached: [EventBase & { readonly workerId: number; readonly workerPid: number }];
  workerDetached: [EventBase & { readonly workerId: number; readonly workerPid: number; readonly code: number | null; readonly signal: string | null; readonly locksRecovered: number }];
  /** Aggregated: live sessions were evicted during the last interval. */
  capacity: [EventBase & { readonly evictedLive: number; readonly intervalMs: number }];
  /** Events were dropped because a worker's IPC channel backed up. */
  dropped: [EventBase & { readonly count: number; readonly workerPid: number }];
  /**
   * The backend (Redis) stopped answering in this process: calls fail with
   * SESSMAP_ERR_BACKEND_UNAVAILABLE until it answers again. Once per outage, in each process.
   */
  backendUnavailable: [EventBase & { readonly backend: string; readonly reason: string }];
  /** The backend answers again after an outage of `downMs`. */
  backendAvailable: [EventBase & { readonly backend: string; readonly downMs: number }];
  /** An error that has no better place (never thrown at the app). */
  error: [Error];
}

export type SessionEventName = keyof SessionEvents;
