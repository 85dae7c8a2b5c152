import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { stopProcess, track } from '../../kit/child-processes.js';
import { KafkaEventLog } from '../../src/backend/kafka/kafka-event-log.js';
import type { EventLog, LoggedRecord } from '../../src/eventlog/event-log.js';
import { LogMetrics } from '../../src/eventlog/log-metrics.js';
import { dlqOf, HEADERS, type Topics, topicsOf } from '../../src/eventlog/topics.js';
import { type OrderEvent, orderEventId, orderEventRecord, ORDERS_SCHEMA } from '../../src/orders/order-events.js';
import { DeadLetterQueue, REDRIVE_HEADERS } from '../../src/notify/dlq.js';
import { runDlqCommand } from '../../src/notify/dlq-command.js';
import { NotifyMetrics } from '../../src/notify/notify-metrics.js';
import { type NotifierConfig, notifyGroupOf, WebhookNotifier } from '../../src/notify/webhook-notifier.js';
import { deleteTopicsWithPrefix } from '../eventlog/kafka-topics.js';
import { Cleanup } from '../support/redis-gateway.js';
import { waitFor } from '../support/wait-for.js';
import { WebhookReceiver } from './webhook-receiver.js';

/**
 * The webhook notifier against a real Kafka broker (the run's, from the
 * global setup) and a real HTTP receiver on loopback that answers 200, 4xx,
 * 5xx, hangs, or refuses connections. Every test has its own topic prefix,
 * receiver, log client and notifier, and stops them all.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const RUNNER = 'test/notify/notifier-runner.mjs';
const SECRET = 'notify-test-secret-at-least-32-characters';
/** The broker's smallest allowed group session (group.min.session.timeout.ms): a SIGKILLed member's partitions move after this. */
const SESSION_TIMEOUT_MS = 6_000;

/** Fast but realistic settings: retries in tens of ms, timeouts of 300 ms. */
const FAST: NotifierConfig = {
  webhookUrl: '',
  webhookSecret: SECRET,
  webhookTimeoutMs: 300,
  webhookMaxAttempts: 3,
  webhookBackoffMs: 20,
  webhookBackoffMaxMs: 100,
  webhookBreakerThreshold: 1000,
  webhookHalfOpenAfterMs: 500,
  kafkaPartitions: 2,
};

/** Every topic of this file starts with it (each test adds its own part); they are deleted at the end. */
const FILE_PREFIX = `notify-${randomUUID().slice(0, 8)}`;
let brokers = '';
beforeAll(() => {
  brokers = inject('kafkaBrokers') ?? '';
  if (!brokers) throw new Error('no Kafka broker: test/support/kafka-global-setup.ts starts one for *.kafka.test.ts files (is it in vitest.config.ts globalSetup?); see kit/kafka-broker.ts and scripts/kafka/install.sh');
});
afterAll(async () => {
  if (brokers) await deleteTopicsWithPrefix(brokers, FILE_PREFIX);
});

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

function newPrefix(): string {
  return `${FILE_PREFIX}-${randomUUID().slice(0, 6)}`;
}

function openLog(): EventLog {
  const log = new KafkaEventLog(
    { brokers: brokers.split(','), clientId: 'notify-test', timeoutMs: 5_000, replicationFactor: 1, sessionTimeoutMs: SESSION_TIMEOUT_MS, heartbeatIntervalMs: 1_000, fetchMaxWaitMs: 100, retryDelayMs: 100 },
    pino({ level: 'silent' }),
  );
  cleanup.add(() => log.close());
  return log;
}

function orderEvent(orderId: string, version: number, type = version === 1 ? 'order.created' : 'assignment.offered'): OrderEvent {
  const at = Date.now();
  return {
    id: orderEventId(orderId, version),
    orderId,
    version,
    type,
    actor: 'service',
    at,
    doc: {
      orderId,
      state: version === 1 ? 'searching' : 'offered',
      request: { orderId, pickup: { lat: 52.52, lng: 13.405 }, radiusM: 2000, mode: 'immediate' },
      requestHash: 'h',
      attempt: version - 1,
      ...(version > 1 ? { driverId: 'drv-1', distanceM: 800, etaS: 120, etaSource: 'fallback' as const } : {}),
      tried: [],
      history: [],
      leaseUntil: at + 1000,
      createdAt: at,
      updatedAt: at,
      version,
    },
  };
}

