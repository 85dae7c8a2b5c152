import { parseArgs } from 'node:util';
import { ConfigError } from '../config/load-config.js';
import type { EventLog } from '../eventlog/event-log.js';
import type { Topics } from '../eventlog/topics.js';
import { type DeadLetter, DeadLetterQueue, parsePosition } from './dlq.js';

export const DLQ_HELP = `hexfleet dlq: inspect and redrive dead letters (needs HEXFLEET_KAFKA_BROKERS)

Usage:
  hexfleet dlq list [--topic orders|positions|ownership] [--json]
      every record of the dead-letter topic <prefix>.<topic>.dlq: its position
      (partition:offset), when it was dead-lettered, key, delivery attempts,
      whether it was redriven, and the error
  hexfleet dlq show <partition>:<offset> [--topic orders|positions|ownership] [--json]
      one dead letter with all of its headers and its value
  hexfleet dlq redrive <partition>:<offset>... | --all [--topic orders|positions|ownership] [--json]
      append dead letters back to the topic they came from (with the header
      hexfleet-redriven-from: <dlq topic>/<partition>:<offset>), so that the
      consumers (the webhook notifier) handle them again. A dead letter
      already redriven is skipped, so running the same redrive twice appends
      nothing the second time; --all redrives every one not yet redriven.
      The webhook receiver deduplicates by event id in any case.
  hexfleet dlq --help

--topic names the consumed topic (default orders). Output is a table, or JSON
with --json. Exit status: 0 done; 1 a position is not in the dead-letter topic,
or the event log failed; 2 a usage error.
`;

export interface DlqCommandDeps {
  log: EventLog;
  topics: Topics;
  /** Partitions of the dead-letter topic when it has to be created (HEXFLEET_KAFKA_PARTITIONS); default 1. */
  partitions?: number;
  /** Standard output (default process.stdout). */
  out?: (text: string) => void;
  /** Standard error (default process.stderr). */
  err?: (text: string) => void;
}

/**
 * `hexfleet dlq …` with `args` after `dlq`. Resolves with the exit status;
 * a usage error throws ConfigError (exit 2). `--help` never touches the log,
 * so a log that was built but not connected is fine; the caller closes it.
 */
export async function runDlqCommand(args: string[], deps: DlqCommandDeps): Promise<number> {
  const out = deps.out ?? ((s: string) => void process.stdout.write(s));
  const err = deps.err ?? ((s: string) => void process.stderr.write(s));
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(args);
  } catch (e) {
    throw new ConfigError(`${(e as Error).message}; see hexfleet dlq --help`);
  }
  const { values, positionals } = parsed;
  const [verb, ...rest] = positionals;
  if (values.help || verb === undefined || verb === 'help') {
    out(DLQ_HELP);
    return values.help || verb === 'help' ? 0 : 2;
  }
  const topicName = values.topic ?? 'orders';
  if (!Object.hasOwn(deps.topics, topicName)) {
    throw new ConfigError(`--topic must be one of ${Object.keys(deps.topics).join(', ')}, got "${topicName}"`);
  }
  const dlq = new DeadLetterQueue(deps.log, deps.topics[topicName as keyof Topics], deps.partitions ?? 1);
  const json = values.json === true;

  switch (verb) {
    case 'list': {
      if (rest.length > 0) throw new ConfigError(`dlq list takes no positions, got "${rest.join(' ')}"`);
      const all = await dlq.list();
      out(json ? JSON.stringify(all.map(summary)) + '\n' : listTable(all, dlq.dlqTopic));
      return 0;
    }
    case 'show': {
      if (rest.length !== 1 || !parsePosition(rest[0]!)) throw new ConfigError('dlq show takes one position, <partition>:<offset>');
      const position = positionOf(rest[0]!);
      const d = await dlq.get(position);
      if (!d) {
        err(`hexfleet: no dead letter at ${position} in ${dlq.dlqTopic}\n`);
        return 1;
      }
      out(json ? JSON.stringify(detail(d)) + '\n' : showText(d, dlq.dlqTopic));
      return 0;
    }
    case 'redrive': {
      const all = values.all === true;
      if (all === rest.length > 0) throw new ConfigError('dlq redrive takes positions (<partition>:<offset>...) or --all, not both and not neither');
      const bad = rest.filter((p) => !parsePosition(p));
      if (bad.length > 0) throw new ConfigError(`not a position (<partition>:<offset>): ${bad.join(', ')}`);
      const r = await dlq.redrive(all ? 'all' : rest.map(positionOf));
      if (json) {
        out(JSON.stringify({ redriven: r.redriven.map((d) => d.position), skipped: r.skipped.map((d) => d.position), missing: r.missing }) + '\n');
      } else {
        for (const d of r.redriven) out(`redriven ${d.position} → ${d.origin?.topic} (key ${d.key})\n`);
        for (const d of r.skipped) out(`skipped  ${d.position}: already redriven at ${iso(d.redrivenAt!)}\n`);
        out(`${r.redriven.length} redriven, ${r.skipped.length} already redriven${r.missing.length ? `, ${r.missing.length} not found` : ''}\n`);
      }
      for (const p of r.missing) err(`hexfleet: no dead letter at ${p} in ${dlq.dlqTopic}\n`);
      return r.missing.length > 0 ? 1 : 0;
    }
    default:
      throw new ConfigError(`unknown dlq command "${verb}"; see hexfleet dlq --help`);
  }
}

