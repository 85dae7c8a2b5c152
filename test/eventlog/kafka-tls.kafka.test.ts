import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { KafkaBroker } from '../../kit/kafka-broker.js';
import { TestCa } from '../../kit/test-certs.js';
import { openKafkaLog } from '../../src/backend/kafka/open-kafka-log.js';
import type { EventLog } from '../../src/eventlog/event-log.js';
import { topicsOf } from '../../src/eventlog/topics.js';
import { decodePositionRecord } from '../../src/ingest/position-records.js';
import { loadConfig } from '../../src/config/load-config.js';
import { BASE_ENV, startTestGateway, stopAllGateways, uniqueDriverId } from '../support/gateway-harness.js';
import { waitFor } from '../support/wait-for.js';

/**
 * TLS and SASL/SCRAM to Kafka (issue 11), against a private Kafka 4.1.1
 * broker with an SSL listener and a SASL_SSL listener (SCRAM users created
 * at format time): a gateway's events flow through SASL_SSL, a wrong
 * password is refused with a clear error, and a client that does not trust
 * the broker's CA does not connect.
 */

const quiet = pino({ level: 'silent' });
const ca = TestCa.create('kafka');
const USER = { name: 'hexfleet-gw', password: `pw-${randomUUID()}` };
let broker: KafkaBroker;
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  broker = await KafkaBroker.start({
    tls: {
      caFile: ca.caFile,
      ...ca.issue('kafka-broker'),
      scramUsers: [
        { mechanism: 'SCRAM-SHA-256', ...USER },
        { mechanism: 'SCRAM-SHA-512', ...USER },
      ],
    },
  });
}, 120_000);
afterEach(async () => {
  await stopAllGateways();
  for (const c of closers.splice(0).reverse()) await c();
});
afterAll(async () => {
  await broker?.stop();
  ca.cleanup();
});

/** The Kafka variables of a SASL_SSL client (mechanism and password overridable). */
function saslEnv(o: { mechanism?: string; password?: string; caFile?: string } = {}): Record<string, string> {
  return {
    HEXFLEET_KAFKA_BROKERS: broker.saslSslBrokers,
    HEXFLEET_KAFKA_SSL: 'true',
    HEXFLEET_KAFKA_CA_FILE: o.caFile ?? ca.caFile,
    HEXFLEET_KAFKA_SASL_MECHANISM: o.mechanism ?? 'scram-sha-256',
    HEXFLEET_KAFKA_SASL_USERNAME: USER.name,
    HEXFLEET_KAFKA_SASL_PASSWORD: o.password ?? USER.password,
    // Generous: the TLS and SCRAM handshakes and a fresh broker's coordinators on a busy 2-core machine.
    HEXFLEET_KAFKA_TIMEOUT_MS: '15000',
  };
}

/** The event log exactly as a gateway opens it from these variables. */
function logOf(env: Record<string, string>): EventLog {
  const log = openKafkaLog(loadConfig({ ...BASE_ENV, ...env }), quiet);
  closers.push(() => log.close());
  return log;
}

describe('Kafka over SASL_SSL (SCRAM) and SSL', () => {
  it('a gateway\'s acked pings reach the positions topic through the SASL_SSL listener', async () => {
    const prefix = `tls-${randomUUID().slice(0, 8)}`;
    const g = await startTestGateway('memory', { env: { ...saslEnv(), HEXFLEET_KAFKA_TOPIC_PREFIX: prefix, HEXFLEET_KAFKA_PARTITIONS: '1' } });
    const driverId = uniqueDriverId();
    const driver = await g.connectDriver(driverId);
    // The first append on a fresh broker may wait for its coordinator and the TLS and SCRAM handshakes, past the
    // timeout on a busy machine: then it is not acked (log_unavailable, retryable) and sent again, as a client does.
    const refusals: string[] = [];
    await waitFor(async () => {
      const r = await driver.sendBatch([{ seq: 1, lat: 52.5, lng: 13.4, ts: Date.now(), status: 'available' }]);
      if (r.type !== 'ack') refusals.push(String(r.code));
      return r.type === 'ack';
    }, { what: 'an ack with the event log on SASL_SSL', timeoutMs: 60_000 });
    expect(refusals.filter((c) => c !== 'log_unavailable')).toEqual([]);

    // Read back with SCRAM-SHA-512 this time: both mechanisms work for the user.
    const reader = logOf({ ...saslEnv({ mechanism: 'scram-sha-512' }), HEXFLEET_KAFKA_CLIENT_ID: 'tls-reader' });
    const seen: string[] = [];
    await reader.read(topicsOf(prefix).positions, { kind: 'earliest' }, undefined, async (batch) => {
      for (const r of batch.records) {
        const b = decodePositionRecord(r.value, r.headers);
        for (const p of b.pings) seen.push(`${b.driverId}#${p.seq}`);
      }
    });
    expect(seen).toContain(`${driverId}#1`);
  });

  it('refuses a wrong password with an error that says so', async () => {
    const log = logOf(saslEnv({ password: 'not-the-password' }));
    const err = await log.ensureTopics([{ name: `tls-${randomUUID().slice(0, 8)}.x`, partitions: 1 }]).then(() => undefined, (e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect(String(err?.message)).toMatch(/SASL SCRAM SHA256 authentication failed|invalid credentials/i);
    expect(String(err?.message)).not.toContain('not-the-password');
  });

  it('connects to the SSL listener with the CA, and not without it', async () => {
    const ssl = { HEXFLEET_KAFKA_BROKERS: broker.sslBrokers, HEXFLEET_KAFKA_SSL: 'true', HEXFLEET_KAFKA_TIMEOUT_MS: '3000' };
    const topic = `tls-${randomUUID().slice(0, 8)}.ssl`;
    await logOf({ ...ssl, HEXFLEET_KAFKA_CA_FILE: ca.caFile }).ensureTopics([{ name: topic, partitions: 1 }]);
    const other = TestCa.create('not-kafka');
    try {
      const untrusted = logOf({ ...ssl, HEXFLEET_KAFKA_CA_FILE: other.caFile });
      await expect(untrusted.ensureTopics([{ name: `${topic}2`, partitions: 1 }])).rejects.toThrow();
    } finally {
      other.cleanup();
    }
  });
});
