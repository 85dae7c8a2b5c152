import { Kafka, logLevel } from 'kafkajs';

/** Deletes every topic whose name starts with `prefix` (a test file's clean-up). */
export async function deleteTopicsWithPrefix(brokers: string, prefix: string): Promise<void> {
  const admin = new Kafka({ clientId: 'test-cleanup', brokers: brokers.split(','), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const mine = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    if (mine.length > 0) await admin.deleteTopics({ topics: mine });
  } finally {
    await admin.disconnect();
  }
}
