/**
 * The capacity scenario's data and its rows for the stores other than sessmap: Perl
 * Cache::FastMmap (a perl child fed through temp files of JSON lines), lmdb (bytes on disk) and
 * Redis (`INFO memory` used_memory). Every row stores the same sessions under the same keys;
 * sessmap's own rows are in capacity.ts.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Packr } from 'msgpackr';
import { SEED, SET_RATIO, type Counts } from './lib/config.js';
import { openStore } from './lib/stores.js';
import { makeWarmKeys, makeWorkload, type Session } from './lib/workload.js';
import { benchRedis, findRedisServer, redisMissingMessage } from './http/redis.js';

/** How large the stores are: the file of sessmap and Cache::FastMmap, the count loaded into lmdb and Redis. */
export interface CapacitySizes {
  fileBytes: number;
  pageSize: number;
  /** Sessions loaded into the stores that grow instead of evicting (lmdb, Redis). */
  loaded: number;
}

/** Sessions expire after 30 minutes of idleness, as the session layer's default idleTimeout. */
export const TTL_MS = 30 * 60_000;

/** Bytes of every key: \`s:\` and a 32-character id, as the session backend keys sessions. */
export const KEY_BYTES = 34;

/** One row of the capacity table. */
export interface CapacityOut {
  store: string;
  /** Sessions counted: those stored before the first eviction, or those loaded. */
  sessions: number;
  /** Bytes they took: the file, the bytes on disk, the memory. */
  bytes: number;
  /** What `sessions` and `bytes` are, in words. */
  how: string;
  /** Mean bytes of one encoded value, as the store holds it. */
  valueBytes: number;
  /** Stores that evict: sessions held once every page has evicted at least once (the file is full). */
  held?: number;
  note?: string;
  /** sessmap: where the bytes of a session go, bytes per session (they add up to bytes / sessions). */
  parts?: [string, number][];
}
export type CapacityResult = CapacityOut | { skipped: string };

/** The workload's sessions (the values, cycled) and enough distinct `s:` keys to overfill the file. */
export function capacityData(sizes: CapacitySizes, counts: Counts): { keys: string[]; values: Session[] } {
  const { sessions } = makeWorkload(SEED, { entries: counts.entries, ops: 0, setRatio: SET_RATIO });
  // One key per 160 bytes of file: over twice what the densest row stores.
  const n = Math.max(sizes.loaded, Math.ceil(sizes.fileBytes / 160));
  const keys = makeWarmKeys(SEED ^ 0x0ca9ac17, n).map((k) => `s:${k}`);
  return { keys, values: sessions };
}

function mean(values: readonly unknown[], size: (v: unknown) => number): number {
  let sum = 0;
  for (const v of values) sum += size(v);
  return sum / values.length;
}

// ------------------------------------------------------------------------- Cache::FastMmap

/**
 * Fills a Cache::FastMmap share file with the sessions until its first eviction, then on until
 * every page has evicted. write_back mode with a write_cb is how it says it evicted: it calls the
 * callback for every changed item it expunges (a page at a time, down to 60% full).
 */
const FASTMMAP_FILL = String.raw`
use strict; use warnings;
use Cache::FastMmap;
my ($values, $keys, $share, $ser, $psize, $npages, $slots) = @ARGV;
my $js = eval { require JSON::XS; JSON::XS->new->utf8 } || do { require JSON::PP; JSON::PP->new->utf8 };
sub plain { my $v = shift; my $r = ref $v;
  return { map { ($_ => plain($v->{$_})) } keys %$v } if $r eq 'HASH';
  return [ map { plain($_) } @$v ] if $r eq 'ARRAY';
  return $v ? 1 : 0 if $r; return $v; }
open(my $vf, '<', $values) or die "$values: $!";
my @vals = map { chomp; $ser eq 'storable' ? plain($js->decode($_)) : $js->decode($_) } <$vf>;
open(my $kf, '<', $keys) or die "$keys: $!";
my @keys = map { chomp; $_ } <$kf>;
my ($first, $i, $c, %evicted) = (-1, 0);
$c = Cache::FastMmap->new(share_file => $share, init_file => 1, page_size => $psize, num_pages => $npages,
  start_slots => $slots, expire_time => '30m', write_action => 'write_back',
  write_cb => sub { $first = $i if $first < 0; $evicted{ (Cache::FastMmap::fc_hash($c->{Cache}, $_[1]))[0] } = 1 },
  serializer => $ser eq 'json' ? [ sub { my $r = shift; $js->encode($$r) }, sub { \ $js->decode($_[0]) } ] : 'storable');
my $vb = 0; $vb += length($c->{serialize}->(\$_)) for @vals;
for ($i = 0; $i < @keys; $i++) { $c->set($keys[$i], $vals[$i % @vals]); last if $first >= 0; }
die "no eviction after " . scalar(@keys) . " sets\n" if $first < 0;
for ($i++; keys(%evicted) < $npages; $i++) {
  die "pages without an eviction after " . scalar(@keys) . " sets\n" if $i >= @keys;
  $c->set($keys[$i], $vals[$i % @vals]);
}
my @held = $c->get_keys(0);
print $js->encode({ first => $first, held => scalar(@held), sets => $i, fileBytes => -s $share, valueBytes => $vb / @vals,
  version => $Cache::FastMmap::VERSION, json => ref($js), pageSize => $c->{page_size}, numPages => $c->{num_pages} }), "\n";
`;

interface FastMmapArgs {
  dir: string;
  serializer: 'storable' | 'json';
  startSlots: number;
  sizes: CapacitySizes;
  counts: Counts;
}

