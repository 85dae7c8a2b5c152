import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { KafkaBroker } from '../../kit/kafka-broker.js';
import { KafkaEventLog } from '../../src/backend/kafka/kafka-event-log.js';
import type { KafkaEventLogOptions } from '../../src/backend/kafka/kafka-options.js';
import { HexfleetError } from '../../src/protocol/error-codes.js';
import { waitFor } from '../support/wait-for.js';
import { eventLogContract, values } from './event-log.contract.js';
import { deleteTopicsWithPrefix } from './kafka-topics.js';

/**
 * KafkaEventLog against a real Kafka 4.1.1 broker: the EventLog contract on
 * the run's broker (test/support/kafka-global-setup.ts), and what only a
 * broker of its own can show — a broker killed and restarted mid-stream.
 */

const prefix = `test-${randomUUID()}`;
const quiet = pino({ level: 'silent' });

/**
 * Consumer timings short enough for tests: a member that does not finish
 * its batch is dropped after 3 s (the rebalance timeout), a silent one after
 * 6 s (the broker's smallest session timeout); idle fetches return within
 * 100 ms, so stop() is quick.
 */
function options(brokers: string, extra: Partial<KafkaEventLogOptions> = {}): KafkaEventLogOptions {
  return {
    brokers: brokers.split(','), clientId: 'hexfleet-test', timeoutMs: 5_000, replicationFactor: 1,
    sessionTimeoutMs: 6_000, rebalanceTimeoutMs: 3_000, heartbeatIntervalMs: 500, fetchMaxWaitMs: 100, retryDelayMs: 100,
    ...extra,
  };
}

function runBrokers(): string {
  const brokers = inject('kafkaBrokers');
  if (!brokers) throw new Error('no Kafka broker: test/support/kafka-global-setup.ts starts one for *.kafka.test.ts files (is it in vitest.config.ts globalSetup?)');
  return brokers;
}

eventLogContract('KafkaEventLog', () => ({
  open: () => new KafkaEventLog(options(runBrokers()), quiet),
  topicPrefix: prefix,
  cleanup: () => deleteTopicsWithPrefix(runBrokers(), prefix),
}));

describe('KafkaEventLog.close()', () => {
  it('makes a read in progress reject with log_unavailable once its handler returns', async () => {
    const log = new KafkaEventLog(options(runBrokers()), quiet);
    const topic = `${prefix}.close-read`;
    await log.ensureTopics([{ name: topic, partitions: 2 }]);
    await log.append(topic, [{ key: 'a', value: Buffer.from('1') }, { key: 'b', value: Buffer.from('2') }, { key: 'c', value: Buffer.from('3') }]);
    let closing: Promise<void> | undefined;
    const reading = log.read(topic, { kind: 'earliest' }, undefined, async () => {
      closing ??= log.close();
    });
    await expect(reading).rejects.toMatchObject({ code: 'log_unavailable' });
    await closing;
  });
});

describe('KafkaEventLog when its broker is killed and restarted mid-stream', () => {
  let broker: KafkaBroker | undefined;
  beforeAll(async () => {
    broker = await KafkaBroker.start();
  });
  afterAll(() => broker?.stop());

  it('appends reject with log_unavailable within the timeout while it is down, succeed again after the restart, and a consumer carries on', async () => {
    const timeoutMs = 2_000;
    const log = new KafkaEventLog(options(broker!.brokers, { timeoutMs }), quiet);
    try {
      const topic = `${prefix}.chaos`;
      await log.ensureTopics([{ name: topic, partitions: 2 }]);
      await log.append(topic, values(0, 10));
      const got = new Set<string>();
      const consumer = await log.consume({
        group: `${topic}.g`, topics: [topic], fromBeginning: true,
        handler: async (b) => b.records.forEach((r) => got.add(r.value.toString())),
      });
      await waitFor(() => got.size === 10, { what: 'the records from before the kill' });

      await broker!.kill();
      const started = performance.now();
      const err = await log.append(topic, values(10, 11)).catch((e: unknown) => e);
      const took = performance.now() - started;
      expect(err).toBeInstanceOf(HexfleetError);
      expect((err as HexfleetError).code).toBe('log_unavailable');
      expect(took).toBeLessThan(timeoutMs + 500);
      await expect(log.check()).rejects.toMatchObject({ code: 'log_unavailable' });

      await broker!.restart();
      await waitFor(() => log.append(topic, values(100, 101)).then(() => true, () => false), { what: 'an append to succeed after the restart', timeoutMs: 30_000, intervalMs: 100 });
      await log.check();
      await log.append(topic, values(101, 110));
      await waitFor(() => values(100, 110).every((r) => got.has(r.value.toString())), { what: 'the consumer to get what was appended after the restart', timeoutMs: 60_000 });
      await consumer.stop();
    } finally {
      await log.close();
    }
  });
});
