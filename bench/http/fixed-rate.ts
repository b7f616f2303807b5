/**
 * The fixed-rate phase: after every store has run as fast as it goes, each runs again at one
 * total request rate (autocannon's overallRate), the same for all, about half the slowest store's
 * req/s, so that none is saturated and latency is compared at equal load.
 */
import { storeSideMicros, workersMicros } from './cpu.js';
import { cell, dagger, int, ms, otherCell, perResponse, representatives, type Settings, type StoreRun } from './report.js';
import { STORE_LABELS } from './protocol.js';

/** Half the slowest store's req/s (its median round), rounded down to a multiple of 100; undefined when no store measured one. */
export function fixedRateOf(runs: readonly StoreRun[]): number | undefined {
  const rates = representatives(runs)
    .map((r) => r.load?.reqPerSec)
    .filter((x): x is number => x !== undefined && x > 0);
  if (rates.length === 0) return undefined;
  const half = Math.min(...rates) / 2;
  return half >= 200 ? Math.floor(half / 100) * 100 : Math.max(1, Math.floor(half));
}

/** The fixed-rate table (empty when the phase was not run). */
export function fixedRateSection(fixed: readonly StoreRun[], s: Settings): string[] {
  if (fixed.length === 0 || !s.fixedRate) return [];
  const { rate, chosen } = s.fixedRate;
  const lines: string[] = [];
  lines.push(
    `At a fixed rate: each store again, in fresh workers, at ${int(rate)} req/s in all (autocannon \`overallRate\`, ${chosen === 'half' ? "half the slowest store's req/s above, rounded down to 100" : 'set with --rate'}), ` +
      `${s.warmup} s warm-up and ${s.duration} s measured at that rate, same connections and mix. ` +
      'autocannon limits each connection to its share of requests per one-second window, sending them back to back from the start of the window: ' +
      '"uneven" is the coefficient of variation of the responses counted per 100 ms window, "quiet" the share of 100 ms windows with under a quarter of the mean count. ' +
      'Latency is measured from when the request is sent (a request held back by the limit is not counted as waiting):',
  );
  lines.push('');
  lines.push('| store | achieved req/s | p50 ms | p99 ms | p99.9 ms | store side CPU µs / response | load generator CPU µs / response | uneven | quiet | errors | non-2xx | other load |');
  lines.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of fixed) {
    const l = r.load;
    if (!l) {
      lines.push(`| ${STORE_LABELS[r.kind]} | failed: ${cell(r.error ?? 'unknown error')} | | | | | | | | | | |`);
      continue;
    }
    const side = r.cpu ? int(perResponse(storeSideMicros(r.cpu), l)) : 'n/a';
    const workers = r.cpu ? ` (workers ${int(perResponse(workersMicros(r.cpu), l))})` : '';
    lines.push(
      `| ${STORE_LABELS[r.kind]}${dagger(r)} | ${int(l.reqPerSec)} | ${ms(l.latency.p50)} | ${ms(l.latency.p99)} | ${ms(l.latency.p999)} | ${side}${workers} | ${r.cpu ? int(perResponse(r.cpu.loader, l)) : 'n/a'} | ` +
        `${Number.isFinite(l.steadiness.cv) ? l.steadiness.cv.toFixed(2) : 'n/a'} | ${Number.isFinite(l.steadiness.quiet) ? `${(100 * l.steadiness.quiet).toFixed(0)}%` : 'n/a'} | ` +
        `${int(l.errors)}${l.timeouts ? ` (${l.timeouts} timeouts)` : ''} | ${int(l.non2xx)} | ${otherCell(r)} |`,
    );
  }
  lines.push('');
  return lines;
}
