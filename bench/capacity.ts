/**
 * Scenario `capacity`: how many of the workload's sessions a file of a fixed size holds. sessmap
 * (per serializer) and Cache::FastMmap fill a 64 MiB file until their first eviction, then go on
 * until every page has evicted (what a full file holds); lmdb and Redis, which grow instead of evicting,
 * take a fixed count. Same sessions, same `s:` keys, a 30-minute TTL where the store has one
 * (bench/capacity-stores.ts has the data and the other stores). sessmap's rows also say where the
 * bytes of a session go.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serialize as v8Serialize } from 'node:v8';
import { Packr } from 'msgpackr';
import type { SerializerName, SharedCache as SharedCacheClass } from '../src/index.js';
import { capacityData, KEY_BYTES, TTL_MS, type CapacityOut, type CapacityResult, type CapacitySizes } from './capacity-stores.js';
import type { Counts, Row, RunContext, Scenario, ScenarioResult } from './lib/config.js';
import { runTask } from './lib/fork.js';
import { fmtOps, table } from './lib/format.js';
import { loadSessmap } from './lib/stores.js';
import { CAPACITY_TARGET_STORE } from './lib/targets.js';

const MODULE = fileURLToPath(import.meta.url);
const STORES = fileURLToPath(new URL('./capacity-stores.ts', import.meta.url));
const MIB = 1024 * 1024;

const FULL_SIZES: CapacitySizes = { fileBytes: 64 * MIB, pageSize: 256 * 1024, loaded: 100_000 };
const QUICK_SIZES: CapacitySizes = { fileBytes: 16 * MIB, pageSize: 256 * 1024, loaded: 10_000 };

/** The sessmap rows: the serializer given to create, and whether values go in as msgpackr bytes. */
type SessmapRow = { label: string; serializer: SerializerName; msgpackr: boolean };
const SESSMAP_ROWS: readonly SessmapRow[] = [
  { label: "sessmap 'json'", serializer: 'json', msgpackr: false },
  { label: "sessmap 'v8'", serializer: 'v8', msgpackr: false },
  { label: "sessmap 'raw' + msgpackr Packr({ structures: [] })", serializer: 'raw', msgpackr: true },
  // The target's row: the serializer the session backend creates its file with (src/backends/mmap/backend.ts).
  { label: CAPACITY_TARGET_STORE, serializer: 'structured', msgpackr: false },
];

