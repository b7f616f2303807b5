import { beforeAll, describe, expect, it } from 'vitest';
import { Child, killAllChildren } from '../helpers/child.js';
import { seedFromEnv } from '../helpers/rng.js';
import { makeTmpDir, removeTmpDir } from '../helpers/tmp.js';

/** Two children (two cores), each with its own seed: 2 x 1500 iterations x 1-6 mutations, ~10,000 corruptions. */
const RUNS = 2;
const ITERATIONS = 1500;
const CHILD_TIMEOUT = 120_000;

interface Report {
  seed: number;
  iterations: number;
  mutations: number;
  refusedOpen: Record<string, number>;
  opErrors: Record<string, number>;
  cleanIterations: number;
  missing: number;
  reportedDrops: number;
  repairs: number;
  failures: string[];
  silentLosses: string[];
  dirtyPages: string[];
}

interface Outcome {
  seed: number;
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  lastIteration: number;
  report: Report | undefined;
  error: string | undefined;
}

async function fuzz(seed: number): Promise<Outcome> {
  const dir = makeTmpDir();
  const child = new Child('core/corruption-fuzz.ts', { args: [dir, String(seed), String(ITERATIONS)] });
  let lastIteration = -1;
  const outcome: Outcome = { seed, exit: undefined, lastIteration, report: undefined, error: undefined };
  try {
    const deadline = Date.now() + CHILD_TIMEOUT;
    for (;;) {
      const m = await child.nextMessage<{ type: string; it?: number; report?: Report }>(() => true, Math.max(1, deadline - Date.now()));
      if (m.type === 'progress') outcome.lastIteration = lastIteration = m.it!;
      if (m.type === 'done') {
        outcome.report = m.report;
        break;
      }
    }
    outcome.exit = await child.waitExit(10_000);
  } catch (err) {
    outcome.error = (err as Error).message;
    outcome.exit = await child.kill9();
  } finally {
    removeTmpDir(dir);
  }
  return outcome;
}

describe('random corruption of the pages of a closed cache file', () => {
  let outcomes: Outcome[];

  beforeAll(async () => {
    const base = seedFromEnv();
    outcomes = await Promise.all(Array.from({ length: RUNS }, (_, i) => fuzz((base + i * 0x51ed27) >>> 0)));
    await killAllChildren();
  }, CHILD_TIMEOUT + 30_000);

  const replay = (o: Outcome) => `seed ${o.seed} (replay: SESSMAP_TEST_SEED=${o.seed}; last iteration started: ${o.lastIteration})`;

  it('never crashes or hangs the process', () => {
    for (const o of outcomes) {
      expect(o.error, replay(o)).toBeUndefined();
      expect(o.exit, replay(o)).toEqual({ code: 0, signal: null });
    }
  });

  it('never returns a value that was not written for that key, and throws only SessmapErrors', () => {
    for (const o of outcomes) expect(o.report?.failures, replay(o)).toEqual([]);
  });

  it('opens and serves most damaged files rather than refusing them (the fuzz reaches the read path)', () => {
    for (const o of outcomes) {
      const r = o.report!;
      expect(r.mutations, replay(o)).toBeGreaterThanOrEqual(ITERATIONS);
      expect(r.cleanIterations, `${replay(o)}: refused opens ${JSON.stringify(r.refusedOpen)}, op errors ${JSON.stringify(r.opErrors)}`).toBeGreaterThan(ITERATIONS / 2);
      expect(r.repairs, `${replay(o)}: damage was never detected and repaired`).toBeGreaterThan(0);
    }
  });

  it('reports every entry it drops as repaired (or expired)', () => {
    for (const o of outcomes) expect(o.report?.silentLosses, replay(o)).toEqual([]);
  });

  it('leaves every page consistent once it has been used after the damage', () => {
    for (const o of outcomes) expect(o.report?.dirtyPages, replay(o)).toEqual([]);
  });
});
