import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { KafkaBroker } from '../../kit/kafka-broker.js';
import { KafkaEventLog } from '../../src/backend/kafka/kafka-event-log.js';
import type { EventLog } from '../../src/eventlog/event-log.js';
import { topicsOf } from '../../src/eventlog/topics.js';
import { decodePositionRecord } from '../../src/ingest/position-records.js';
import type { DriverClient, SdkError } from '../../src/sdk/index.js';
import { closeAllSdkClients, collectErrors, driverClient } from '../sdk/sdk-harness.js';
import { startTestGateway, stopAllGateways, type TestGateway } from '../support/gateway-harness.js';
import { waitFor } from '../support/wait-for.js';

/**
 * Ack semantics with the event log on: an ack means the pings are stored AND
 * in the log. Checked from the log itself (a reader of our own), with real
 * WebSocket clients (the SDK, which keeps un-acked pings and resends them)
 * and a real broker — the run's, or a private one that is killed and
 * restarted mid-stream.
 */

const quiet = pino({ level: 'silent' });
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await closeAllSdkClients();
  await stopAllGateways();
  for (const c of closers.splice(0).reverse()) await c();
});

function runBrokers(): string {
  const brokers = inject('kafkaBrokers');
  if (!brokers) throw new Error('no Kafka broker in this run: test/support/kafka-global-setup.ts starts one for *.kafka.test.ts files');
  return brokers;
}

async function gatewayOn(brokers: string, prefix: string): Promise<TestGateway> {
  return startTestGateway('memory', {
    env: { HEXFLEET_KAFKA_BROKERS: brokers, HEXFLEET_KAFKA_TOPIC_PREFIX: prefix, HEXFLEET_KAFKA_PARTITIONS: '3', HEXFLEET_KAFKA_TIMEOUT_MS: '2000' },
  });
}

function readerOf(brokers: string): EventLog {
  const log = new KafkaEventLog({ brokers: [brokers], clientId: 'test-reader', timeoutMs: 10_000, replicationFactor: 1, ssl: false }, quiet);
  closers.push(() => log.close());
  return log;
}

/** Every (driverId, seq) in the positions topic, with how often each appears. */
async function loggedPings(log: EventLog, prefix: string): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  await log.read(topicsOf(prefix).positions, { kind: 'earliest' }, undefined, async (batch) => {
    for (const r of batch.records) {
      const b = decodePositionRecord(r.value, r.headers);
      for (const p of b.pings) seen.set(`${b.driverId}#${p.seq}`, (seen.get(`${b.driverId}#${p.seq}`) ?? 0) + 1);
    }
  });
  return seen;
}

/** A driver streaming one ping per call; remembers what it sent and the highest seq acked. */
class Streamer {
  readonly sent: number[] = [];
  acked = -1;
  constructor(readonly id: string, readonly client: DriverClient) {
    client.on('ack', (seq) => {
      this.acked = Math.max(this.acked, seq);
    });
  }

  ping(i: number): void {
    this.sent.push(this.client.ping({ lat: 52.5 + i * 1e-5, lng: 13.4, ts: Date.now(), status: 'available' }));
  }

  ackedSeqs(): number[] {
    return this.sent.filter((s) => s <= this.acked);
  }
}

async function streamers(tg: TestGateway, n: number): Promise<Streamer[]> {
  return Promise.all(Array.from({ length: n }, async (_, i) => {
    const id = `drv-${i}-${randomUUID().slice(0, 6)}`;
    const client = driverClient({ urls: [tg.driverUrl], token: await tg.token('driver', id), batchMaxDelayMs: 5 });
    return new Streamer(id, client);
  }));
}

describe('ingest with the event log (Kafka)', () => {
  it('acks a batch only once it is in the log: every acked ping is in the positions topic', async () => {
    const brokers = runBrokers();
    const prefix = `test-${randomUUID().slice(0, 8)}`;
    const tg = await gatewayOn(brokers, prefix);
    await waitFor(async () => (await tg.get('/readyz')).status === 200, { what: 'the gateway is ready (topics created)' });
    const drivers = await streamers(tg, 20);
    for (let i = 0; i < 10; i++) for (const d of drivers) d.ping(i);
    await waitFor(() => drivers.every((d) => d.acked === d.sent.at(-1)), { what: 'every ping acked' });

    const logged = await loggedPings(readerOf(brokers), prefix);
    const missing = drivers.flatMap((d) => d.ackedSeqs().filter((s) => !logged.has(`${d.id}#${s}`)).map((s) => `${d.id}#${s}`));
    expect(missing).toEqual([]);
    expect(logged.size).toBe(200);
    expect(await tg.metric('hexfleet_log_appended_records_total', { topic: topicsOf(prefix).positions })).toBeGreaterThan(0);
  });

  it('broker killed and restarted mid-stream: batches get log_unavailable meanwhile, and no acked ping is missing from the log', async () => {
    const broker = await KafkaBroker.start();
    closers.push(() => broker.stop());
    const prefix = `test-${randomUUID().slice(0, 8)}`;
    const tg = await gatewayOn(broker.brokers, prefix);
    await waitFor(async () => (await tg.get('/readyz')).status === 200, { what: 'the gateway is ready (topics created)' });
    const drivers = await streamers(tg, 8);
    const perClient = drivers.map((d) => collectErrors(d.client));
    const errorsSeen = (): SdkError[] => perClient.flat();
    let i = 0;
    const tick = (): void => {
      for (const d of drivers) d.ping(i);
      i++;
    };

    for (let k = 0; k < 5; k++) tick();
    await waitFor(() => drivers.every((d) => d.acked === d.sent.at(-1)), { what: 'the first pings acked' });
    const ackedBeforeKill = drivers.reduce((n, d) => n + d.ackedSeqs().length, 0);

    await broker.kill();
    // Keep streaming while the log is down: nothing new may be acked.
    for (let k = 0; k < 5; k++) tick();
    await waitFor(async () => (await tg.get('/readyz')).status === 503, { what: 'readiness reports the log down' });
    const ready = await tg.adminGet('/readyz');
    expect(ready.json, JSON.stringify(ready.json)).toMatchObject({ status: 'unready', failing: ['kafka'] });
    await waitFor(() => errorsSeen().some((e) => e.code === 'log_unavailable'), { what: 'a batch was refused with log_unavailable', timeoutMs: 30_000 });
    const ackedWhileDown = drivers.reduce((n, d) => n + d.ackedSeqs().length, 0);

    await broker.restart();
    for (let k = 0; k < 5; k++) tick();
    await waitFor(() => drivers.every((d) => d.acked === d.sent.at(-1)), { what: 'every ping acked after the restart', timeoutMs: 60_000 });

    const logged = await loggedPings(readerOf(broker.brokers), prefix);
    const acked = drivers.flatMap((d) => d.ackedSeqs().map((s) => `${d.id}#${s}`));
    expect(acked.filter((k) => !logged.has(k)), 'acked pings missing from the log').toEqual([]);
    expect(acked).toHaveLength(8 * 15);
    const duplicates = [...logged.values()].filter((n) => n > 1).length;
    // The counts the README reports: what was acked before and during the outage, and the copies resends left in the log.
    console.log(`[log chaos] acked ${acked.length} (before the kill ${ackedBeforeKill}, while down ${ackedWhileDown - ackedBeforeKill}), in the log ${logged.size} distinct, ${duplicates} logged twice, log_unavailable replies ${errorsSeen().filter((e) => e.code === 'log_unavailable').length}`);
  });
});
