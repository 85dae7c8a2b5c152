import { type Kafka, type Message, Partitioners, type Producer } from 'kafkajs';
import { HexfleetError } from '../../protocol/error-codes.js';
import type { LogRecord } from '../../eventlog/event-log.js';
import { kafkaCall } from './kafka-call.js';
import { CALL_RETRY } from './kafka-options.js';

/** One idempotent producer and the sends it still has going. */
interface Slot {
  producer: Producer;
  /** Started by the first append through this slot. */
  connected: Promise<void> | undefined;
  inflight: number;
  /** An append through it failed: no new append uses it; it is disconnected once its sends settle. */
  retired: boolean;
}

/**
 * The appends of a KafkaEventLog: an idempotent producer (acks from all
 * in-sync replicas; kafkajs sends one produce request per broker at a time,
 * so sequence numbers never arrive out of order), every append bounded by
 * the timeout.
 *
 * Why a failed append replaces the producer: an append that failed may have
 * been written (the broker took it, the answer was lost). kafkajs then rolls
 * its sequence numbers back, and the next batch to that partition would
 * reuse them — the broker would take it for a duplicate of the lost one and
 * drop it while answering success, or refuse every later batch with
 * OUT_OF_ORDER_SEQUENCE_NUMBER. A fresh producer has a fresh producer id, so
 * nothing after a failure can be mistaken for what came before it. The old
 * one finishes its retries (bounded: CALL_RETRY) and is disconnected.
 */
export class KafkaAppender {
  private current: Slot;
  private readonly slots = new Set<Slot>();
  private closed = false;

  constructor(
    private readonly kafka: Kafka,
    private readonly timeoutMs: number,
  ) {
    this.current = this.open();
  }

  async append(topic: string, records: readonly LogRecord[]): Promise<void> {
    if (this.closed) throw new HexfleetError('log_unavailable', 'the Kafka event log is closed');
    if (records.length === 0) return;
    const slot = this.current;
    slot.connected ??= slot.producer.connect();
    const connected = slot.connected;
    const sent = connected.then(() =>
      slot.producer.send({ topic, messages: records.map(toMessage), acks: -1, timeout: this.timeoutMs }),
    );
    slot.inflight++;
    const settled = (): void => {
      slot.inflight--;
      if (slot.retired && slot.inflight === 0) void this.disconnect(slot);
    };
    sent.then(settled, settled);
    try {
      await kafkaCall(`append to ${topic}`, this.timeoutMs, sent);
    } catch (err) {
      this.retire(slot);
      throw err;
    }
  }

  /**
   * No new appends; waits up to `graceMs` for the sends still going (an
   * append that timed out may still be retrying), then disconnects every
   * producer: disconnecting one mid-retry would make kafkajs reconnect it.
   */
  async close(graceMs: number): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const deadline = Date.now() + graceMs;
    while ([...this.slots].some((s) => s.inflight > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await Promise.all([...this.slots].map((s) => this.disconnect(s)));
  }

  private open(): Slot {
    const slot: Slot = {
      producer: this.kafka.producer({
        idempotent: true,
        // kafkajs serialises produce requests per broker for an idempotent
        // producer anyway; one in flight per connection states it (Kafka
        // allows up to 5 with idempotence).
        maxInFlightRequests: 1,
        // A topic is created by ensureTopics with its partition count, never by a first append.
        allowAutoTopicCreation: false,
        retry: { ...CALL_RETRY },
        // murmur2 of the key, as the Java client partitions: a key lands where
        // Java producers and MirrorMaker put it. (Named, or kafkajs warns at every start.)
        createPartitioner: Partitioners.DefaultPartitioner,
      }),
      connected: undefined,
      inflight: 0,
      retired: false,
    };
    this.slots.add(slot);
    return slot;
  }

  private retire(slot: Slot): void {
    if (slot.retired) return;
    slot.retired = true;
    if (slot === this.current && !this.closed) this.current = this.open();
    if (slot.inflight === 0) void this.disconnect(slot);
  }

  private async disconnect(slot: Slot): Promise<void> {
    if (!this.slots.delete(slot)) return;
    if (slot.connected) await slot.connected.catch(() => {});
    await slot.producer.disconnect().catch(() => {});
  }
}

function toMessage(r: LogRecord): Message {
  const m: Message = { key: r.key, value: r.value };
  if (r.headers) m.headers = r.headers;
  if (r.timestamp !== undefined) m.timestamp = String(r.timestamp);
  return m;
}