interface Harness {
  log: EventLog;
  topics: Topics;
  group: string;
  receiver: WebhookReceiver;
  notifier: WebhookNotifier;
  metrics: NotifyMetrics;
  logMetrics: LogMetrics;
  /** The notifier's log lines, parsed. */
  lines: Array<{ msg: string; level: number }>;
}

/** A notifier on fresh topics with a receiver of its own; or, given `joining`, another member of that one's group (same topics, receiver and log). */
async function startNotifier(overrides: Partial<NotifierConfig> = {}, joining?: Harness): Promise<Harness> {
  const prefix = newPrefix();
  const topics = joining?.topics ?? topicsOf(prefix);
  const group = joining?.group ?? notifyGroupOf(prefix);
  let receiver = joining?.receiver;
  if (!receiver) {
    const r = (receiver = await WebhookReceiver.start(SECRET));
    cleanup.add(() => r.close());
  }
  const log = joining?.log ?? openLog();
  const registry = new Registry();
  const metrics = new NotifyMetrics(registry);
  const logMetrics = new LogMetrics(registry);
  const lines: Harness['lines'] = [];
  const sink = new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(JSON.parse(chunk.toString())), done()) });
  const notifier = new WebhookNotifier({
    log, topics, group, metrics, logMetrics,
    config: { ...FAST, webhookUrl: receiver.url, ...overrides },
    logger: pino({ level: 'info' }, sink),
    lagIntervalMs: 60_000, // measured on demand below
  });
  await notifier.start();
  cleanup.add(() => notifier.stop());
  return { log, topics, group, receiver, notifier, metrics, logMetrics, lines };
}

async function value(metric: { get(): Promise<{ values: Array<{ value: number; labels: Partial<Record<string, string | number>> }> }> }, labels: Record<string, string> = {}): Promise<number> {
  const { values } = await metric.get();
  return values.filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l)).reduce((s, v) => s + v.value, 0);
}

async function readAll(log: EventLog, topic: string): Promise<LoggedRecord[]> {
  const out: LoggedRecord[] = [];
  await log.read(topic, { kind: 'earliest' }, undefined, async (b) => void out.push(...b.records));
  return out;
}