/** Child task: one sessmap row. */
export async function sessmapFillTask(a: { path: string; row: SessmapRow; sizes: CapacitySizes; counts: Counts }): Promise<CapacityOut> {
  const SharedCache = (await loadSessmap()) as unknown as typeof SharedCacheClass;
  const { ITEM_ALIGN, ITEM_HEADER_SIZE, SLOT_SIZE, MAX_SLOT_LOAD } = await import('../src/core/layout.js');
  const { dataStart: dataStartOf } = await import('../src/core/options.js');
  const { keys, values } = capacityData(a.sizes, a.counts);
  const packr = a.row.msgpackr ? new Packr({ structures: [] }) : undefined;
  // Values encoded before the fill (the Packr keeps its structures in this process, not in the file).
  const stored: unknown[] = packr ? values.map((v) => Buffer.from(packr.pack(v))) : values;
  let firstPage = -1;
  const cache = SharedCache.create<unknown>(a.path, {
    size: a.sizes.fileBytes,
    pageSize: a.sizes.pageSize,
    ifExists: 'reinit',
    serializer: a.row.serializer,
    onRemove: (e) => {
      if (firstPage < 0 && e.reason === 'evicted') firstPage = e.page;
    },
  });
  const m = stored.length;
  let first = -1;
  for (let i = 0; i < keys.length; i++) {
    cache.set(keys[i], stored[i % m], { ttl: TTL_MS });
    if (firstPage >= 0) {
      first = i;
      break;
    }
  }
  if (first < 0) throw new Error(`no eviction after ${String(keys.length)} sets`);
  const at = cache.stats();
  // The value bytes of what is stored, exactly: every live key's serialized size.
  let valueSum = 0;
  for (let i = 0; i <= first; i++) valueSum += cache.inspect(keys[i])?.size ?? 0;
  // On until every page has evicted (each is then full), in chunks between looks at the counters.
  let full = at;
  for (let i = first + 1; !full.pages.every((p) => p.removals.evicted > 0); ) {
    if (i >= keys.length) throw new Error(`pages without an eviction after ${String(keys.length)} sets`);
    for (const end = Math.min(keys.length, i + 2_000); i < end; i++) cache.set(keys[i], stored[i % m], { ttl: TTL_MS });
    full = cache.stats();
  }
  const g = cache.geometry;
  cache.close();

  const n = at.entries;
  const slotTable = g.pageCount * g.slotsPerPage * SLOT_SIZE;
  const dataStart = dataStartOf(g.slotsPerPage);
  const keyBytes = Buffer.byteLength(keys[0]);
  const value = valueSum / n;
  const maxItems = Math.floor(g.slotsPerPage * MAX_SLOT_LOAD);
  const evicting = at.pages[firstPage].entries;
  const perPage = at.pages.map((p) => p.entries);
  const parts: [string, number][] = [
    ['value', value],
    ['key', keyBytes],
    ['item header', ITEM_HEADER_SIZE],
    [`alignment to ${String(ITEM_ALIGN)}`, at.bytesUsed / n - ITEM_HEADER_SIZE - keyBytes - value],
    [`slot table (${String(g.slotsPerPage)} x ${String(SLOT_SIZE)} B a page)`, slotTable / n],
    // What lies before the pages: the file header (and, from format 3, the structure table).
    ['page headers, file header and structure table', (g.pageCount * (dataStart - g.slotsPerPage * SLOT_SIZE) + g.fileSize - g.pageCount * g.pageSize) / n],
    ['free in pages at the first eviction (page slack)', (g.pageCount * (g.pageSize - dataStart) - at.bytesUsed) / n],
  ];
  const cause = evicting >= maxItems ? `its slots (${String(maxItems)} of ${String(g.slotsPerPage)}, the ${String(MAX_SLOT_LOAD * 100)}% load limit)` : `its bytes (${String(evicting)} entries)`;
  return {
    store: a.row.label,
    sessions: first,
    bytes: g.fileSize,
    how: `file (${String(g.pageCount)} pages of ${String(g.pageSize / 1024)} KiB), sessions stored before the first eviction`,
    valueBytes: value,
    held: full.entries,
    note: `first evicting page full by ${cause}; entries a page then ${String(Math.min(...perPage))}-${String(Math.max(...perPage))}`,
    parts,
  };
}

function isSkipped(r: CapacityResult): r is { skipped: string } {
  return 'skipped' in r;
}

const fmt1 = (n: number): string => (Number.isFinite(n) ? n.toFixed(1) : 'n/a');

function renderRows(outs: readonly CapacityOut[]): string {
  return table(
    ['store', 'sessions', 'bytes', 'sessions / MiB', 'bytes / session', 'value bytes', 'overhead / session', 'full: sessions / MiB', 'measured'],
    outs.map((o) => {
      const per = o.bytes / o.sessions;
      return [
        o.store,
        fmtOps(o.sessions),
        fmtOps(o.bytes),
        `**${fmtOps(o.sessions / (o.bytes / MIB))}**`,
        fmtOps(per),
        fmt1(o.valueBytes),
        fmtOps(per - o.valueBytes - KEY_BYTES),
        o.held === undefined ? '-' : fmtOps(o.held / (o.bytes / MIB)),
        o.how + (o.note ? `; ${o.note}` : ''),
      ];
    }),
    'lrrrrrrrl',
  );
}

function renderParts(outs: readonly CapacityOut[]): string {
  const withParts = outs.filter((o) => o.parts);
  if (withParts.length === 0) return '';
  const names = withParts[0].parts!.map(([k]) => k);
  return table(
    ['bytes per session', ...withParts.map((o) => o.store)],
    [
      ...names.map((k, i) => [k, ...withParts.map((o) => fmt1(o.parts![i][1]))]),
      ['**total (file / entries)**', ...withParts.map((o) => `**${fmt1(o.parts!.reduce((s, [, v]) => s + v, 0))}**`)],
    ],
  );
}

