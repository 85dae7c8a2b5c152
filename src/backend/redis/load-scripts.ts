import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Cluster, Redis } from 'ioredis';
import { RECORD_LAYOUT_LUA } from './redis-layout.js';

/**
 * Every script in ./lua, by file name: the ioredis command it becomes and
 * how many of its arguments are keys (none given: the caller passes the
 * count as the first argument, for scripts taking a variable number of keys).
 */
const SCRIPTS = {
  applyPings: { command: 'hexfleetApplyPings', numberOfKeys: 0 },
  nearby: { command: 'hexfleetNearby', numberOfKeys: 0 },
  sweep: { command: 'hexfleetSweep', numberOfKeys: 0 },
  repairIndex: { command: 'hexfleetRepairIndex', numberOfKeys: 0 },
  repairCells: { command: 'hexfleetRepairCells' },
  commitOrder: { command: 'hexfleetCommitOrder', numberOfKeys: 0 },
  createOrder: { command: 'hexfleetCreateOrder', numberOfKeys: 0 },
  restoreOrder: { command: 'hexfleetRestoreOrder', numberOfKeys: 0 },
  releaseReservation: { command: 'hexfleetReleaseReservation', numberOfKeys: 1 },
  // The Cluster engine's own steps (see src/backend/redis/cluster/cluster-layout.ts).
  reserveDriver: { command: 'hexfleetReserveDriver', numberOfKeys: 2 },
  holdReservation: { command: 'hexfleetHoldReservation', numberOfKeys: 1 },
  restoreReservation: { command: 'hexfleetRestoreReservation', numberOfKeys: 1 },
  raiseFence: { command: 'hexfleetRaiseFence', numberOfKeys: 1 },
  setHome: { command: 'hexfleetSetHome', numberOfKeys: 1 },
  leaveArea: { command: 'hexfleetLeaveArea', numberOfKeys: 1 },
  // Regions (src/backend/redis/redis-ownership-store.ts): the drivers' home regions and epochs.
  applyOwnership: { command: 'hexfleetApplyOwnership', numberOfKeys: 1 },
} satisfies Record<string, { command: string; numberOfKeys?: number }>;

export type ScriptName = keyof typeof SCRIPTS;

/** Every script name, for tests that check each script file. */
export const SCRIPT_NAMES = Object.keys(SCRIPTS) as ScriptName[];

/**
 * Includes made from TypeScript rather than read from a file: the struct
 * formats come from the one layout table, so no script can disagree with
 * decodeRecord/decodeEntry.
 */
const GENERATED_INCLUDES: ReadonlyMap<string, string> = new Map([['includes/record-layout', RECORD_LAYOUT_LUA]]);

/**
 * A line `--@include "name"` (BullMQ's `--- @include "name"` too), maybe
 * followed by a `-- comment`; `name` is relative to ./lua, `.lua` optional.
 */
const INCLUDE_LINE = /^-{2,3} ?@include\b.*$/gm;
const INCLUDE_NAME = /^-{2,3} ?@include\s+"([^"]+)"\s*(?:--.*)?$/;

function luaFile(name: string): URL {
  return new URL(`./lua/${name}.lua`, import.meta.url);
}

/** An include's text: generated, else the file ./lua/<name>.lua. Throws naming the include when neither exists. */
function readInclude(name: string, from: string): string {
  const generated = GENERATED_INCLUDES.get(name);
  if (generated !== undefined) return generated;
  const file = luaFile(name);
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : String(err);
    throw new Error(`Lua include "${name}" in ${from} not found: ${fileURLToPath(file)} (${reason})`);
  }
}

/**
 * Replaces every include line of `source` by the text of that include, itself
 * expanded. An include is expanded once per script (a second line naming it
 * becomes empty); a malformed include line, a missing include or a cycle
 * throws naming the file. Expansion happens once, at load, in Node: Redis
 * only ever sees whole scripts.
 */
export function expandIncludes(
  source: string,
  from: string,
  read: (name: string, from: string) => string = readInclude,
): string {
  const done = new Set<string>();
  const expand = (text: string, file: string, chain: string[]): string =>
    text.replace(INCLUDE_LINE, (line) => {
      const match = INCLUDE_NAME.exec(line);
      if (!match) throw new Error(`Malformed include in ${file}: ${line.trim()} (write --@include "includes/name")`);
      const name = match[1]!.replace(/\.lua$/, '');
      if (chain.includes(name)) throw new Error(`Lua include cycle: ${[...chain, name].join(' → ')} (from ${from})`);
      if (done.has(name)) return '';
      done.add(name);
      return expand(read(name, file), `${name}.lua`, [...chain, name]);
    });
  return expand(source, from, []);
}

const sources = new Map<ScriptName, string>();

/** The text Redis runs for `name`: ./lua/<name>.lua with its includes expanded (read once per process). */
export function scriptSource(name: ScriptName): string {
  let source = sources.get(name);
  if (source === undefined) {
    source = expandIncludes(readFileSync(luaFile(name), 'utf8'), `${name}.lua`);
    sources.set(name, source);
  }
  return source;
}

/**
 * Registers scripts of ./lua on a connection as ioredis commands (e.g.
 * `applyPings` as `redis.hexfleetApplyPings(...)`), for every store that has
 * scripts. ioredis runs a command with EVALSHA and re-sends the source with
 * EVAL on NOSCRIPT, so a restarted or flushed Redis (which forgot its
 * scripts) heals itself on the next call.
 *
 * Versions: STYLE.md asks that scripts be registered under a name carrying
 * the package version, so two versions sharing one Redis during a rolling
 * deploy never call each other's scripts. Here the command name lives only
 * in this process; Redis knows a script by the SHA1 of its expanded text,
 * includes and all. Two versions whose script text differs in any byte
 * (including a layout change that alters only the include) run different
 * scripts, and two versions with identical text run the same code. So SHA1
 * addressing already gives that guarantee, and the name carries no version.
 *
 * Reads the files synchronously, once per process; call it when the
 * connection is created. `routed` (Redis Cluster): scripts declared with no
 * keys take one, their prefix, so the call reaches the shard of its hash tag.
 */
export function loadScripts(redis: Redis | Cluster, names: readonly ScriptName[], o: { routed?: boolean } = {}): void {
  for (const name of names) {
    const spec: { command: string; numberOfKeys?: number } = SCRIPTS[name];
    const lua = scriptSource(name);
    // On a cluster a call must name a key for ioredis to route it: a script that
    // derives its keys from a prefix gets that prefix as KEYS[1] (same hash tag).
    const keys = o.routed && spec.numberOfKeys === 0 ? 1 : spec.numberOfKeys;
    redis.defineCommand(spec.command, keys === undefined ? { lua } : { numberOfKeys: keys, lua });
  }
}
