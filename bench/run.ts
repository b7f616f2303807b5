/**
 * `npm run bench [-- options] [scenario...]`: runs the benchmark scenarios, prints the tables and
 * the target ratios, and (on a full run) writes them into docs/benchmarks.md.
 *
 *   scenarios     session, mix2, raw, serializers, capacity, full, scaling, resize, redis-get (default:
 *                 all, in that order); redis-get starts a redis-server of its own and is skipped
 *                 where there is none
 *   --quick       small counts, for smoke checks (never written to the docs unless --write)
 *   --stores=a,b  only these stores: sessmap, lru-cache, lmdb, lmdb-structs
 *   --write       write docs/benchmarks.md even for a partial or quick run
 *   --no-write    do not write docs/benchmarks.md
 */
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { FULL, QUICK, STOLEN_WARN, type Row, type RunContext, type Scenario } from './lib/config.js';
import { environment, environmentLine, writeDocSection, DOC_PATH } from './lib/report.js';
import { loadSessmap, STORE_KINDS, type StoreKind } from './lib/stores.js';
import { targetLines } from './lib/targets.js';
import { scenario as capacity } from './capacity.js';
import { scenario as full } from './full.js';
import { scenario as mix2 } from './mix2.js';
import { scenario as raw } from './raw.js';
import { scenario as redisGet } from './redis-get.js';
import { scenario as resize } from './resize.js';
import { scenario as scaling } from './scaling.js';
import { scenario as serializers } from './serializers.js';
import { scenario as session } from './session.js';

const SCENARIOS: readonly Scenario[] = [session, mix2, raw, serializers, capacity, full, scaling, resize, redisGet];

/** Phase names accepted as filters, mapped to the scenario that measures them. */
const ALIASES: Record<string, string> = { load: 'session', get: 'session', update: 'session', mix: 'session', codecs: 'serializers', 'full-set': 'full', flood: 'full' };

const USAGE =
  'usage: npm run bench -- [--quick] [--stores=sessmap,lru-cache,lmdb,lmdb-structs] [--write|--no-write] [session|mix2|raw|serializers|capacity|full|scaling|resize|redis-get|load|get|update|mix ...]';

class UsageError extends Error {}

interface Args {
  quick: boolean;
  write: boolean | undefined;
  stores: StoreKind[] | undefined;
  names: string[];
}

