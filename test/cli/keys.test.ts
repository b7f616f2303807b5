/**
 * `sessmap keys` and `sessmap get` on a file two processes are writing: every key with what
 * inspect() says of it, session and user ids printed as the file's keyed hash (never raw unless
 * --show-ids), --prefix and --limit, a value asked for by its key, exit 1 for none.
 */
import { describe, expect, it } from 'vitest';
import { SharedCache } from '../../src/index.js';
import { sessmap, useCliSuite, withWriters } from './harness.js';

const GEO = { pageCount: 8, pageSize: 65536 } as const;

interface KeyLine {
  key: string;
  page: number;
  size: number;
  ttlMs: number | null;
  expiresAt: number | null;
  priority: string;
  lastUsed: number;
  createdAt: number;
  version: number;
}

function jsonLines(stdout: string): KeyLine[] {
  return stdout.trimEnd().split('\n').filter(Boolean).map((l) => JSON.parse(l) as KeyLine);
}

/** A key as the command prints it without --show-ids. */
function hashed(cache: SharedCache, key: string): string {
  if (key.startsWith('s:')) return `s:#${cache.digest(`sid:${key.slice(2)}`)}`;
  if (key.startsWith('u:')) return `u:#${cache.digest(`uid:${key.slice(2)}`)}`;
  return key;
}

describe('sessmap keys and get', () => {
  const tmp = useCliSuite();

  it('lists every key with its size, TTL, priority and last use, session and user ids hashed', async () => {
    await withWriters(tmp.path(), GEO, 2, async (mine, w, path) => {
      const paused = await w.writeSome(2000);
      const raw = [...mine.keys()];
      expect(raw.some((k) => k.startsWith('s:'))).toBe(true);
      expect(raw.some((k) => k.startsWith('u:'))).toBe(true);

      const r = await sessmap('keys', path, '--json');
      expect(r.code, r.stderr).toBe(0);
      const lines = jsonLines(r.stdout);
      expect(lines.map((l) => l.key).sort()).toEqual(raw.map((k) => hashed(mine, k)).sort());
      for (const id of paused.flatMap((p) => p.ids)) expect(r.stdout, 'a session id in the output').not.toContain(id);
      for (const user of paused.flatMap((p) => p.users)) expect(r.stdout, 'a user id in the output').not.toContain(user);
      expect(r.stdout).not.toContain('"note"'); // values never

      const shown = jsonLines((await sessmap('keys', path, '--json', '--show-ids')).stdout);
      expect(shown.map((l) => l.key).sort()).toEqual([...raw].sort());
      for (const l of shown) {
        const info = mine.inspect(l.key)!;
        expect(l, l.key).toMatchObject({ size: info.size, priority: info.priority, lastUsed: info.lastUsed, createdAt: info.createdAt, version: info.version });
        expect(l.expiresAt).toBe(info.expiresAt === Infinity ? null : info.expiresAt);
        expect(mine.inspectPage(l.page).some(([k]) => k === l.key)).toBe(true);
      }

      const text = await sessmap('keys', path);
      expect(text.code).toBe(0);
      const rows = text.stdout.trimEnd().split('\n');
      expect(rows[0].trim().split(/\s{2,}/)).toEqual(['size', 'ttl', 'priority', 'last use', 'key']);
      expect(rows).toHaveLength(raw.length + 1);
      expect(rows.slice(1).every((row) => /(never|\d+(ms|s|m\d\ds|h\d\dm|d\d\dh)) +(low|normal|high) +\S+ ago {2}\S/.test(row)), rows.slice(1, 4).join('\n')).toBe(true);
    });
  });

  it('takes --prefix and --limit', async () => {
    await withWriters(tmp.path(), GEO, 2, async (mine, w, path) => {
      await w.writeSome(1000);
      const carts = [...mine.keys()].filter((k) => k.startsWith('cart:w1-'));
      expect(carts.length).toBeGreaterThan(5);
      const all = jsonLines((await sessmap('keys', path, '--json', '--prefix', 'cart:w1-')).stdout);
      expect(all.map((l) => l.key).sort()).toEqual(carts.sort());
      const five = jsonLines((await sessmap('keys', path, '--json', '--prefix', 'cart:w1-', '--limit', '5')).stdout);
      expect(five).toHaveLength(5);
      for (const l of five) expect(carts).toContain(l.key);
      const bad = await sessmap('keys', path, '--limit', '0');
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/^sessmap: SESSMAP_ERR_INVALID_OPTION: option --limit must be an integer from 1/);
    });
  });

  it('get prints the value of one key, a user list with its ids hashed unless --show-ids, and exits 1 for none', async () => {
    await withWriters(tmp.path(), GEO, 1, async (mine, w, path) => {
      const [paused] = await w.writeSome(500);
      const id = paused.ids.find((x) => mine.has(`s:${x}`))!;
      const r = await sessmap('get', path, `s:${id}`);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual(mine.get(`s:${id}`));

      const user = paused.users.find((u) => mine.has(`u:${u}`))!;
      const ids = mine.get(`u:${user}`) as string[];
      const hashedList = await sessmap('get', path, `u:${user}`);
      expect(JSON.parse(hashedList.stdout)).toEqual(ids.map((x) => `s:#${mine.digest(`sid:${x}`)}`));
      for (const x of ids) expect(hashedList.stdout).not.toContain(x);
      expect(JSON.parse((await sessmap('get', path, `u:${user}`, '--show-ids')).stdout)).toEqual(ids);

      const none = await sessmap('get', path, 'no-such-key');
      expect(none).toMatchObject({ code: 1, stdout: '' });
      expect(none.stderr).toBe('sessmap: no live entry under that key\n');
      expect((await sessmap('get', path)).stderr).toMatch(/^sessmap: SESSMAP_ERR_USAGE: get needs FILE KEY/);
    });
  });
});