function parse(args: string[]) {
  return parseArgs({
    args,
    allowPositionals: true,
    options: { topic: { type: 'string' }, json: { type: 'boolean' }, all: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
}

/** Normalised (`"0:007"` → `"0:7"`) so that it matches the log's offsets. */
function positionOf(s: string): string {
  const p = parsePosition(s)!;
  return `${p.partition}:${p.offset}`;
}

const iso = (ms: number): string => new Date(ms).toISOString();

function summary(d: DeadLetter): Record<string, unknown> {
  return { position: d.position, deadLetteredAt: iso(d.timestamp), key: d.key, attempts: d.attempts ?? null, error: d.error, origin: d.origin ?? null, redrivenAt: d.redrivenAt === undefined ? null : iso(d.redrivenAt) };
}

function detail(d: DeadLetter): Record<string, unknown> {
  return { ...summary(d), headers: d.headers, value: d.value.toString('utf8') };
}

function listTable(all: DeadLetter[], dlqTopic: string): string {
  const rows = all.map((d) => [d.position, iso(d.timestamp), d.key, String(d.attempts ?? '-'), d.redrivenAt === undefined ? 'no' : 'yes', d.error]);
  const head = ['POSITION', 'DEAD-LETTERED AT', 'KEY', 'ATTEMPTS', 'REDRIVEN', 'ERROR'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => Math.min(r[i]!.length, 40))));
  const line = (r: string[]): string => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ') + '\n';
  const redriven = all.filter((d) => d.redrivenAt !== undefined).length;
  return (all.length ? line(head) + rows.map(line).join('') : '') + `${all.length} dead letters in ${dlqTopic} (${redriven} redriven)\n`;
}

function showText(d: DeadLetter, dlqTopic: string): string {
  let value = d.value.toString('utf8');
  try {
    value = JSON.stringify(JSON.parse(value), null, 2);
  } catch {
    // Not JSON (an undecodable record, say): shown as it is.
  }
  const headers = Object.entries(d.headers).map(([k, v]) => `  ${k}: ${v}\n`).join('');
  return (
    `${dlqTopic} ${d.position}\n` +
    `dead-lettered at: ${iso(d.timestamp)}\n` +
    `key: ${d.key}\n` +
    `redriven: ${d.redrivenAt === undefined ? 'no' : `yes, at ${iso(d.redrivenAt)}`}\n` +
    `headers:\n${headers}` +
    `value:\n${value}\n`
  );
}