/** Child task: one Cache::FastMmap row, or why it was skipped (no perl, no Cache::FastMmap). */
export function fastmmapTask(a: FastMmapArgs): CapacityResult {
  const probe = spawnSync('perl', ['-MCache::FastMmap', '-e', 'print $Cache::FastMmap::VERSION'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    const why = probe.error ? `perl not found (${probe.error.message})` : 'perl has no Cache::FastMmap';
    return { skipped: `${why}; Debian/Ubuntu: apt-get install libcache-fastmmap-perl libjson-xs-perl` };
  }
  const valuesFile = join(a.dir, 'capacity-values.jsonl');
  const keysFile = join(a.dir, 'capacity-keys.txt');
  if (!existsSync(keysFile)) {
    const { keys, values } = capacityData(a.sizes, a.counts);
    writeFileSync(valuesFile, `${values.map((v) => JSON.stringify(v)).join('\n')}\n`);
    writeFileSync(keysFile, `${keys.join('\n')}\n`);
  }
  const numPages = Math.floor(a.sizes.fileBytes / a.sizes.pageSize);
  const share = join(a.dir, `fastmmap-${a.serializer}-${String(a.startSlots)}.share`);
  const args = [valuesFile, keysFile, share, a.serializer, String(a.sizes.pageSize), String(numPages), String(a.startSlots)];
  const r = spawnSync('perl', ['-e', FASTMMAP_FILL, ...args], { encoding: 'utf8', timeout: 150_000, maxBuffer: 1 << 20 });
  if (r.error || r.status !== 0) throw new Error(`perl: ${r.error?.message ?? r.stderr.trim()}`);
  const o = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as {
    first: number; held: number; sets: number; fileBytes: number; valueBytes: number; version: string; json: string; pageSize: number; numPages: number;
  };
  const label = a.serializer === 'json' ? `JSON (${o.json})` : 'Storable';
  return {
    store: `Cache::FastMmap ${o.version}, ${label}, start_slots ${String(a.startSlots)}${a.startSlots === 89 ? ' (its default)' : ''}`,
    sessions: o.first,
    bytes: o.fileBytes,
    how: `share file (${String(o.numPages)} pages of ${String(o.pageSize / 1024)} KiB), sessions stored before the first eviction`,
    valueBytes: o.valueBytes,
    held: o.held,
    note: a.serializer === 'storable' ? 'booleans as 1/0 (JSON::PP::Boolean objects would add their class name to every value)' : undefined,
  };
}

// ------------------------------------------------------------------------- lmdb

/** Child task: `loaded` sessions into a fresh lmdb environment with putSync; the size of data.mdb. */
export async function lmdbTask(a: { kind: 'lmdb' | 'lmdb-structs'; path: string; sizes: CapacitySizes; counts: Counts }): Promise<CapacityOut> {
  const { keys, values } = capacityData(a.sizes, a.counts);
  const store = await openStore<Session>({ kind: a.kind, mode: 'json', path: a.path, how: 'create' });
  const n = a.sizes.loaded;
  for (let i = 0; i < n; i++) store.set(keys[i], values[i % values.length]);
  store.close();
  const bytes = statSync(join(a.path, 'data.mdb')).size;
  // The values as lmdb-js encodes them (msgpackr records; shared structures with sharedStructuresKey).
  const packr = a.kind === 'lmdb-structs' ? new Packr({ structures: [] }) : new Packr();
  return {
    store: a.kind === 'lmdb' ? 'lmdb (defaults: msgpackr records in each entry)' : 'lmdb-structs (sharedStructuresKey)',
    sessions: n,
    bytes,
    how: `data.mdb after ${n.toLocaleString('en-US')} putSync (B-tree of 4 KiB pages; no TTL, no eviction)`,
    valueBytes: mean(values, (v) => packr.pack(v).length),
  };
}

// ------------------------------------------------------------------------- Redis

/** Child task: `loaded` SETs with EX on a throwaway redis-server; used_memory after less before. */
export async function redisTask(a: { sizes: CapacitySizes; counts: Counts }): Promise<CapacityResult> {
  if (findRedisServer() === undefined) return { skipped: redisMissingMessage() };
  const { keys, values } = capacityData(a.sizes, a.counts);
  const json = values.map((v) => JSON.stringify(v));
  const { createClient } = await import('redis');
  const redis = await benchRedis('capacity');
  const client = createClient({ url: redis.server.url });
  try {
    await client.connect();
    await client.flushAll();
    const usedMemory = async (): Promise<number> => Number(/used_memory:(\d+)/.exec(await client.info('memory'))?.[1]);
    const before = await usedMemory();
    const n = a.sizes.loaded;
    for (let i = 0; i < n; i += 1000) {
      const batch = client.multi();
      for (let j = i; j < Math.min(n, i + 1000); j++) batch.set(keys[j], json[j % json.length], { EX: TTL_MS / 1000 });
      await batch.execAsPipeline();
    }
    const bytes = (await usedMemory()) - before;
    const stored = await client.dbSize();
    return {
      store: `Redis ${redis.server.version}`,
      sessions: n,
      bytes,
      how: `INFO memory used_memory after ${n.toLocaleString('en-US')} SET ... EX less before (keys with a TTL: main and expires dicts)`,
      valueBytes: mean(json, (s) => Buffer.byteLength(s as string)),
      note: stored === n ? undefined : `DBSIZE ${String(stored)}, expected ${String(n)}`,
    };
  } finally {
    await client.quit().catch(() => undefined);
    await redis.done();
  }
}