export const scenario: Scenario = {
  name: 'capacity',
  title: 'Capacity: sessions in a file of fixed size',
  async run(ctx: RunContext): Promise<ScenarioResult> {
    const sizes = ctx.quick ? QUICK_SIZES : FULL_SIZES;
    const outs: CapacityOut[] = [];
    const notes: string[] = [];
    const attempt = async (label: string, module: string, task: string, args: unknown): Promise<void> => {
      ctx.log(`capacity: ${label}`);
      try {
        const r = await runTask<CapacityResult>({ module, task, args }, ctx.taskTimeoutMs);
        if (isSkipped(r)) notes.push(`- **${label} skipped**: ${r.skipped}`);
        else outs.push(r);
      } catch (err) {
        ctx.log(`capacity: ${label} failed: ${(err as Error).message}`);
        notes.push(`- **${label} failed**: ${(err as Error).message}`);
      }
    };
    const common = { sizes, counts: ctx.counts };
    if (ctx.stores.includes('sessmap')) {
      for (const [i, row] of SESSMAP_ROWS.entries()) {
        await attempt(row.label, MODULE, 'sessmapFillTask', { ...common, row, path: join(ctx.dir, `capacity-${String(i)}.sessmap`) });
      }
    } else notes.push(`- sessmap rows skipped (${ctx.sessmapMissing ?? 'not selected'})`);
    for (const [serializer, startSlots] of [['storable', 1031], ['json', 1031], ['json', 89]] as const) {
      await attempt(`Cache::FastMmap ${serializer}, start_slots ${String(startSlots)}`, STORES, 'fastmmapTask', { ...common, dir: ctx.dir, serializer, startSlots });
    }
    for (const kind of ['lmdb', 'lmdb-structs'] as const) {
      if (ctx.stores.includes(kind)) await attempt(kind, STORES, 'lmdbTask', { ...common, kind, path: join(ctx.dir, `capacity-${kind}`) });
    }
    await attempt('Redis', STORES, 'redisTask', common);

    const rows: Row[] = outs.map((o) => ({
      scenario: 'capacity', store: o.store, phase: 'capacity', ops: o.sessions, opsPerSec: NaN, p50Ns: NaN, p99Ns: NaN, stolen: NaN,
      perMiB: o.sessions / (o.bytes / MIB),
    }));
    const md = [
      `The workload's ${fmtOps(ctx.counts.entries)} sessions (cycled) under distinct keys \`s:\` + 32 characters (${String(KEY_BYTES)} bytes, as the session backend keys them), each set with a ${String(TTL_MS / 60_000)}-minute TTL where the store has one; a file of ${String(sizes.fileBytes / MIB)} MiB with ${String(sizes.pageSize / 1024)} KiB pages for sessmap and Cache::FastMmap; ${fmtOps(sizes.loaded)} sessions for lmdb and Redis. "Overhead" is bytes a session less its value and its key; "full" is what the file holds once every page has evicted at least once (sets went on until then).`,
      '',
      renderRows(outs),
      '',
      ...(outs.some((o) => o.parts) ? ['Where the bytes of a stored session go in sessmap, at its first eviction:', '', renderParts(outs), ''] : []),
      "- sessmap 'raw' + msgpackr: the Packr's structure table is in this process, not in the file ('structured' keeps its table in the file, in a 16 KiB region before the pages).",
      `- Cache::FastMmap: page_size ${String(sizes.pageSize / 1024)} KiB like sessmap's pages, num_pages ${String(sizes.fileBytes / sizes.pageSize)} (exactly ${String(sizes.fileBytes / MIB)} MiB; its hash is the key's bytes rotated and added, the page that mod num_pages). It rebuilds a page when over 70% of its slots are used or an item does not fit: the slot table doubles, and a page then over 60% full of data is expunged (least recently used first, 1 s resolution) down to 60%. start_slots 1031 is a slot table about the size of sessmap's (1,024 a page), so the bytes run out first; with its default of 89 (doubling to 719) the 70% of slots comes first, at about 503 entries a page (with 256 KiB pages).`,
      ...notes,
    ].join('\n');
    return { rows, markdown: md };
  },
};
