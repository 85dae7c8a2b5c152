import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { logLevel } from 'kafkajs';
import { pino } from 'pino';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { kafkaClientConfig } from '../../src/backend/kafka/kafka-options.js';
import { kafkajsLogCreator } from '../../src/backend/kafka/kafkajs-logger.js';
import { type KafkaLogConfig, kafkaLogOptions } from '../../src/backend/kafka/open-kafka-log.js';
import { ConfigError } from '../../src/config/load-config.js';

/** The Kafka settings hexfleet maps from its configuration, and how kafkajs's logging reaches pino. No broker needed. */

const dir = mkdtempSync(join(tmpdir(), 'hexfleet-kafka-options-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const base: KafkaLogConfig = {
  kafkaBrokers: 'a.example:9092, b.example:9093',
  kafkaClientId: 'hexfleet-eu',
  kafkaTimeoutMs: 4000,
  kafkaSsl: false,
  kafkaCaFile: '',
  kafkaSaslMechanism: 'none',
  kafkaSaslUsername: '',
  kafkaSaslPassword: '',
};

describe('kafkaLogOptions: the configuration as KafkaEventLog options', () => {
  it('splits the broker list and carries the client id, the timeout and the replication factor (1 unless configured)', () => {
    expect(kafkaLogOptions(base)).toEqual({ brokers: ['a.example:9092', 'b.example:9093'], clientId: 'hexfleet-eu', timeoutMs: 4000, replicationFactor: 1, ssl: false });
    expect(kafkaLogOptions({ ...base, kafkaReplicationFactor: 3 }).replicationFactor).toBe(3);
  });

  it('passes SASL credentials only with a mechanism', () => {
    expect(kafkaLogOptions({ ...base, kafkaSaslUsername: 'u', kafkaSaslPassword: 'p' }).sasl).toBeUndefined();
    const o = kafkaLogOptions({ ...base, kafkaSaslMechanism: 'scram-sha-512', kafkaSaslUsername: 'u', kafkaSaslPassword: 'p' });
    expect(o.sasl).toEqual({ mechanism: 'scram-sha-512', username: 'u', password: 'p' });
    expect(kafkaClientConfig(o).sasl).toEqual({ mechanism: 'scram-sha-512', username: 'u', password: 'p' });
  });

  it('reads the CA file for TLS, and names the option when it cannot', () => {
    const ca = join(dir, 'ca.pem');
    writeFileSync(ca, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    const o = kafkaLogOptions({ ...base, kafkaSsl: true, kafkaCaFile: ca });
    expect(kafkaClientConfig(o).ssl).toEqual({ ca: [o.caPem] });
    expect(kafkaClientConfig(kafkaLogOptions({ ...base, kafkaSsl: true })).ssl).toBe(true);
    expect(kafkaClientConfig(kafkaLogOptions(base)).ssl).toBeUndefined();

    expect(() => kafkaLogOptions({ ...base, kafkaSsl: true, kafkaCaFile: join(dir, 'missing.pem') })).toThrow(ConfigError);
    expect(() => kafkaLogOptions({ ...base, kafkaSsl: true, kafkaCaFile: join(dir, 'missing.pem') })).toThrow(/^HEXFLEET_KAFKA_CA_FILE: cannot read the CA file/);
    const notPem = join(dir, 'key.txt');
    writeFileSync(notPem, 'hello');
    expect(() => kafkaLogOptions({ ...base, kafkaSsl: true, kafkaCaFile: notPem })).toThrow(/^HEXFLEET_KAFKA_CA_FILE: ".*key.txt" holds no PEM certificate$/);
  });

  it('bounds connections and requests by the timeout', () => {
    const c = kafkaClientConfig(kafkaLogOptions(base));
    expect([c.connectionTimeout, c.requestTimeout, c.authenticationTimeout]).toEqual([4000, 4000, 4000]);
  });
});

describe('kafkajsLogCreator: kafkajs logging through pino', () => {
  function capture(level = 'debug'): { lines: { level: number; msg: string; repeated?: number }[]; logEntry: ReturnType<ReturnType<typeof kafkajsLogCreator>> } {
    const lines: { level: number; msg: string }[] = [];
    const sink = new Writable({ write: (chunk: Buffer, _enc, cb) => { lines.push(JSON.parse(chunk.toString())); cb(); } });
    const log = pino({ level }, sink);
    return { lines, logEntry: kafkajsLogCreator(log)(logLevel.WARN) };
  }
  const entry = (level: logLevel, message: string, extra: Record<string, unknown> = {}) =>
    ({ namespace: 'Connection', level, label: 'X', log: { timestamp: '', logger: 'kafkajs', message, ...extra } });
  const flush = () => new Promise((r) => setImmediate(r));

  it('errors and warnings keep their level; info and retried conditions go to debug', async () => {
    const { lines, logEntry } = capture();
    logEntry(entry(logLevel.ERROR, 'Connection error: connect ECONNREFUSED 127.0.0.1:9092'));
    logEntry(entry(logLevel.WARN, 'Could not create topics'));
    logEntry(entry(logLevel.INFO, 'Starting'));
    logEntry(entry(logLevel.ERROR, 'Response InitProducerId(key: 22, version: 1)', { error: "The coordinator is loading and hence can't process requests for this group" }));
    logEntry(entry(logLevel.WARN, 'Limiting retries for the idempotent producer may invalidate EoS guarantees'));
    await flush();
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      [50, 'Connection error: connect ECONNREFUSED 127.0.0.1:9092'],
      [40, 'Could not create topics'],
      [20, 'Starting'],
      [20, 'Response InitProducerId(key: 22, version: 1)'],
      [20, 'Limiting retries for the idempotent producer may invalidate EoS guarantees'],
    ]);
  });

  it('logs a repeated message once per 10 s, then says how often it was left out', async () => {
    const { lines, logEntry } = capture('warn');
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      for (let i = 0; i < 50; i++) logEntry(entry(logLevel.ERROR, 'Connection error: connect ECONNREFUSED 127.0.0.1:9092'));
      vi.setSystemTime(Date.now() + 10_001);
      logEntry(entry(logLevel.ERROR, 'Connection error: connect ECONNREFUSED 127.0.0.1:9092'));
    } finally {
      vi.useRealTimers();
    }
    await flush();
    expect(lines.map((l) => l.repeated)).toEqual([undefined, 49]);
  });
});
