/**
 * The performance targets of the brief, as ratio lines with PASS/MISS. They are goals to report
 * against, not tests: a MISS does not fail the run.
 */
import { STOLEN_WARN, type Row } from './config.js';
import { fmtOps, fmtRatio } from './format.js';
import { rowLabel } from './stores.js';

export interface TargetLine {
  text: string;
  /** undefined when the figures it needs were not measured in this run. */
  pass: boolean | undefined;
}

function find(rows: readonly Row[], scenario: string, store: string, phase: string): Row | undefined {
  return rows.find((r) => r.scenario === scenario && r.store === store && r.phase === phase);
}

/** ' † other load took N% of a phase' when an input figure was disturbed. */
function disturbed(...rows: Row[]): string {
  const worst = Math.max(...rows.map((r) => (Number.isFinite(r.stolen) ? r.stolen : 0)));
  return worst > STOLEN_WARN ? ` † other load took ${(worst * 100).toFixed(0)}% of a phase` : '';
}

function ratioLine(label: string, num: Row | undefined, den: Row | undefined, min: number): TargetLine {
  if (!num || !den) return { text: `n/a   ${label} (target >= ${fmtRatio(min)}): not measured in this run`, pass: undefined };
  const r = num.opsPerSec / den.opsPerSec;
  const pass = r >= min;
  return {
    text: `${pass ? 'PASS' : 'MISS'}  ${label} = ${fmtRatio(r)} (${fmtOps(num.opsPerSec)} vs ${fmtOps(den.opsPerSec)} ops/s; target >= ${fmtRatio(min)})${disturbed(num, den)}`,
    pass,
  };
}

function infoLine(label: string, num: Row | undefined, den: Row | undefined): TargetLine[] {
  if (!num || !den) return [];
  return [{ text: `info  ${label} = ${fmtRatio(num.opsPerSec / den.opsPerSec)}${disturbed(num, den)}`, pass: undefined }];
}

/** Per-op cost of `num` over that of `den` (the inverse of their ops/s), against a ceiling. */
function costLine(label: string, num: Row | undefined, den: Row | undefined, max: number): TargetLine {
  if (!num || !den) return { text: `n/a   ${label} (target <= ${fmtRatio(max)}): not measured in this run`, pass: undefined };
  const r = den.opsPerSec / num.opsPerSec;
  const pass = r <= max;
  const us = (row: Row): string => (1e6 / row.opsPerSec).toFixed(2);
  return {
    text: `${pass ? 'PASS' : 'MISS'}  ${label} = ${fmtRatio(r)} (${us(num)} vs ${us(den)} µs per op; target <= ${fmtRatio(max)})${disturbed(num, den)}`,
    pass,
  };
}

/**
 * sessmap's sessions per MiB with serializer 'json' before issue 12's work (bench/capacity.ts,
 * 64 MiB file, first eviction; the median of ten fresh files, 1,700 to 1,752: each file's random
 * seed spreads the keys over the pages differently): the figure the sessions' serializer must double.
 */
export const CAPACITY_BASELINE = { perMiB: 1_729, date: '2026-12-01', commit: 'f6d029d' } as const;

/** The capacity row the targets read: sessmap with the serializer the session backend uses. */
export const CAPACITY_TARGET_STORE = "sessmap 'structured' (the session backend's)";

/** The capacity targets: the sessions' serializer at least 2x the baseline, and ahead of every other store's row. */
function capacityLines(rows: readonly Row[]): TargetLine[] {
  const cap = rows.filter((r) => r.scenario === 'capacity' && r.perMiB !== undefined);
  const def = cap.find((r) => r.store === CAPACITY_TARGET_STORE);
  const base = `${fmtOps(CAPACITY_BASELINE.perMiB)}/MiB with 'json' on ${CAPACITY_BASELINE.date}, commit ${CAPACITY_BASELINE.commit}`;
  if (!def?.perMiB) return [{ text: `n/a   sessmap capacity, sessions' serializer (target >= 2.00x ${base}): not measured in this run`, pass: undefined }];
  const r = def.perMiB / CAPACITY_BASELINE.perMiB;
  const out: TargetLine[] = [
    { text: `${r >= 2 ? 'PASS' : 'MISS'}  sessmap capacity, sessions' serializer = ${fmtOps(def.perMiB)} sessions/MiB = ${fmtRatio(r)} the baseline (${base}; target >= 2.00x)`, pass: r >= 2 },
  ];
  const others = cap.filter((x) => !x.store.startsWith('sessmap'));
  const best = others.reduce<Row | undefined>((b, x) => (b === undefined || x.perMiB! > b.perMiB! ? x : b), undefined);
  if (best) {
    const rb = def.perMiB / best.perMiB!;
    out.push({ text: `${rb > 1 ? 'PASS' : 'MISS'}  sessmap capacity, sessions' serializer / best other store (${best.store}, ${fmtOps(best.perMiB!)}/MiB) = ${fmtRatio(rb)} (target > 1.00x)`, pass: rb > 1 });
  }
  return out;
}

