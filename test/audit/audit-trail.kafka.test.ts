import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { KafkaBroker } from '../../kit/kafka-broker.js';
import { openKafkaEventLog } from '../../src/backend/create-backend.js';
import { configSchema } from '../../src/config/config-schema.js';
import { deleteTopicsWithPrefix } from '../eventlog/kafka-topics.js';
import { startTestGateway } from '../support/gateway-harness.js';
import { httpRequest } from '../support/http-request.js';
import { waitFor } from '../support/wait-for.js';

/** The audit lines in `topic`, as JSON, with their record keys. */
async function readAudit(brokers: string, topic: string): Promise<{ key: string; line: Record<string, any> }[]> {
  const log = openKafkaEventLog({
    kafkaBrokers: brokers, kafkaClientId: 'audit-test', kafkaTimeoutMs: 5000, kafkaSsl: false, kafkaCaFile: '',
    kafkaSaslMechanism: 'none', kafkaSaslUsername: '', kafkaSaslPassword: '',
    kafkaTopicPrefix: 'unused', kafkaPartitions: 1, kafkaReplicationFactor: configSchema.kafkaReplicationFactor.default,
  }, pino({ level: 'silent' }));
  const out: { key: string; line: Record<string, any> }[] = [];
  try {
    await log.read(topic, { kind: 'earliest' }, undefined, async (batch) => {
      for (const r of batch.records) out.push({ key: r.key, line: JSON.parse(r.value.toString()) });
    });
  } catch {
    // The topic may not exist yet: no lines.
  } finally {
    await log.close();
  }
  return out;
}

const failures = (n: number, port: number) => Promise.all(Array.from({ length: n }, () => httpRequest(port, 'GET', '/v1/drivers/nearby?lat=1&lng=1')));

describe('audit trail on Kafka (<prefix>.audit)', () => {
  let brokers: string;
  const prefix = `test-audit-${randomUUID().slice(0, 8)}`;
  const dir = mkdtempSync(join(tmpdir(), 'hexfleet-audit-kafka-'));

  beforeAll(() => {
    brokers = inject('kafkaBrokers') ?? '';
    if (!brokers) throw new Error('no Kafka broker: the global setup provides one (inject("kafkaBrokers")); see kit/kafka-broker.ts and run bash scripts/kafka/install.sh');
  });
  afterAll(async () => {
    if (brokers) await deleteTopicsWithPrefix(brokers, prefix);
    rmSync(dir, { recursive: true, force: true });
  });

  it('appends the same lines as the file, keyed by the gateway id', async () => {
    const file = join(dir, 'audit.log');
    const gw = await startTestGateway('memory', {
      env: { HEXFLEET_KAFKA_BROKERS: brokers, HEXFLEET_KAFKA_TOPIC_PREFIX: prefix, HEXFLEET_KAFKA_PARTITIONS: '1', HEXFLEET_AUDIT_LOG: file, HEXFLEET_AUTH_FAILURE_BURST: '0' },
    });
    try {
      expect((await httpRequest(gw.port, 'POST', '/v1/match', { token: 'x.y.z', body: {} })).status).toBe(401);
      let records: Awaited<ReturnType<typeof readAudit>> = [];
      await waitFor(async () => (records = await readAudit(brokers, `${prefix}.audit`)).length >= 2, { what: 'two audit records', intervalMs: 500, timeoutMs: 60_000 });
      const fileLines = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
      expect(records.map((r) => r.line)).toEqual(fileLines);
      expect(records.map((r) => r.line.event.action)).toEqual(['config.start', 'auth.rejected']);
      expect(new Set(records.map((r) => r.key))).toEqual(new Set([records[0]!.line.gateway.id]));
      expect(await gw.metric('hexfleet_audit_dropped_total', { sink: 'kafka' })).toBe(0);
    } finally {
      await gw.stop();
    }
  });

  it('a Kafka outage holds up to HEXFLEET_AUDIT_KAFKA_BUFFER lines, drops and counts the rest, answers every request, and delivers what it held once Kafka is back', async () => {
    const broker = await KafkaBroker.start();
    const own = `${prefix}-outage`;
    const gw = await startTestGateway('memory', {
      env: {
        HEXFLEET_KAFKA_BROKERS: broker.brokers, HEXFLEET_KAFKA_TOPIC_PREFIX: own, HEXFLEET_KAFKA_PARTITIONS: '1', HEXFLEET_KAFKA_TIMEOUT_MS: '1000',
        HEXFLEET_AUDIT_KAFKA_BUFFER: '20', HEXFLEET_AUTH_FAILURE_BURST: '0',
      },
    });
    try {
      await waitFor(async () => (await readAudit(broker.brokers, `${own}.audit`)).length >= 1, { what: 'config.start in the topic', intervalMs: 500, timeoutMs: 60_000 });
      await broker.kill();
      const answers = await failures(60, gw.port);
      expect(answers.every((a) => a.status === 401)).toBe(true);
      expect(await gw.metric('hexfleet_audit_kafka_buffered_lines')).toBe(20);
      expect(await gw.metric('hexfleet_audit_dropped_total', { sink: 'kafka' })).toBe(40);
      expect(await gw.metric('hexfleet_audit_events_total', { action: 'auth.rejected', outcome: 'failure' })).toBe(60);

      await broker.restart();
      await waitFor(async () => (await readAudit(broker.brokers, `${own}.audit`)).filter((r) => r.line.event.action === 'auth.rejected').length >= 20,
        { what: 'the 20 held lines in the topic', intervalMs: 1000, timeoutMs: 90_000 });
      await waitFor(async () => (await gw.metric('hexfleet_audit_kafka_buffered_lines')) === 0, { what: 'the buffer to empty' });
    } finally {
      await gw.stop();
      await broker.stop();
    }
  }, 240_000);
});
