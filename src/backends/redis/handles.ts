/**
 * Handles: what listings (`allSessions`, `sessionsOf`) give for a session on Redis with hashed
 * keys, where the session id itself is not stored anywhere. A handle is `~` followed by the 32
 * hex digits of the session's token; `destroySession`, `getSession` and the other calls take it
 * wherever they take an id. It opens nothing by itself: a client that sends it as a cookie gets
 * the session only if the framework's cookie signature, which it cannot forge, says so.
 */

const HANDLE = /^~[0-9a-f]{32}$/;

/** Whether `s` is a handle (not a session id). */
export function isHandle(s: string): boolean {
  return s.length === 33 && HANDLE.test(s);
}

/** The handle of a session token. */
export function handleOf(token: string): string {
  return `~${token}`;
}
