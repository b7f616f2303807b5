/**
 * The mmap backend's sweeper: expires sessions incrementally, so 'expired' fires within one
 * interval of the deadline even for sessions nobody reads again. Every page is visited once per
 * `interval` ms, a slice of pages per tick, so a large file never stalls the event loop.
 */
import type { SharedCache } from '../../core/index.js';

/** Starts the sweep of `cache` (nothing when `interval` is 0); returns the function that stops it. */
export function startSweeper(cache: SharedCache<unknown>, interval: number, onError: (err: unknown) => void): () => void {
  if (interval <= 0) return () => {};
  // A tick every 20 ms at most; the slice per tick follows the page count, which a resize changes.
  const slices = Math.max(1, Math.min(cache.geometry.pageCount, Math.floor(interval / 20)));
  let cursor = 0;
  const timer = setInterval(() => {
    try {
      if (cache.closed) return;
      const pages = cache.geometry.pageCount;
      const perTick = Math.ceil(pages / slices);
      cursor %= pages;
      cache.purgeExpiredPages(cursor, perTick);
      cursor = (cursor + perTick) % pages;
    } catch (err) {
      onError(err);
    }
  }, interval / slices);
  timer.unref();
  return () => clearInterval(timer);
}
