import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { expandIncludes, SCRIPT_NAMES, scriptSource } from '../../src/backend/redis/load-scripts.js';
import {
  decodeEntry,
  decodeRecord,
  ENTRY,
  RECORD,
  RECORD_LAYOUT_LUA,
  type StructLayout,
  structLayout,
  writeField,
} from '../../src/backend/redis/redis-layout.js';

const LUA_DIR = new URL('../../src/backend/redis/lua/', import.meta.url);
const INCLUDE = '--@include "includes/record-layout"';

/** Sizes of Redis's Lua struct codes, written out here independently of redis-layout.ts. */
function bytesOf(code: string): number {
  const fixed: Record<string, number> = { i4: 4, d: 8, f: 4, B: 1 };
  if (code in fixed) return fixed[code]!;
  const m = /^c(\d+)$/.exec(code);
  if (!m) throw new Error(`unexpected code ${code}`);
  return Number(m[1]);
}

/** The Lua assignment `local <name> = '<format>'` in `text`. */
function luaFormat(text: string, name: string): string | undefined {
  return new RegExp(`^local ${name} = '([^']*)'$`, 'm').exec(text)?.[1];
}

describe('the Redis record layout, one definition', () => {
  it.each([
    ['RECORD', RECORD],
    ['ENTRY', ENTRY],
  ] as [string, StructLayout][])('%s: sizes, offsets and format follow from the field codes', (_, layout) => {
    let offset = 0;
    for (const f of layout.fields) {
      expect(f.size, f.name).toBe(bytesOf(f.code));
      expect(f.offset, f.name).toBe(offset);
      expect(layout.byName[f.name]).toBe(f);
      offset += f.size;
    }
    expect(layout.size).toBe(offset);
    expect(layout.format).toBe('<' + layout.fields.map((f) => f.code).join(''));
  });

  it('gives the Lua include the format strings computed from the table', () => {
    expect(luaFormat(RECORD_LAYOUT_LUA, 'REC')).toBe(RECORD.format);
    expect(luaFormat(RECORD_LAYOUT_LUA, 'ENTRY')).toBe(ENTRY.format);
    // The include as a script receives it.
    const expanded = expandIncludes(`${INCLUDE}\nreturn 1`, 'test.lua');
    expect(luaFormat(expanded, 'REC')).toBe(RECORD.format);
    expect(luaFormat(expanded, 'ENTRY')).toBe(ENTRY.format);
  });

  it('every ENTRY field is the RECORD field of the same name (the scripts copy one into the other)', () => {
    for (const f of ENTRY.fields) expect(RECORD.byName[f.name].code, f.name).toBe(f.code);
  });

  it('decodes what writeField wrote, at every offset', () => {
    const rec = Buffer.alloc(RECORD.size);
    const values = {
      latE7: -337_654_321, lngE7: 1_512_345_678, ts: 1_750_000_000_123, seq: 42, acc: 4.5, spd: -1, hdg: 270.25,
      status: 2, vehicle: 1, indexed: 1, cell: '891f1d48863ffff',
    };
    for (const f of RECORD.fields) writeField(rec, f, values[f.name]);
    expect(decodeRecord('d1', rec)).toMatchObject({
      driverId: 'd1', lat: -33.7654321, lng: 151.2345678, ts: 1_750_000_000_123, seq: 42, acc: 4.5, spd: undefined,
      hdg: 270.25, status: 'busy', indexed: true, cell: '891f1d48863ffff',
    });
    const entry = Buffer.alloc(ENTRY.size);
    for (const f of ENTRY.fields) writeField(entry, f, values[f.name]);
    expect(decodeEntry('d1', entry)).toMatchObject({ driverId: 'd1', lat: -33.7654321, lng: 151.2345678, ts: 1_750_000_000_123, status: 'busy' });
  });

  it('refuses a struct code it cannot size', () => {
    expect(() => structLayout([['x', 'q8' as 'd']])).toThrow(/Unsupported struct code "q8"/);
  });
});

describe('the Lua scripts', () => {
  const files = readdirSync(LUA_DIR).filter((f) => f.endsWith('.lua'));

  it('are all registered with the loader, and every registered one exists', () => {
    expect(files.map((f) => f.slice(0, -'.lua'.length)).sort()).toEqual([...SCRIPT_NAMES].sort());
  });

  it.each(SCRIPT_NAMES)('%s opens with a header listing KEYS, ARGV and what it returns', (name) => {
    const header = /^--\[\[([\s\S]*?)\]\]/.exec(readFileSync(new URL(`${name}.lua`, LUA_DIR), 'utf8'))?.[1];
    expect(header, `${name}.lua has no --[[ ]] header`).toBeDefined();
    expect(header).toMatch(/KEYS/);
    expect(header).toMatch(/ARGV/);
    expect(header).toMatch(/Returns:/);
  });

  it.each(SCRIPT_NAMES)('%s takes REC and ENTRY from the include only', (name) => {
    const file = readFileSync(new URL(`${name}.lua`, LUA_DIR), 'utf8');
    expect(file).not.toMatch(/^local (REC|ENTRY)\b/m);
    expect(file).not.toMatch(/'<[^']*'/); // no struct format literal of its own
    const source = scriptSource(name);
    if (/\b(REC|ENTRY)\b/.test(file.replace(/^--\[\[[\s\S]*?\]\]/, ''))) {
      expect(file).toContain(INCLUDE);
      expect(luaFormat(source, 'REC')).toBe(RECORD.format);
      expect(source.match(/^local REC = /gm)).toHaveLength(1);
    }
    expect(source).not.toMatch(/^-{2,3} ?@include/m);
  });
});

describe('include expansion', () => {
  const files: Record<string, string> = {
    'includes/a': 'local A = 1\n--@include "includes/b"',
    'includes/b': 'local B = 2',
    'includes/loop': '--@include "includes/loop2"',
    'includes/loop2': '--- @include "includes/loop.lua"',
  };
  const read = (name: string): string => {
    const text = files[name];
    if (text === undefined) throw new Error(`no ${name}`);
    return text;
  };

  it('expands nested includes in place, each once per script', () => {
    expect(expandIncludes('--@include "includes/a"\n--@include "includes/b"  -- B too\nreturn A + B', 's.lua', read))
      .toBe('local A = 1\nlocal B = 2\n\nreturn A + B');
  });

  it('fails loudly, naming the file, for a missing include', () => {
    expect(() => expandIncludes('--@include "includes/nope"\nreturn 1', 'sweep.lua')).toThrow(
      /Lua include "includes\/nope" in sweep\.lua not found: .*lua\/includes\/nope\.lua/,
    );
  });

  it('fails on a malformed include line and on a cycle', () => {
    expect(() => expandIncludes('--@include includes/b\n', 's.lua', read)).toThrow(/Malformed include in s\.lua/);
    expect(() => expandIncludes('--@include "includes/loop"\n', 's.lua', read)).toThrow(/cycle: includes\/loop → includes\/loop2 → includes\/loop/);
  });
});
