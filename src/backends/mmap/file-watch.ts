/**
 * Watching the ground under a running service: whether the cache file's path still leads to the
 * file this process maps. A tmp cleaner (systemd-tmpfiles ages /tmp), an operator or a deploy
 * script may delete the file, or put another one at its path, while the service runs: the
 * processes already attached go on sharing the old file, but every process started afterwards
 * fails (SESSMAP_ERR_FILE_NOT_FOUND) or, worse, uses the other file and sees none of the others'
 * sessions. Nothing breaks at the moment it happens, so this is the one place that can tell the
 * operator in time: one lstat per interval, and on each change an `error` event carrying
 * SESSMAP_ERR_FILE_REPLACED plus one log line at error level (whether anyone listens or not).
 */
import { sessmapError, type SessmapError } from '../../errors.js';
import type { Logger } from '../../events/logger.js';
import type { PathStatus, SharedCache } from '../../core/index.js';
import type { BackendContext } from '../../sessions/backend.js';

/** How often the path is checked when the sweep is disabled (`sweepInterval: 0`). */
export const DEFAULT_WATCH_INTERVAL = 1000;

/** The coded error for a path that no longer leads to the file in use. */
export function fileReplacedError(path: string, status: Exclude<PathStatus, 'same'>, role: string): SessmapError {
  const what =
    status === 'deleted'
      ? `was deleted while this ${role} uses it: processes already attached go on sharing the deleted file, but every process started from now on fails with SESSMAP_ERR_FILE_NOT_FOUND`
      : `was replaced by another file while this ${role} uses it: processes already attached go on sharing the old file, but every process started from now on opens the new one and sees none of their sessions`;
  return sessmapError(
    'SESSMAP_ERR_FILE_REPLACED',
    `cache file ${path} ${what}. Restart the service so that all processes use one file, and keep the file where no ` +
      `tmp cleaner removes it (a systemd RuntimeDirectory=, a Docker volume or /dev/shm; see docs/operations.md)`,
    { path, status },
  );
}

/**
 * Checks every `interval` ms that `cache.path` still leads to the file `cache` maps; reports each
 * change to 'deleted' or 'replaced' once (`report`: an error-level line on the log, and an `error`
 * event to whoever listens), and a return to the file at info. Returns the function that stops it.
 */
export function watchFilePath(cache: SharedCache<unknown>, interval: number, report: BackendContext['report'], log: Logger, role: string): () => void {
  let last: PathStatus | 'unreadable' = 'same';
  const check = (): void => {
    if (cache.closed) return;
    let now: PathStatus | 'unreadable';
    let err: Error | undefined;
    try {
      now = cache.pathStatus();
    } catch (e) {
      now = 'unreadable';
      err = e as Error;
    }
    if (now === last) return;
    last = now;
    if (now === 'same') {
      log.info({ path: cache.path }, 'the cache file path leads to the file in use again');
      return;
    }
    if (now !== 'unreadable') err = fileReplacedError(cache.path, now, role);
    if (err === undefined) return;
    report(err, { path: cache.path, status: now });
  };
  const timer = setInterval(check, interval > 0 ? interval : DEFAULT_WATCH_INTERVAL);
  timer.unref();
  return () => clearInterval(timer);
}
