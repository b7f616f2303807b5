/** Driving test/fixtures/core/space-child.ts: a forked process that may meet a full filesystem. */
import { Child } from './child.js';

export interface SpaceJobResult {
  ok: boolean;
  step?: 'open' | 'write';
  written?: number;
  lastKey?: string;
  geometry?: { fileSize: number };
  error?: { code?: string; message: string; details?: Record<string, unknown> };
}

export interface SpaceJob {
  path: string;
  create?: Record<string, unknown>;
  write?: { count: number; valueBytes: number; prefix?: string };
}

/** Runs one job in a forked child; its one message (undefined when it died first) and how it exited. */
export async function runSpaceChild(job: SpaceJob): Promise<{ result: SpaceJobResult | undefined; exit: { code: number | null; signal: string | null } }> {
  const child = new Child('core/space-child.ts', { args: [JSON.stringify(job)] });
  const result = child.nextMessage<SpaceJobResult>(() => true, 120_000).catch(() => undefined);
  const exit = await child.waitExit(120_000);
  return { result: await result, exit };
}

/** The assertion message for a child that did not exit 0. */
export const KILLED = 'the child was killed (SIGBUS: a store into a block the full filesystem could not give)';