/** Runs `hexfleet dlq …` in process against `h`'s log; resolves with exit status and output. */
async function dlq(h: Harness, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runDlqCommand(args, { log: h.log, topics: h.topics, out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

describe('webhook notifier (real Kafka, real HTTP receiver)', () => {
  it('delivers every event once, signed, with its event id, in version order per order; lag drains to 0', async () => {
    const h = await startNotifier();
    const orders = ['o-a', 'o-b', 'o-c', 'o-d'];
    for (const o of orders) await h.log.append(h.topics.orders, [1, 2, 3].map((v) => orderEventRecord(orderEvent(o, v))));
    await waitFor(() => h.receiver.delivered.size === 12, { what: '12 events delivered' });

    expect(h.receiver.received.every((r) => r.signatureOk)).toBe(true);
    expect(h.receiver.duplicates).toBe(0);
    for (const o of orders) {
      expect(h.receiver.received.filter((r) => r.body.orderId === o).map((r) => r.body.version)).toEqual([1, 2, 3]);
    }
    const offered = h.receiver.received.find((r) => r.eventId === 'o-b:2')!;
    expect(offered.attempt).toBe(1);
    expect(offered.body).toMatchObject({ id: 'o-b:2', type: 'assignment.offered', orderId: 'o-b', version: 2, actor: 'service' });
    expect(offered.body.order).toMatchObject({ orderId: 'o-b', state: 'offered', driverId: 'drv-1', etaS: 120, pickup: { lat: 52.52, lng: 13.405 } });
    // The store's bookkeeping stays inside hexfleet.
    expect(offered.body.order).not.toHaveProperty('requestHash');
    expect(offered.body.order).not.toHaveProperty('leaseUntil');

    // The receiver has the 12th event before the notifier has read its answer and counted it.
    await waitFor(async () => (await value(h.metrics.deliveries, { outcome: 'delivered' })) === 12, { what: '12 deliveries counted' });
    expect((await h.metrics.latency.get()).values.find((v) => v.labels.le === '+Inf')?.value).toBe(12);
    await waitFor(async () => (await h.notifier.measureLag(), (await value(h.logMetrics.consumerLag, { group: h.group })) === 0), { what: 'lag 0 once the offsets are committed' });
    expect(await value(h.logMetrics.dlqDepth)).toBe(0);
    expect(h.lines.filter((l) => l.level >= 40)).toEqual([]); // no line per delivery, no warning
  });

  it('retries 5xx, 429 and timeouts with backoff, and holds the next event of the order until the first is delivered', async () => {
    const h = await startNotifier();
    h.receiver.answer = (id, attempt) => (attempt > 1 ? 200 : id === 'r-a:1' ? 500 : id === 'r-b:1' ? 'hang' : id === 'r-c:1' ? 429 : 200);
    await h.log.append(h.topics.orders, [orderEventRecord(orderEvent('r-a', 1)), orderEventRecord(orderEvent('r-a', 2))]);
    await h.log.append(h.topics.orders, [orderEventRecord(orderEvent('r-b', 1)), orderEventRecord(orderEvent('r-c', 1))]);
    await waitFor(() => h.receiver.delivered.size === 4, { what: '4 events delivered' });

    expect(h.receiver.attemptsOf('r-a:1').map((r) => r.status)).toEqual([500, 200]);
    expect(h.receiver.attemptsOf('r-b:1').map((r) => r.status)).toEqual(['hang', 200]);
    expect(h.receiver.attemptsOf('r-c:1').map((r) => r.status)).toEqual([429, 200]);
    // r-a:2 was not sent before r-a:1 got its 200.
    const firstA2 = h.receiver.received.findIndex((r) => r.eventId === 'r-a:2');
    const okA1 = h.receiver.received.findIndex((r) => r.eventId === 'r-a:1' && r.status === 200);
    expect(firstA2).toBeGreaterThan(okA1);
    expect(h.receiver.duplicates).toBe(0);
    expect(await value(h.metrics.attempts, { result: 'server_error' })).toBe(1);
    expect(await value(h.metrics.attempts, { result: 'timeout' })).toBe(1);
    expect(await value(h.metrics.attempts, { result: 'throttled' })).toBe(1);
    expect(await value(h.metrics.deliveries, { outcome: 'dead_lettered' })).toBe(0);
  });

  it('dead-letters refused, exhausted and undecodable records with their headers; dlq list, show and redrive round trip', async () => {
    const h = await startNotifier();
    let healed = false;
    h.receiver.answer = (id) => (healed ? 200 : id === 'd-r:1' ? 422 : id === 'd-x:1' ? 500 : 200);
    await h.log.append(h.topics.orders, [orderEventRecord(orderEvent('d-r', 1))]);
    await h.log.append(h.topics.orders, [orderEventRecord(orderEvent('d-x', 1)), orderEventRecord(orderEvent('d-x', 2))]);
    await h.log.append(h.topics.orders, [{ key: 'd-g', value: Buffer.from('not json'), headers: { [HEADERS.schema]: ORDERS_SCHEMA } }]);
    const dlqTopic = dlqOf(h.topics.orders);
    const queue = new DeadLetterQueue(h.log, h.topics.orders);
    await waitFor(async () => (await queue.list()).length === 3, { what: '3 dead letters' });
    // d-x:2 waited for d-x:1 to be dead-lettered, then went through.
    await waitFor(() => h.receiver.delivered.has('d-x:2'), { what: 'd-x:2 delivered after d-x:1 was dead-lettered' });

    const origin = new Map((await readAll(h.log, h.topics.orders)).map((r) => [`${r.key}/${r.value.toString()}`, r]));
    const byKey = new Map((await readAll(h.log, dlqTopic)).map((r) => [r.key, r]));
    const expectDeadLetter = (key: string, error: RegExp, attempts: string): void => {
      const d = byKey.get(key)!;
      const o = origin.get(`${key}/${d.value.toString()}`)!;
      expect(o, `${key}: same value as in the orders topic`).toBeDefined();
      expect(d.headers[HEADERS.error]).toMatch(error);
      expect(d.headers).toMatchObject({
        [HEADERS.attempts]: attempts,
        [HEADERS.originTopic]: h.topics.orders,
        [HEADERS.originPartition]: String(o.partition),
        [HEADERS.originOffset]: o.offset,
        [HEADERS.schema]: ORDERS_SCHEMA,
      });
    };
    expectDeadLetter('d-r', /^rejected: HTTP 422.*not retried/, '1');
    expectDeadLetter('d-x', /^attempts_exhausted: 3 attempts failed; the last: server_error: HTTP 500/, '3');
    expectDeadLetter('d-g', /^undecodable: an orders record is not JSON/, '0');
    expect(h.receiver.attemptsOf('d-r:1')).toHaveLength(1);
    expect(h.receiver.attemptsOf('d-x:1')).toHaveLength(3);
    expect(h.lines.filter((l) => l.msg === 'order event dead-lettered')).toHaveLength(3);
    await h.notifier.measureLag();
    expect(await value(h.logMetrics.dlqDepth, { topic: dlqTopic })).toBe(3);
    expect(await value(h.metrics.deadLetters, { reason: 'attempts_exhausted' })).toBe(1);

    // list → show → redrive one → redrive it again (nothing) → redrive --all.
    const list = await dlq(h, 'list', '--json');
    expect(list.code).toBe(0);
    const entries = JSON.parse(list.out) as Array<{ position: string; key: string; attempts: number; redrivenAt: string | null }>;
    expect(entries.map((e) => e.key).sort()).toEqual(['d-g', 'd-r', 'd-x']);
    const posX = entries.find((e) => e.key === 'd-x')!.position;
    const show = await dlq(h, 'show', posX);
    expect(show.code).toBe(0);
    expect(show.out).toContain(`${HEADERS.error}: attempts_exhausted`);
    expect(show.out).toContain('"orderId": "d-x"');
    expect((await dlq(h, 'list')).out).toMatch(/3 dead letters in .*\(0 redriven\)/);

    healed = true;
    const first = await dlq(h, 'redrive', posX);
    expect(first).toMatchObject({ code: 0 });
    expect(first.out).toContain('1 redriven, 0 already redriven');
    await waitFor(() => h.receiver.delivered.has('d-x:1'), { what: 'the redriven d-x:1 delivered' });
    const again = await dlq(h, 'redrive', posX, '--json');
    expect(JSON.parse(again.out)).toEqual({ redriven: [], skipped: [posX], missing: [] });
    const all = JSON.parse((await dlq(h, 'redrive', '--all', '--json')).out) as { redriven: string[]; skipped: string[] };
    expect(all.redriven).toHaveLength(2);
    expect(all.skipped).toEqual([posX]);
    await waitFor(() => h.receiver.delivered.has('d-r:1'), { what: 'the redriven d-r:1 delivered' });
    // The undecodable record fails again: a new dead letter, saying where it was redriven from.
    await waitFor(async () => (await queue.list()).length === 4, { what: 'the redriven undecodable record dead-lettered again' });
    const again4 = (await queue.list()).find((d) => d.key === 'd-g' && d.redrivenAt === undefined)!;
    expect(again4.headers[REDRIVE_HEADERS.redrivenFrom]).toMatch(new RegExp(`^${dlqTopic.replace(/\./g, '\\.')}/\\d+:\\d+$`));
    expect(h.receiver.delivered.get('d-x:1')).toBe(1);
    expect((await dlq(h, 'show', '9:999')).code).toBe(1);

    // Usage errors name what is wrong (exit 2 through ConfigError); --help needs nothing.
    expect((await dlq(h, '--help')).out).toContain('hexfleet dlq redrive <partition>:<offset>... | --all');
    await expect(dlq(h, 'redrive')).rejects.toThrow('dlq redrive takes positions (<partition>:<offset>...) or --all');
    await expect(dlq(h, 'redrive', '1:2', '--all')).rejects.toThrow('not both');
    await expect(dlq(h, 'show', 'x:1')).rejects.toThrow('dlq show takes one position, <partition>:<offset>');
    await expect(dlq(h, 'list', '--topic', 'payments')).rejects.toThrow('--topic must be one of positions, orders, ownership, got "payments"');
    await expect(dlq(h, 'purge')).rejects.toThrow('unknown dlq command "purge"');
  });

  it('opens the breaker while the receiver refuses connections (deliveries wait, nothing dead-lettered) and closes it when it recovers', async () => {
    const threshold = 3;
    const halfOpenAfterMs = 400;
    const h = await startNotifier({ webhookBreakerThreshold: threshold, webhookHalfOpenAfterMs: halfOpenAfterMs, webhookMaxAttempts: 1000 });
    await h.receiver.close();
    const outageStart = Date.now();
    await h.log.append(h.topics.orders, ['b-1', 'b-2', 'b-3', 'b-4'].map((o) => orderEventRecord(orderEvent(o, 1))));
    await waitFor(() => h.lines.some((l) => l.msg.startsWith('webhook receiver is down')), { what: 'the breaker to open' });
    // Two probes apart are at least one open period apart.
    const c0 = await value(h.metrics.attempts, { result: 'connection' });
    const t0 = Date.now();
    await waitFor(async () => (await value(h.metrics.attempts, { result: 'connection' })) >= c0 + 2, { what: 'two probes' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(halfOpenAfterMs - 20);
    expect(await value(h.metrics.deliveries)).toBe(0);
    expect(await value(h.metrics.breakerState)).toBeGreaterThan(0); // open, or half-open with a probe in flight

    await h.receiver.listen();
    const outageMs = Date.now() - outageStart;
    await waitFor(() => h.receiver.delivered.size === 4, { what: 'all 4 delivered after recovery' });
    expect(await value(h.metrics.breakerState)).toBe(0);
    // Without the breaker, 2 partitions retrying every ≤ 100 ms would have made dozens of attempts.
    const attempts = await value(h.metrics.attempts, { result: 'connection' });
    expect(attempts).toBeLessThanOrEqual(threshold + FAST.kafkaPartitions + Math.ceil(outageMs / halfOpenAfterMs) + 1);
    expect(h.lines.filter((l) => l.msg.startsWith('webhook receiver is down'))).toHaveLength(1);
    expect(h.lines.filter((l) => l.msg.startsWith('webhook receiver is up again'))).toHaveLength(1);
    expect(await value(h.metrics.deliveries, { outcome: 'dead_lettered' })).toBe(0);
  });

  it('stop() while deliveries wait for the receiver returns at once and commits nothing; the next member delivers them', async () => {
    const h = await startNotifier({ webhookBreakerThreshold: 2, webhookHalfOpenAfterMs: 60_000, webhookMaxAttempts: 1000 });
    await h.receiver.close();
    await h.log.append(h.topics.orders, [orderEventRecord(orderEvent('s-1', 1)), orderEventRecord(orderEvent('s-2', 1))]);
    await waitFor(() => h.lines.some((l) => l.msg.startsWith('webhook receiver is down')), { what: 'the breaker to open' });
    const t0 = Date.now();
    await h.notifier.stop();
    // Far below the 60 s the breaker would still stay open: stop() aborts the wait instead of finishing the batch.
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(await h.log.groupOffsets(h.group, h.topics.orders)).toEqual({});

    await h.receiver.listen();
    await startNotifier({}, h);
    await waitFor(() => h.receiver.delivered.size === 2, { what: 'the next member to deliver both' });
    expect(h.receiver.duplicates).toBe(0);
  });

  it('two notifier processes: one SIGKILLed mid-batch while events flow; every event arrives, duplicates only of ids already seen', async () => {
    const prefix = newPrefix();
    const topics = topicsOf(prefix);
    const receiver = await WebhookReceiver.start(SECRET);
    cleanup.add(() => receiver.close());
    const log = openLog();
    await log.ensureTopics([{ name: topics.orders, partitions: 4 }, { name: dlqOf(topics.orders), partitions: 4 }]);
    const a = await startRunner('A', receiver, prefix);
    const b = await startRunner('B', receiver, prefix);

    // Once 40 events are in, A may deliver 2 more (likely of the batch in hand), then its next request is held and A is SIGKILLed
    // with it in flight: the survivor gets A's partitions from the last commit and sends those 2 again.
    let armed = false;
    let passedAfterArming = 0;
    receiver.delayMs = 5;
    receiver.answer = (_id, _attempt, from) => (armed && from === 'A' && ++passedAfterArming > 2 ? 'hang' : 200);
    const orders = Array.from({ length: 30 }, (_, i) => `k-${i}`);
    const all = orders.flatMap((o) => [1, 2, 3, 4].map((v) => orderEvent(o, v)));
    const appending = (async () => {
      // Events flow in chunks, each once half of the previous one was sent: the kill lands mid-stream (and appends wait out the rebalance).
      for (let i = 0; i < all.length; i += 10) {
        await log.append(topics.orders, all.slice(i, i + 10).map(orderEventRecord));
        await waitFor(() => receiver.received.length >= i + 5, { what: 'deliveries to keep up with the appends' });
      }
    })();
    await waitFor(() => receiver.delivered.size >= 40, { what: '40 deliveries before the kill' });
    expect(new Set(receiver.received.map((r) => r.from))).toEqual(new Set(['A', 'B']));
    armed = true;
    await waitFor(() => receiver.received.some((r) => r.from === 'A' && r.status === 'hang'), { what: 'a request of A in flight' });
    a.child.kill('SIGKILL');
    await a.exited;
    await appending;

    await waitFor(() => all.every((e) => receiver.delivered.has(e.id)), { timeoutMs: 40_000, what: 'every event delivered by the survivor' });
    expect(receiver.received.every((r) => r.signatureOk)).toBe(true);
    // Per order, first deliveries are in version order (a redelivered batch repeats older versions, never skips ahead).
    for (const o of orders) {
      const firsts: number[] = [];
      for (const r of receiver.received) if (r.body.orderId === o && r.status === 200 && !firsts.includes(r.body.version)) firsts.push(r.body.version);
      expect(firsts, o).toEqual([1, 2, 3, 4]);
    }
    // A duplicate is a 2xx for an id that had one before: the receiver's dedup catches exactly these.
    const seen = new Set<string>();
    let duplicates = 0;
    for (const r of receiver.received.filter((x) => x.status === 200)) {
      if (seen.has(r.eventId)) duplicates++;
      seen.add(r.eventId);
    }
    expect(duplicates).toBe(receiver.duplicates);
    expect(seen.size).toBe(all.length);
    expect(Object.values(await log.endOffsets(dlqOf(topics.orders))).map(Number)).toEqual([0, 0, 0, 0]);
    console.info(`[notify] SIGKILL mid-batch: ${all.length} events, ${receiver.received.length} requests, ${duplicates} duplicates (all of ids already seen)`);

    await stopProcess(b.child, 'SIGTERM', 15_000);
    expect(b.child.exitCode).toBe(0);
  });
});

interface Runner {
  child: ChildProcess;
  exited: Promise<void>;
}

/** A notifier in a child process (test/notify/notifier-runner.mjs), sending to `receiver` with `?from=<name>`; resolves once it joined the group. */
async function startRunner(name: string, receiver: WebhookReceiver, prefix: string): Promise<Runner> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('HEXFLEET_')) env[k] = v;
  Object.assign(env, {
    HEXFLEET_KAFKA_BROKERS: brokers,
    HEXFLEET_KAFKA_TOPIC_PREFIX: prefix,
    HEXFLEET_KAFKA_PARTITIONS: '4',
    HEXFLEET_KAFKA_CLIENT_ID: `notify-${name}`,
    HEXFLEET_WEBHOOK_URL: `${receiver.url}?from=${name}`,
    HEXFLEET_WEBHOOK_SECRET: SECRET,
    HEXFLEET_WEBHOOK_TIMEOUT_MS: '5000',
    HEXFLEET_WEBHOOK_BACKOFF_MS: '20',
    HEXFLEET_WEBHOOK_BACKOFF_MAX_MS: '200',
    HEXFLEET_LOG_LEVEL: 'warn',
    NOTIFY_SESSION_TIMEOUT_MS: String(SESSION_TIMEOUT_MS),
  });
  const child = spawn(process.execPath, [RUNNER], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  track(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  cleanup.add(() => stopProcess(child, 'SIGKILL'));
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  await waitFor(() => output.includes('notifier ready') || child.exitCode !== null, { timeoutMs: 30_000, what: `notifier ${name} to join its group` });
  if (!output.includes('notifier ready')) throw new Error(`notifier ${name} exited before joining:\n${output}`);
  return { child, exited };
}
