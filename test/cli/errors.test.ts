/**
 * How the sessmap command fails: a registry code and a one-line message on stderr, exit 2,
 * nothing on stdout: a file that is not there (for every command), a symbolic link, a command or
 * an option it does not have, a missing argument, a value out of range, a resize to no pages. And
 * --help.
 */
import { describe, expect, it } from 'vitest';
import { symlinkSync } from 'node:fs';
import { ERROR_CODES, SharedCache } from '../../src/index.js';
import { useTmpDir } from '../helpers/tmp.js';
import { sessmap } from './harness.js';

/** The one line a failure prints, and its code, which must be the registry's. */
function failure(stderr: string): string {
  const lines = stderr.split('\n');
  expect(lines, stderr).toHaveLength(2);
  expect(lines[1]).toBe('');
  const m = /^sessmap: (SESSMAP_ERR_[A-Z_]+): \S/.exec(lines[0]);
  expect(m, lines[0]).not.toBeNull();
  expect(Object.keys(ERROR_CODES)).toContain(m![1]);
  return m![1];
}

describe('sessmap failing', () => {
  const tmp = useTmpDir();

  it('gives SESSMAP_ERR_FILE_NOT_FOUND, exit 2 and nothing on stdout for a file that is not there, whatever the command', async () => {
    const missing = tmp.path('nowhere/none.smap');
    const runs = [['stats', missing], ['stats', missing, '--json'], ['keys', missing], ['get', missing, 'k'], ['sizes', missing], ['verify', missing], ['purge', missing], ['clear', missing, '--yes']];
    for (const args of runs) {
      const r = await sessmap(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stdout, args.join(' ')).toBe('');
      expect(failure(r.stderr), args.join(' ')).toBe('SESSMAP_ERR_FILE_NOT_FOUND');
      expect(r.stderr).toContain(missing);
    }
  });

  it('never follows a symbolic link', async () => {
    const path = tmp.path();
    SharedCache.create(path, { pageCount: 2, pageSize: 8192 }).close();
    const link = tmp.path('link.smap');
    symlinkSync(path, link);
    const r = await sessmap('stats', link);
    expect(r.code).toBe(2);
    expect(failure(r.stderr)).toBe('SESSMAP_ERR_FILE_SYMLINK');
  });

  it('refuses command lines it cannot run with SESSMAP_ERR_USAGE or SESSMAP_ERR_INVALID_OPTION', async () => {
    const path = tmp.path();
    SharedCache.create(path, { pageCount: 2, pageSize: 8192 }).close();
    const cases: Array<[string[], string, RegExp]> = [
      [['frobnicate', path], 'SESSMAP_ERR_USAGE', /unknown command "frobnicate"/],
      [['stats'], 'SESSMAP_ERR_USAGE', /stats needs FILE/],
      [['stats', path, 'extra'], 'SESSMAP_ERR_USAGE', /got also "extra"/],
      [['keys', path, '--no-such-option'], 'SESSMAP_ERR_USAGE', /Unknown option '--no-such-option'/],
      [['keys', path, '--limit=-3'], 'SESSMAP_ERR_INVALID_OPTION', /--limit must be an integer/],
      [['stats', path, '--watch', '--interval', 'soon'], 'SESSMAP_ERR_INVALID_OPTION', /--interval must be an integer from 10/],
      [['resize', path], 'SESSMAP_ERR_USAGE', /--size S is required/],
      [['resize', path, '--size', '2m', '--grace', 'soon'], 'SESSMAP_ERR_USAGE', /--grace takes whole milliseconds/],
      [['resize', path, '--size', '1k'], 'SESSMAP_ERR_INVALID_OPTION', /holds 0 pages/],
      [['get', path, ''], 'SESSMAP_ERR_INVALID_KEY', /./],
    ];
    for (const [args, code, message] of cases) {
      const r = await sessmap(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stdout, args.join(' ')).toBe('');
      expect(failure(r.stderr), args.join(' ')).toBe(code);
      expect(r.stderr, args.join(' ')).toMatch(message);
    }
  });

  it('prints its help with --help (exit 0), and on stderr without a command (exit 2)', async () => {
    const help = await sessmap('--help');
    expect(help).toMatchObject({ code: 0, stderr: '' });
    for (const command of ['stats', 'keys', 'get', 'sizes', 'verify', 'purge', 'clear', 'resize']) expect(help.stdout).toMatch(new RegExp(`^  ${command} FILE`, 'm'));
    expect((await sessmap('verify', '--help')).stdout).toBe(help.stdout);
    const bare = await sessmap();
    expect(bare).toMatchObject({ code: 2, stdout: '', stderr: help.stdout });
  });
});
