import type { TestProject } from 'vitest/node';
import { KafkaBroker } from '../../kit/kafka-broker.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /**
     * `127.0.0.1:<port>` of the run's Kafka broker; undefined when no
     * `*.kafka.test.ts` file is in the run (no broker was started).
     */
    kafkaBrokers?: string;
  }
}

/** The files that need the run's broker. */
const NEEDS_KAFKA = /\.kafka\.test\.ts$/;

/**
 * One Kafka broker (kit/kafka-broker.ts) for the whole run, shared by every
 * `*.kafka.test.ts` file through `inject('kafkaBrokers')`; each file uses
 * topics of its own (`test-${randomUUID()}`). It costs ≈ 3–4 s and ≈ 350 MB,
 * so it is started only when such a file is in the run. Tests that kill a
 * broker start their own with KafkaBroker.start().
 *
 * A run with Kafka tests but without Java or the broker jars fails here, at
 * once, saying how to get them; nothing is skipped.
 */
export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  if (!(await runNeedsKafka(project))) return undefined;
  const broker = await KafkaBroker.start();
  project.provide('kafkaBrokers', broker.brokers);
  return () => broker.stop();
}

/**
 * Whether a `*.kafka.test.ts` file is among the files this run selected.
 * The CLI's file filters are not in vitest's public API: read from
 * `vitest.filenamePattern` (vitest 3) when it is there; without them every
 * test file of the project counts, so a broker is started whenever the
 * project has a Kafka test (never wrongly left out, at worst started for
 * nothing).
 */
async function runNeedsKafka(project: TestProject): Promise<boolean> {
  const pattern = (project.vitest as unknown as { filenamePattern?: unknown }).filenamePattern;
  const filters = Array.isArray(pattern) && pattern.every((p) => typeof p === 'string') ? (pattern as string[]) : undefined;
  const { testFiles } = await project.globTestFiles(filters);
  return testFiles.some((f) => NEEDS_KAFKA.test(f));
}