/** The session scenario's rows with serializer 'structured' (bench/session.ts, VARIANTS). */
const SM_STRUCTURED = rowLabel('sessmap', 'structured');
const LRU_STRUCTURED = rowLabel('lru-cache', 'structured');

export function targetLines(rows: readonly Row[]): TargetLine[] {
  const s = (store: string, phase: string): Row | undefined => find(rows, 'session', store, phase);
  const out: TargetLine[] = [
    ratioLine('sessmap get / lru-cache get (same serializer)', s('sessmap', 'get'), s('lru-cache', 'get'), 0.9),
    ratioLine('sessmap get / lmdb get (lmdb default encoding)', s('sessmap', 'get'), s('lmdb', 'get'), 1.2),
    ...infoLine('sessmap get / lmdb-structs get', s('sessmap', 'get'), s('lmdb-structs', 'get')),
    ratioLine('sessmap update / lmdb update (get + putSync)', s('sessmap', 'update'), s('lmdb', 'update'), 2.5),
    ...infoLine('sessmap update / lmdb update (transactionSync)', s('sessmap', 'update'), s('lmdb', 'update (transactionSync)')),
    // issue 12: reads and updates with msgpackr shared structures (the serializer of session files).
    ratioLine("sessmap 'structured' get / lmdb-structs get", s(SM_STRUCTURED, 'get'), s('lmdb-structs', 'get'), 1.2),
    ratioLine("sessmap 'structured' get / lru-cache 'structured' get (the same msgpackr bytes, in process)", s(SM_STRUCTURED, 'get'), s(LRU_STRUCTURED, 'get'), 0.9),
    ratioLine("sessmap 'structured' update / lmdb-structs update (transactionSync)", s(SM_STRUCTURED, 'update'), s('lmdb-structs', 'update (transactionSync)'), 3),
    ...infoLine("sessmap 'structured' get / sessmap get ('json')", s(SM_STRUCTURED, 'get'), s('sessmap', 'get')),
    ratioLine('sessmap mix2 (2 procs, sum) / mix (1 proc)', find(rows, 'mix2', 'sessmap', 'mix2 (2 procs)'), find(rows, 'mix2', 'sessmap', 'mix (1 proc)'), 1.7),
    ...infoLine('sessmap mix2 (2 procs, sum) / session-scenario mix', find(rows, 'mix2', 'sessmap', 'mix2 (2 procs)'), s('sessmap', 'mix')),
  ];
  // redis-get: each phase (a number of gets in flight) against the plain GET's at the same number.
  for (const floor of rows.filter((r) => r.scenario === 'redis-get' && r.store === 'redis')) {
    const g = (store: string): Row | undefined => find(rows, 'redis-get', store, floor.phase);
    out.push(
      ...infoLine(`sessmap on Redis + near-cache (hits) ${floor.phase} / redis GET`, g('sessmap-near'), floor),
      ...infoLine(`sessmap on Redis ${floor.phase} / redis GET`, g('sessmap-redis'), floor),
    );
  }
  const raw = find(rows, 'raw', 'sessmap', 'get');
  if (raw) {
    const pass = raw.opsPerSec > 1_500_000;
    out.push({ text: `${pass ? 'PASS' : 'MISS'}  sessmap raw get = ${fmtOps(raw.opsPerSec)} ops/s (target > 1,500,000)${disturbed(raw)}`, pass });
    out.push(...infoLine('sessmap raw get / lru-cache get + copy', raw, find(rows, 'raw', 'lru-cache', 'get + copy')));
    out.push(...infoLine('sessmap raw getInto (a reused buffer) / lru-cache get + copy', find(rows, 'raw', 'sessmap', 'getInto'), find(rows, 'raw', 'lru-cache', 'get + copy')));
  } else {
    out.push({ text: 'n/a   sessmap raw get (target > 1,500,000 ops/s): not measured in this run', pass: undefined });
  }
  const full = (phase: string): Row | undefined => find(rows, 'full', 'sessmap', phase);
  out.push(
    costLine('sessmap full-set per set / load per set (sets into a full file vs with room)', full('full-set'), full('load'), 1.5),
    costLine('sessmap flood per op / load per set (90% anonymous creates, 10% reads, full file)', full('flood'), full('load'), 1.5),
    ...capacityLines(rows),
  );
  // issue 12, scaling (bench/scaling.ts): the cost of a get at 1M sessions against 10k.
  const sc = (store: string, phase: string): Row | undefined => find(rows, 'scaling', store, phase);
  out.push(
    costLine("sessmap 'structured' get at 1M sessions / get at 10k (cost per get)", sc(SM_STRUCTURED, 'get, 1M sessions'), sc(SM_STRUCTURED, 'get, 10k sessions'), 1.5),
    ...infoLine('lmdb-structs get at 1M sessions / get at 10k (cost per get)', sc('lmdb-structs', 'get, 10k sessions'), sc('lmdb-structs', 'get, 1M sessions')),
  );
  return out;
}
