/**
 * A cache file deleted or replaced under a running service (a tmp cleaner, an operator): the
 * primary notices within its sweep interval that its path no longer leads to the file it maps,
 * emits an `error` event with SESSMAP_ERR_FILE_REPLACED and logs it at error level, once for
 * each time it happens, whether anyone listens to `error` or not. A real cluster primary with a
 * worker (test/fixtures/cluster/watch-primary.ts), and a real pino logger writing to a file.
 */
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import pino from 'pino';
import { SharedCache, openSessionStore } from '../../src/index.js';
import { Child, useChildCleanup } from '../helpers/child.js';
import { eventually, sleep } from '../support/wait.js';
import { describeError } from '../support/rpc.js';
import { useClusterSuite } from './harness.js';

const SWEEP = 100;

interface RecordedError {
  code?: string;
  message: string;
  details?: Record<string, unknown>;
}

class WatchPrimary {
  readonly child: Child;
  constructor(readonly path: string, readonly logFile: string, listen: boolean) {
    this.child = new Child('cluster/watch-primary.ts', { args: [JSON.stringify({ path, sweepInterval: SWEEP, logFile, listen })] });
  }
  async ready(): Promise<this> {
    await this.child.nextMessage((m) => m?.type === 'ready', 60_000);
    return this;
  }
  async cmd<T>(cmd: string): Promise<T> {
    const r = await this.child.request<T>({ cmd }, 30_000);
    if (!r.ok) expect.fail(`${cmd} failed in the watch primary: ${describeError(r.error)}`);
    return r.value;
  }
  waitErrors(n: number): Promise<RecordedError[]> {
    let errs: RecordedError[] = [];
    const check = async (): Promise<RecordedError[] | false> => {
      errs = await this.cmd<RecordedError[]>('errors');
      return errs.length >= n && errs;
    };
    return eventually(`${n} error events`, check, { timeoutMs: 20_000, intervalMs: 50, report: () => `the primary emitted ${errs.length}` });
  }
}

/** The error-level lines of a pino log file that carry SESSMAP_ERR_FILE_REPLACED. */
function replacedLines(logFile: string): Array<Record<string, any>> {
  if (!fs.existsSync(logFile)) return [];
  return fs
    .readFileSync(logFile, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, any>)
    .filter((l) => l.code === 'SESSMAP_ERR_FILE_REPLACED' || l.err?.code === 'SESSMAP_ERR_FILE_REPLACED');
}

function waitLines(logFile: string, n: number): Promise<Array<Record<string, any>>> {
  let lines: Array<Record<string, any>> = [];
  const check = (): Array<Record<string, any>> | false => {
    lines = replacedLines(logFile);
    return lines.length >= n && lines;
  };
  return eventually(`${n} log lines with SESSMAP_ERR_FILE_REPLACED in ${logFile}`, check, { timeoutMs: 20_000, intervalMs: 50, report: () => `there are ${lines.length}` });
}

describe('a cache file deleted or replaced under a running service', () => {
  const suite = useClusterSuite();
  useChildCleanup();

  it('emits an error event and logs one error-level line when the file is deleted, and again when another file takes its path', async () => {
    const path = suite.tmp.path('sessions.smap');
    const logFile = suite.tmp.path('primary.log');
    const primary = await new WatchPrimary(path, logFile, true).ready();
    expect(await primary.cmd('worker')).toBe(true);

    fs.rmSync(path);
    const [deleted] = await primary.waitErrors(1);
    expect(deleted.code).toBe('SESSMAP_ERR_FILE_REPLACED');
    expect(deleted.details).toEqual({ path, status: 'deleted' });
    expect(deleted.message).toContain(path);
    expect(deleted.message).toContain('deleted');
    expect(deleted.message).toContain('docs/operations.md');
    // Many sweep intervals later, still one event and one line: reported once, not every tick.
    await sleep(SWEEP * 15);
    expect(await primary.cmd<RecordedError[]>('errors')).toHaveLength(1);
    const [line] = await waitLines(logFile, 1);
    expect(replacedLines(logFile)).toHaveLength(1);
    expect(line).toMatchObject({ level: 50, code: 'SESSMAP_ERR_FILE_REPLACED', path, status: 'deleted', role: 'primary' });
    // The worker attached before goes on working on the deleted file.
    expect(await primary.cmd('worker')).toBe(true);

    // Another process creates a new cache file at the path: a second occurrence, reported once.
    SharedCache.create(path, { size: '1m' }).close();
    const errs = await primary.waitErrors(2);
    expect(errs[1]).toMatchObject({ code: 'SESSMAP_ERR_FILE_REPLACED', details: { path, status: 'replaced' } });
    expect(errs[1].message).toContain('replaced');
    await sleep(SWEEP * 15);
    expect(await primary.cmd<RecordedError[]>('errors')).toHaveLength(2);
    const lines = await waitLines(logFile, 2);
    expect(replacedLines(logFile)).toHaveLength(2);
    expect(lines[1]).toMatchObject({ level: 50, status: 'replaced' });
    await primary.cmd('exit');
  });

  it('logs it at error level once when nobody listens to error events', async () => {
    const path = suite.tmp.path('sessions.smap');
    const logFile = suite.tmp.path('primary.log');
    const primary = await new WatchPrimary(path, logFile, false).ready();
    // Replaced in one step, as a deploy script's `mv new.smap sessions.smap` does.
    const other = suite.tmp.path('other.smap');
    SharedCache.create(other, { size: '1m' }).close();
    fs.renameSync(other, path);
    const [line] = await waitLines(logFile, 1);
    expect(line).toMatchObject({ level: 50, code: 'SESSMAP_ERR_FILE_REPLACED', path, status: 'replaced' });
    expect(line.msg).toContain(path);
    await sleep(SWEEP * 15);
    expect(replacedLines(logFile)).toHaveLength(1);
    await primary.cmd('exit');
  });

  it('does the same for a store opened with openSessionStore', async () => {
    const path = suite.tmp.path('sessions.smap');
    const logFile = suite.tmp.path('standalone.log');
    const store = await openSessionStore({ path, sweepInterval: SWEEP, logger: pino({ level: 'debug' }, pino.destination({ dest: logFile, sync: true })) });
    const errors: Error[] = [];
    store.events.on('error', (e) => errors.push(e));
    fs.rmSync(path);
    const [line] = await waitLines(logFile, 1);
    expect(line).toMatchObject({ level: 50, code: 'SESSMAP_ERR_FILE_REPLACED', path, status: 'deleted' });
    expect(errors.map((e) => (e as { code?: string }).code)).toEqual(['SESSMAP_ERR_FILE_REPLACED']);
    await store.close();
  });
});