function parseArgs(argv: readonly string[]): Args {
  const a: Args = { quick: false, write: undefined, stores: undefined, names: [] };
  for (const arg of argv) {
    if (arg === '--quick') a.quick = true;
    else if (arg === '--write') a.write = true;
    else if (arg === '--no-write') a.write = false;
    else if (arg.startsWith('--stores=')) {
      const list = arg.slice('--stores='.length).split(',').filter(Boolean);
      for (const s of list) if (!STORE_KINDS.includes(s as StoreKind)) throw new UsageError(`unknown store ${s}; known: ${STORE_KINDS.join(', ')}`);
      a.stores = list as StoreKind[];
    } else if (arg === '--help' || arg === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else if (arg.startsWith('-')) throw new UsageError(`unknown option ${arg}`);
    else {
      const name = ALIASES[arg] ?? arg;
      if (!SCENARIOS.some((s) => s.name === name)) throw new UsageError(`unknown scenario ${arg}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
      if (!a.names.includes(name)) a.names.push(name);
    }
  }
  return a;
}

/** A fresh directory for this run's store files: tmpfs (/dev/shm) when there is one. */
function makeStoreDir(): { dir: string; kind: string } {
  const shm = '/dev/shm';
  if (existsSync(shm) && statSync(shm).isDirectory()) {
    try {
      return { dir: mkdtempSync(join(shm, 'sessmap-bench-')), kind: '/dev/shm (tmpfs)' };
    } catch {
      // not writable: fall through
    }
  }
  return { dir: mkdtempSync(join(os.tmpdir(), 'sessmap-bench-')), kind: `${os.tmpdir()} (no /dev/shm)` };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const selected = args.names.length ? SCENARIOS.filter((s) => args.names.includes(s.name)) : SCENARIOS;
  let stores: StoreKind[] = args.stores ?? [...STORE_KINDS];
  let sessmapMissing: string | undefined;
  if (stores.includes('sessmap')) {
    try {
      await loadSessmap();
    } catch (err) {
      sessmapMissing = (err as Error).message;
      stores = stores.filter((s) => s !== 'sessmap');
    }
  }
  const { dir, kind: dirKind } = makeStoreDir();
  const cleanup = (): void => rmSync(dir, { recursive: true, force: true });
  process.once('SIGINT', () => {
    cleanup();
    process.exit(130);
  });
  const env = environment(dirKind);
  // Disturbed phases are rerun (see measure.ts) only in the first 2 minutes (30 s when quick),
  // which keeps a run on a busy machine near 3 minutes.
  process.env.BENCH_RETRY_UNTIL = String(Date.now() + (args.quick ? 30_000 : 120_000));
  const log = (line: string): void => console.error(`[bench ${((performance.now() - t0) / 1000).toFixed(1)}s] ${line}`);
  const t0 = performance.now();
  const ctx: RunContext = {
    counts: args.quick ? QUICK : FULL,
    quick: args.quick,
    dir,
    stores,
    sessmapMissing,
    cpuCount: env.cpuCount,
    taskTimeoutMs: args.quick ? 60_000 : 180_000,
    log,
  };
  log(environmentLine(env));
  if (sessmapMissing) log(`sessmap skipped: ${sessmapMissing}`);
  log(`stores: ${stores.join(', ')}; scenarios: ${selected.map((s) => s.name).join(', ')}${args.quick ? ' (quick)' : ''}`);

  const rows: Row[] = [];
  const sections: string[] = [];
  try {
    for (const sc of selected) {
      try {
        const r = await sc.run(ctx);
        rows.push(...r.rows);
        sections.push(`### ${sc.title} (\`${sc.name}\`)\n\n${r.markdown}`);
      } catch (err) {
        log(`${sc.name} failed: ${(err as Error).stack ?? String(err)}`);
        sections.push(`### ${sc.title} (\`${sc.name}\`)\n\n- **failed**: ${(err as Error).message}`);
      }
    }
  } finally {
    cleanup();
  }

  const targets = targetLines(rows);
  const hit = rows.filter((r) => Number.isFinite(r.stolen) && r.stolen > STOLEN_WARN);
  const worst = Math.max(0, ...rows.map((r) => (Number.isFinite(r.stolen) ? r.stolen : 0)));
  const quiet = hit.length
    ? `**Other load on the machine took more than ${String(STOLEN_WARN * 100)}% of the time of ${String(hit.length)} measured phase(s) (worst ${(worst * 100).toFixed(0)}%, marked †): treat those figures as disturbed and rerun on a quiet machine.**`
    : `No measured phase lost more than ${String(STOLEN_WARN * 100)}% of its time to other processes (worst ${(worst * 100).toFixed(1)}%; "stolen" columns).`;
  const elapsed = (performance.now() - t0) / 1000;
  const section = [
    `_Generated by \`npm run bench${args.quick ? ' -- --quick' : ''}\`: ${environmentLine(env)} Took ${elapsed.toFixed(0)} s._`,
    ...(sessmapMissing ? ['', `_sessmap was not measured: ${sessmapMissing}._`] : []),
    '',
    quiet,
    '',
    '### Targets',
    '',
    'Goals from the design brief, reported, not enforced.',
    '',
    '```',
    ...targets.map((t) => t.text),
    '```',
    '',
    ...sections.flatMap((s) => [s, '']),
  ].join('\n');
  console.log(section);

  const full = !args.quick && args.names.length === 0 && args.stores === undefined;
  if (args.write ?? full) {
    writeDocSection(section);
    log(`wrote ${DOC_PATH}`);
  } else {
    log(`not writing ${DOC_PATH} (partial or quick run; pass --write to force)`);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof UsageError ? `${err.message}\n${USAGE}` : err);
  process.exit(1);
});
