import { parseArgs } from 'node:util';

/**
 * The one option parser of `node dist/bench/run.js <suite> [flags]`: the
 * flags every suite shares (each suite says which of them it takes and with
 * which defaults) and the flags a suite declares for itself. Unknown flags
 * and bad values are usage errors that name the flag.
 */

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The parameters every suite's options carry; the report prints them next to the figures. */
export interface RunOptions {
  /** A smoke run: smaller, shorter, results in <suite>-quick.md. */
  quick: boolean;
  /** Keep the temp dir (Redis data, gateway logs) instead of removing it. */
  keepLogs: boolean;
  /** Before each measured window, wait up to this long for other processes to leave the CPU alone (0: don't). */
  waitQuietS: number;
  /** The scenarios to run, in the order the suite measures them (all of them unless --scenario names some). */
  scenarios: string[];
  warmupS: number;
  durationS: number;
}

/** A duration flag a suite takes: its defaults (full run, --quick) and what it times. */
export interface SecondsFlag {
  full: number;
  quick: number;
  help: string;
}

/** The flags of one suite. --quick and --help are every suite's. */
export interface FlagSet {
  /** What --quick does in this suite. */
  quick: string;
  /** --scenario=LIST: the suite's scenarios in the order a run measures them, each [name, help]. None: no --scenario. */
  scenarios?: readonly (readonly [name: string, help: string])[];
  warmup?: SecondsFlag;
  duration?: SecondsFlag;
  /** --wait-quiet=SECONDS: where the suite waits (its help text). */
  waitQuiet?: string;
  /** --keep-logs: what the temp dir holds. */
  keepLogs?: string;
  /** `--name=ARG` flags of the suite's own, validated by the suite. */
  own?: readonly { name: string; arg: string; help: string }[];
}

/** The values of a suite's own flags as given (undefined: not given). */
export type OwnValues = Readonly<Record<string, string | undefined>>;

/** Shared flags that an environment variable can also set (the flag wins), for scripted runs. */
const ENV_OF = { quick: 'BENCH_QUICK', scenario: 'BENCH_SCENARIO', warmup: 'BENCH_WARMUP_S', duration: 'BENCH_DURATION_S' } as const;

/** The longest window or wait a flag accepts: an hour. */
const MAX_SECONDS = 3600;

/** A number in (0, max]; `def` when not given. `name` is the flag (or variable) the message names. */
export function positive(name: string, raw: string | undefined, def: number, max: number): number {
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0 || n > max) throw new UsageError(`${name} must be a number in (0, ${max}], got "${raw}"`);
  return n;
}

/** A number in [0, max]; `def` when not given. */
export function nonNegative(name: string, raw: string | undefined, def: number, max: number): number {
  if (raw === undefined) return def;
  const n = Number(raw);
  if (raw === '' || !Number.isFinite(n) || n < 0 || n > max) throw new UsageError(`${name} must be a number in [0, ${max}], got "${raw}"`);
  return n;
}

/**
 * Parses a suite's flags (and the BENCH_* variables of the shared ones it
 * takes). `help: true` means print the usage and stop.
 */
export function parseRunOptions(flags: FlagSet, argv: string[], env: NodeJS.ProcessEnv): { common: RunOptions; own: OwnValues; help: boolean } {
  const spec: Record<string, { type: 'string' | 'boolean' }> = { quick: { type: 'boolean' }, help: { type: 'boolean' } };
  if (flags.scenarios) spec.scenario = { type: 'string' };
  if (flags.warmup) spec.warmup = { type: 'string' };
  if (flags.duration) spec.duration = { type: 'string' };
  if (flags.waitQuiet) spec['wait-quiet'] = { type: 'string' };
  if (flags.keepLogs) spec['keep-logs'] = { type: 'boolean' };
  for (const f of flags.own ?? []) spec[f.name] = { type: 'string' };
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: argv, strict: true, allowPositionals: false, options: spec }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const str = (k: string): string | undefined => values[k] as string | undefined;
  // A flag wins over its variable; the message names whichever was used.
  const pick = (flag: keyof typeof ENV_OF): [string, string | undefined] =>
    str(flag) !== undefined ? [`--${flag}`, str(flag)] : [ENV_OF[flag], env[ENV_OF[flag]]];

  const quick = (values.quick as boolean | undefined) ?? /^(1|true|yes)$/i.test(env.BENCH_QUICK ?? '');
  const seconds = (flag: 'warmup' | 'duration', d: SecondsFlag | undefined): number =>
    d ? positive(...pick(flag), quick ? d.quick : d.full, MAX_SECONDS) : 0;
  const common: RunOptions = {
    quick,
    keepLogs: (values['keep-logs'] as boolean | undefined) ?? false,
    waitQuietS: flags.waitQuiet ? positive('--wait-quiet', str('wait-quiet'), 0, MAX_SECONDS) : 0,
    scenarios: flags.scenarios ? scenarioList(flags.scenarios.map(([name]) => name), ...pick('scenario')) : [],
    warmupS: seconds('warmup', flags.warmup),
    durationS: seconds('duration', flags.duration),
  };
  const own: Record<string, string | undefined> = {};
  for (const f of flags.own ?? []) own[f.name] = str(f.name);
  return { common, own, help: (values.help as boolean | undefined) ?? false };
}

