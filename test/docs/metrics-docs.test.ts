/**
 * docs/operations.md's Metrics section and docs/grafana-dashboard.json against what
 * registerMetrics really exports: the section's table names every metric and no other; every
 * series the alert rules and the dashboard query is one sessmap exports, with label values it
 * has. With promtool installed (the prometheus package), the rules pass `promtool check rules`,
 * `promtool test rules` fires each alert on series made for it and not on healthy ones, and every
 * dashboard query parses as PromQL.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { registerMetrics } from '../../src/metrics/index.js';
import type { CacheStats } from '../../src/core/types.js';
import type { BackendMetrics } from '../../src/sessions/types.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { parsePromText, type PromSample } from '../support/scrape.js';
import { fencedBlocks } from './snippets.js';
import { tableAfter } from './tables.js';

const OPERATIONS = readFileSync(join(REPO_ROOT, 'docs', 'operations.md'), 'utf8');
const DASHBOARD = JSON.parse(readFileSync(join(REPO_ROOT, 'docs', 'grafana-dashboard.json'), 'utf8')) as {
  panels: Array<{ type: string; title: string; id: number; targets?: Array<{ expr: string; refId: string }> }>;
};
const RULES = fencedBlocks(OPERATIONS, 'docs/operations.md').find((b) => b.lang === 'yaml' && b.code.includes('alert: SessmapLiveSessionsEvicted'))!.code;
const hasPromtool = spawnSync('promtool', ['--version']).status === 0;

/** Every sample sessmap exports, from a registry fed with a file's stats and a Redis store's counts. */
async function exported(): Promise<{ names: readonly string[]; samples: PromSample[] }> {
  const removals = { expired: 1, evicted: 1, deleted: 1, cleared: 1, repaired: 1 };
  const stats = { entries: 1, bytesUsed: 1, bytesFree: 1, hits: 1, misses: 1, sets: 1, removals, evictedLive: 1, evictedHigh: 1, lockWaits: 1, lockRecoveries: 1, repairs: 1, processes: { alive: 1, dead: 1 } } as unknown as CacheStats;
  const backend: BackendMetrics = {
    commandErrors: { reply: 1, timeout: 1, unavailable: 1 },
    commandSeconds: { bounds: [0.001, 0.01], counts: [1, 1, 1], sum: 1, count: 3 },
    nearCache: { hits: 1, misses: 1, invalidations: 1, flushes: 1 },
  };
  const registry = new Registry();
  const h = registerMetrics({ register: registry, cache: { stats: () => stats }, store: { backendMetrics: () => backend } });
  const text = parsePromText(await registry.metrics());
  h.unregister();
  return { names: h.names, samples: text.samples };
}

/** The queries of the dashboard's panels. */
const dashboardQueries = (): string[] => DASHBOARD.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
/** The rules' `expr:` lines. */
const ruleQueries = (): string[] => [...RULES.matchAll(/^\s*expr: (.*)$/gm)].map((m) => m[1]);

/** Each `sessmap_...` series a query names, with the label matchers given to it (instance aside). */
function selectors(query: string): Array<{ name: string; labels: Array<[string, string]> }> {
  return [...query.matchAll(/\b(sessmap_[a-z_]+)(?:\{([^}]*)\})?/g)].map((m) => ({
    name: m[1],
    labels: [...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]] as [string, string]).filter(([k]) => k !== 'instance'),
  }));
}

