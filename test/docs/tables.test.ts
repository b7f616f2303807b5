import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/paths.js';
import { calledNamesIn, declarationBody, members, namesIn, payloadFields, publicMembers, tableAfter } from './tables.js';

const SRC = join(REPO_ROOT, 'src');
const README = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
const EVENTS_DOC = readFileSync(join(REPO_ROOT, 'docs', 'events.md'), 'utf8');

/** The fields of an interface, those of the interfaces it extends included. */
const fieldsOf = (name: string): string[] => payloadFields(SRC, name).sort();
const optionsIn = (heading: string): string[] => [...new Set(tableAfter(README, heading).flatMap((r) => namesIn(r[0])))].sort();

/** Each event of SessionEvents with its payload's fields, the ones every event has left out. */
function eventFields(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [name, type] of members(declarationBody(SRC, 'SessionEvents'))) {
    const payload = type.replace(/^\[\s*/, '').replace(/\s*\]$/, '');
    out.set(name, payload === 'Error' ? [] : payloadFields(SRC, payload).filter((f) => !['at', 'pid', 'id', 'uid'].includes(f)));
  }
  return out;
}

/** A table's rows keyed by each event its first cell names, with the row's other cells. */
function eventRows(markdown: string, heading: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const row of tableAfter(markdown, heading)) for (const n of namesIn(row[0])) out.set(n, row.slice(1).join(' | '));
  return out;
}

describe('the README option tables', () => {
  it('list every option of SessionServiceOptions under "Options of setupPrimary", and no other', () => {
    expect(optionsIn('Options of `setupPrimary`')).toEqual(fieldsOf('SessionServiceOptions'));
  });

  it('list every option of CreateOptions under "Options of create", and no other', () => {
    expect(optionsIn('Options of `create`')).toEqual(fieldsOf('CreateOptions'));
  });

  it('name every option of OpenOptions, and no other, as what open takes', () => {
    const sentence = /`open` takes the per-handle subset: ([^.]*)\./.exec(README);
    expect(sentence, 'the "`open` takes the per-handle subset: ..." sentence').not.toBeNull();
    expect(namesIn(sentence![1]).sort()).toEqual(fieldsOf('OpenOptions'));
  });
});

describe('the README methods table', () => {
  it('names every public method and property of SharedCache', () => {
    const documented = new Set(tableAfter(README, 'Methods').flatMap((r) => calledNamesIn(r[0])));
    for (const f of ['create', 'open']) if (README.includes(`SharedCache.${f}(path`)) documented.add(f);
    expect(publicMembers(SRC, 'SharedCache').filter((m) => !documented.has(m)), 'members of SharedCache missing from the README').toEqual([]);
  });
});

describe('the event tables of README.md and docs/events.md', () => {
  for (const [doc, markdown, heading] of [
    ['README.md', README, 'Events'],
    ['docs/events.md', EVENTS_DOC, 'The stream'],
  ] as const) {
    it(`${doc} has a row for every event of SessionEvents naming each field of its payload`, () => {
      const rows = eventRows(markdown, heading);
      const events = eventFields();
      expect([...rows.keys()].sort(), `${doc}: events in the table`).toEqual([...events.keys()].sort());
      for (const [name, fields] of events) {
        const text = rows.get(name) ?? '';
        const named = new Set(namesIn(text));
        expect(fields.filter((f) => !named.has(f)), `${doc}: fields of "${name}" missing from its row: ${text}`).toEqual([]);
      }
    });
  }
});