/** The named scenarios (any case), in the suite's own order; all of them when none is named. */
function scenarioList(names: string[], source: string, raw: string | undefined): string[] {
  if (raw === undefined || raw.trim() === '') return names;
  const asked = raw.split(',').map((s) => s.trim());
  for (const a of asked) {
    if (!names.some((n) => n.toLowerCase() === a.toLowerCase())) {
      throw new UsageError(`${source} must name scenarios among ${names.join(', ')} (comma-separated), got "${a}"`);
    }
  }
  return names.filter((n) => asked.some((a) => a.toLowerCase() === n.toLowerCase()));
}

/** Width of the flag column in usage texts. */
const FLAG_COL = 21;

/** One flag line (or a few), its help wrapped under the help column. */
function flagLine(flag: string, help: string): string {
  const lines = wrapLines(help, 80 - FLAG_COL - 2);
  const head = flag.length < FLAG_COL ? [`  ${flag.padEnd(FLAG_COL)}${lines.shift() ?? ''}`] : [`  ${flag}`];
  return [...head, ...lines.map((l) => ' '.repeat(FLAG_COL + 2) + l)].join('\n');
}

/** `--help` of one suite: its command line, summary, every flag it takes with its defaults, and the environment it reads. */
export function suiteUsage(name: string, summary: string, flags: FlagSet, environment: string | undefined): string {
  const out = [`npm run bench:${name} [-- flags]   (node dist/bench/run.js ${name} [flags])`, '', wrap(summary), '', flagLine('--quick', flags.quick)];
  if (flags.scenarios) {
    const width = Math.max(...flags.scenarios.map(([n]) => n.length));
    out.push(flagLine('--scenario=LIST', 'run only these (comma-separated; default all):'));
    for (const [n, h] of flags.scenarios) out.push(`${' '.repeat(FLAG_COL + 2)}${n.padEnd(width)}  ${h}`);
  }
  const seconds = (flag: string, d: SecondsFlag): string => flagLine(flag, `${d.help} (default ${d.full}; ${d.quick} with --quick)`);
  if (flags.warmup) out.push(seconds('--warmup=SECONDS', flags.warmup));
  if (flags.duration) out.push(seconds('--duration=SECONDS', flags.duration));
  if (flags.waitQuiet) out.push(flagLine('--wait-quiet=SECONDS', flags.waitQuiet));
  if (flags.keepLogs) out.push(flagLine('--keep-logs', flags.keepLogs));
  for (const f of flags.own ?? []) out.push(flagLine(`--${f.name}=${f.arg}`, f.help));
  out.push(flagLine('--help', 'this text'));
  const vars = (Object.keys(ENV_OF) as (keyof typeof ENV_OF)[])
    .filter((k) => k === 'quick' || (k === 'scenario' ? flags.scenarios : flags[k]))
    .map((k) => `${ENV_OF[k]}${k === 'quick' ? '=1' : ''} for --${k}`);
  out.push('', wrap(`Environment: ${vars.join(', ')} (a flag wins over its variable).${environment ? ' ' + environment : ''}`));
  return out.join('\n');
}

/** Plain text wrapped at `width` columns (80 by default). */
export function wrap(text: string, width = 80): string {
  return wrapLines(text, width).join('\n');
}

function wrapLines(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const w of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + w.length > width) {
      lines.push(line);
      line = w;
    } else {
      line = line ? `${line} ${w}` : w;
    }
  }
  return [...lines, line];
}
