/**
 * Following a resize: a handle whose file published a new layout record (the header's layout
 * generation moved) makes its page engine again over the new layout, at the start of its next
 * operation (Handle.enter), with no operation of its own under way. The file's new page slots
 * are mapped when the layout ends past what the handle maps (the path opened again, and refused
 * unless it still leads to the same file); the pages it had validated stay validated; its
 * lock-free read counts go to the file first; its victim pools are made again as pages are used.
 * See docs/file-format.md, "Online resize".
 */
import fs from 'node:fs';
import { sessmapError } from '../../errors.js';
import { mapLayout } from '../attach.js';
import { openSecure } from '../file.js';
import { H_PAGE_COUNT_OFF } from '../layout.js';
import { Pages } from '../page/pages.js';
import { readLayout, viewOf } from '../resize/record.js';
import type { Handle } from './handle.js';
import { Keys } from './keys.js';
import { flushReadCounts } from './stats.js';

/** Makes `h` follow the file's current layout (no lock held, no operation under way). */
export function relayout(h: Handle): void {
  const att = h.att;
  const info = att.info;
  const layout = readLayout(att.header, headerPageCount(h), h.path);
  if (layout.gen === h.layoutGen) return;
  flushReadCounts(h);
  let segments = h.pages.segs;
  let plans = att.plans;
  const mapped = plans.reduce((n, p) => Math.max(n, p.firstPage + p.pageCount), 0);
  if (layout.slots > mapped) {
    const fd = openSecure(h.path);
    try {
      const st = fs.fstatSync(fd);
      if (st.dev !== att.identity.dev || st.ino !== att.identity.ino) {
        throw sessmapError('SESSMAP_ERR_STALE_HANDLE', `cache file ${h.path} was resized, and its path now leads to another file; open it again`, { path: h.path });
      }
      const fresh = mapLayout(fd, h.path, { ...info, pageCount: headerPageCount(h) }, att.header);
      segments = fresh.segments;
      plans = fresh.plans;
    } finally {
      fs.closeSync(fd);
    }
  }
  const old = h.pages;
  const pages = new Pages(segments, plans, info, viewOf(layout), layout.count, info.policy, info.seed, old.sink, old.captureValues);
  // Validation is per page slot: what this handle checked stays checked.
  const checked = new Map<number, number>();
  for (let p = 0; p < old.pageCount; p++) checked.set(old.slotOf[p], h.validated[p]);
  const validated = new Uint8Array(pages.pageCount);
  for (let p = 0; p < pages.pageCount; p++) validated[p] = checked.get(pages.slotOf[p]) ?? 0;
  h.pages = pages;
  h.keys = new Keys(pages, info.maxKeyBytes);
  h.validated = validated;
  h.readHits = new Uint32Array(pages.pageCount);
  h.readMisses = new Uint32Array(pages.pageCount);
  h.att = { ...att, segments, plans, layout };
  h.layout = layout;
  h.layoutGen = layout.gen;
}

/** The page count the file's header was created with (what a file without a layout record has). */
function headerPageCount(h: Handle): number {
  return h.att.header.buf.readUInt32LE(H_PAGE_COUNT_OFF);
}