describe('the Metrics section of docs/operations.md', () => {
  it('lists every metric registerMetrics adds, and no other', async () => {
    const { names } = await exported();
    const listed = tableAfter(OPERATIONS, 'Metrics').flatMap((row) => [...row[0].matchAll(/`(sessmap_[a-z_]+)/g)].map((m) => m[1]));
    expect([...new Set(listed)].sort()).toEqual([...names].sort());
  });

  it('has alert rules and a dashboard that query only series sessmap exports, with label values they have', async () => {
    const { samples } = await exported();
    const queries = [...ruleQueries(), ...dashboardQueries()];
    expect(ruleQueries()).toHaveLength(4);
    expect(dashboardQueries().length).toBeGreaterThan(10);
    const wrong: string[] = [];
    for (const q of queries) {
      for (const s of selectors(q)) {
        const of = samples.filter((x) => x.name === s.name);
        if (of.length === 0) wrong.push(`${s.name} (in ${q}) is not exported`);
        for (const [k, v] of s.labels) if (!of.some((x) => x.labels[k] === v)) wrong.push(`${s.name}{${k}="${v}"} (in ${q}) has no such label value`);
      }
    }
    expect(wrong).toEqual([]);
    // Every panel but the rows has a query; ids are unique.
    expect(DASHBOARD.panels.filter((p) => p.type !== 'row' && (p.targets ?? []).length === 0).map((p) => p.title)).toEqual([]);
    expect(new Set(DASHBOARD.panels.map((p) => p.id)).size).toBe(DASHBOARD.panels.length);
  });
});

describe.skipIf(!hasPromtool)('the alert rules and dashboard queries, with promtool', () => {
  const inDir = <T>(fn: (dir: string) => T): T => {
    const dir = mkdtempSync(join(tmpdir(), 'sessmap-promtool-'));
    try {
      return fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  const promtool = (dir: string, ...args: string[]): string => {
    const r = spawnSync('promtool', args, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`promtool ${args.join(' ')}:\n${r.stdout}${r.stderr}`);
    return r.stdout;
  };

  it('checks the rules', () => {
    inDir((dir) => {
      writeFileSync(join(dir, 'rules.yml'), RULES);
      expect(promtool(dir, 'check', 'rules', 'rules.yml')).toMatch(/SUCCESS: 4 rules found/);
    });
  });

  it('fires each alert on series made for it, and none on a healthy host', () => {
    inDir((dir) => {
      // The same rules without their annotations (promtool would compare the rendered texts too).
      writeFileSync(join(dir, 'rules.yml'), `${RULES}\n`.replace(/^ {8}annotations:\n(?: {10}.*\n)+/gm, ''));
      const series = (name: string, values: string): string => `      - series: '${name}'\n        values: '${values}'\n`;
      const alert = (at: string, name: string, fired: boolean, host: string, severity: string): string =>
        `      - eval_time: ${at}\n        alertname: ${name}\n        exp_alerts: ${fired ? `\n          - exp_labels: { instance: ${host}, severity: ${severity} }` : '[]'}\n`;
      const tests = `rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
${series('sessmap_evictions_live_total{instance="sick"}', '0 0 0 0 0 0 0 0 0 0 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3')}${series('sessmap_evictions_live_total{instance="well"}', '0x30')}${series('sessmap_lock_recoveries_total{instance="sick"}', '0x10 1x20')}${series('sessmap_lock_recoveries_total{instance="well"}', '0x30')}${series('sessmap_repairs_total{instance="sick"}', '0x10 2x20')}${series('sessmap_repairs_total{instance="well"}', '0x30')}${series('sessmap_bytes{instance="sick",state="used"}', '90x30')}${series('sessmap_bytes{instance="sick",state="free"}', '10x30')}${series('sessmap_capacity_bytes{instance="sick"}', '100x30')}${series('sessmap_bytes{instance="well",state="used"}', '80x30')}${series('sessmap_bytes{instance="well",state="free"}', '20x30')}${series('sessmap_capacity_bytes{instance="well"}', '100x30')}    alert_rule_test:
${alert('5m', 'SessmapLiveSessionsEvicted', false, '', '')}${alert('12m', 'SessmapLiveSessionsEvicted', true, 'sick', 'page')}${alert('20m', 'SessmapLiveSessionsEvicted', false, '', '')}${alert('5m', 'SessmapLockRecoveries', false, '', '')}${alert('12m', 'SessmapLockRecoveries', true, 'sick', 'warning')}${alert('5m', 'SessmapPagesRepaired', false, '', '')}${alert('12m', 'SessmapPagesRepaired', true, 'sick', 'info')}${alert('10m', 'SessmapFileNearlyFull', false, '', '')}${alert('20m', 'SessmapFileNearlyFull', true, 'sick', 'warning')}`;
      writeFileSync(join(dir, 'tests.yml'), tests);
      expect(promtool(dir, 'test', 'rules', 'tests.yml')).toMatch(/SUCCESS/);
    });
  });

  it('parses every dashboard query', () => {
    inDir((dir) => {
      // Grafana's variables as Prometheus would get them.
      const concrete = (q: string): string => q.replaceAll('$__rate_interval', '5m').replaceAll('$__range', '1h').replaceAll('$instance', '.*');
      const rules = `groups:\n  - name: dashboard\n    rules:\n${dashboardQueries().map((q, i) => `      - record: dashboard:query${i}\n        expr: ${JSON.stringify(concrete(q))}\n`).join('')}`;
      writeFileSync(join(dir, 'dashboard.yml'), rules);
      expect(promtool(dir, 'check', 'rules', 'dashboard.yml')).toMatch(/SUCCESS/);
    });
  });
});
