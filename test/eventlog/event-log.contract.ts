import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { EventLog, LogBatch, LogConsumer, LoggedRecord, LogRecord, PartitionOffsets, ReadFrom } from '../../src/eventlog/event-log.js';
import { HEADERS } from '../../src/eventlog/topics.js';
import { HexfleetError } from '../../src/protocol/error-codes.js';
import { waitFor } from '../support/wait-for.js';

/**
 * The EventLog contract (src/eventlog/event-log.ts) as one suite that every
 * implementation runs: the guarantees its TSDoc states, checked against the
 * real thing. Waits are conditions, never fixed sleeps.
 */
export interface EventLogSubject {
  /**
   * A new client of the log. Its consumers must give up on a member that
   * does not finish its batch within a few seconds (the "dies mid-batch"
   * case waits for that). The suite closes every client it opens.
   */
  open(): EventLog;
  /** Prefix of every topic the suite creates: unique to the test file. */
  topicPrefix: string;
  /** Removes every topic under the prefix (run once, after the suite). */
  cleanup(): Promise<void>;
}

export function eventLogContract(name: string, subject: () => EventLogSubject): void {
  describe(`EventLog contract: ${name}`, () => {
    const closers: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const close of closers.splice(0).reverse()) await close();
    });
    afterAll(() => subject().cleanup());

    let topicCount = 0;
    /** A fresh topic with `partitions` partitions on a fresh client. */
    async function setup(partitions: number): Promise<{ log: EventLog; topic: string }> {
      const log = open();
      const topic = `${subject().topicPrefix}.t${++topicCount}`;
      await log.ensureTopics([{ name: topic, partitions }]);
      return { log, topic };
    }
    function open(): EventLog {
      const log = subject().open();
      closers.push(() => log.close());
      return log;
    }
    async function consume(log: EventLog, o: Parameters<EventLog['consume']>[0]): Promise<LogConsumer> {
      const c = await log.consume(o);
      closers.push(() => c.stop());
      return c;
    }

    it('append then read gives back every record with its key, value, headers and timestamp', async () => {
      const { log, topic } = await setup(3);
      await log.ensureTopics([{ name: topic, partitions: 3 }]); // a second time: left as it is
      const stamped = Date.UTC(2026, 0, 2, 3, 4, 5);
      const records: LogRecord[] = [];
      for (let i = 0; i < 30; i++) {
        const r: LogRecord = { key: `driver-${i % 7}`, value: Buffer.from(`value ${i} ✓`), headers: { [HEADERS.schema]: 'test/1', n: String(i) } };
        if (i % 3 === 0) r.timestamp = stamped + i;
        records.push(r);
      }
      const before = Date.now();
      await log.append(topic, records.slice(0, 10));
      await log.append(topic, records.slice(10));
      const after = Date.now();

      const { records: read, last } = await readAll(log, topic, { kind: 'earliest' });
      expect(read).toHaveLength(30);
      for (const got of read) {
        const i = Number(got.headers.n);
        const sent = records[i]!;
        expect(got.topic).toBe(topic);
        expect(got.key).toBe(sent.key);
        expect(got.value.equals(sent.value)).toBe(true);
        expect(got.headers).toEqual(sent.headers);
        expect(got.offset).toMatch(/^\d+$/);
        if (sent.timestamp !== undefined) expect(got.timestamp).toBe(sent.timestamp);
        else {
          expect(got.timestamp).toBeGreaterThanOrEqual(before - 1000);
          expect(got.timestamp).toBeLessThanOrEqual(after + 1000);
        }
      }
      expect(Object.keys(await log.endOffsets(topic))).toHaveLength(3);
      // read() resolves with the last offset read per partition: one before the end of the log.
      const ends = await log.endOffsets(topic);
      for (const [p, offset] of Object.entries(last)) expect(BigInt(offset) + 1n).toBe(BigInt(ends[Number(p)]!));
      expect(sumOffsets(ends)).toBe(30n);
    });

    it('records of one key stay in one partition, in append order', async () => {
      const { log, topic } = await setup(4);
      const keys = ['a', 'b', 'c', 'd', 'e'];
      for (let round = 0; round < 5; round++) {
        const batch = [];
        for (let i = 0; i < 10; i++) for (const k of keys) batch.push({ key: k, value: Buffer.from(String(round * 10 + i)) });
        await log.append(topic, batch);
      }
      const { records } = await readAll(log, topic, { kind: 'earliest' });
      for (const k of keys) {
        const mine = records.filter((r) => r.key === k);
        expect(mine.map((r) => Number(r.value.toString()))).toEqual([...Array(50).keys()]);
        expect(new Set(mine.map((r) => r.partition)).size).toBe(1);
      }
    });

    it('consume hands out every record in offset order per partition and commits after the handler', async () => {
      const { log, topic } = await setup(3);
      const records = Array.from({ length: 60 }, (_, i) => ({ key: `k${i % 9}`, value: Buffer.from(String(i)) }));
      await log.append(topic, records);
      const got: LoggedRecord[] = [];
      const group = `${topic}.g`;
      await consume(log, { group, topics: [topic], fromBeginning: true, handler: async (b) => void got.push(...b.records) });
      await waitFor(() => got.length === 60, { what: '60 records consumed' });
      for (let p = 0; p < 3; p++) {
        const offsets = got.filter((r) => r.partition === p).map((r) => BigInt(r.offset));
        expect(offsets).toEqual([...offsets].sort((a, b) => (a < b ? -1 : 1)));
      }
      const ends = await log.endOffsets(topic);
      await waitFor(async () => lag(ends, await log.groupOffsets(group, topic)) === 0n, { what: 'the group to commit the end of every partition' });
    });

    it('a consumer that dies mid-batch leaves the uncommitted batch to the next member of the group', async () => {
      const { log, topic } = await setup(1);
      const group = `${topic}.g`;
      await log.append(topic, values(0, 5));
      const firstGot: LoggedRecord[] = [];
      let hung: LogBatch | undefined;
      const hang = gate();
      const first = await consume(open(), {
        group, topics: [topic], fromBeginning: true,
        handler: async (b) => {
          if (firstGot.length >= 5) {
            hung = b;
            return hang.wait; // never resolves while the second member takes over
          }
          firstGot.push(...b.records);
        },
      });
      closers.push(async () => hang.open()); // runs before the member is stopped, should the test fail first
      await waitFor(async () => (await log.groupOffsets(group, topic))[0] === '5', { what: 'the first batch committed' });
      await log.append(topic, values(5, 10));
      await waitFor(() => hung !== undefined, { what: 'the second batch in the first member\'s hands' });

      const secondGot: LoggedRecord[] = [];
      await consume(open(), { group, topics: [topic], fromBeginning: true, handler: async (b) => void secondGot.push(...b.records) });
      await waitFor(() => secondGot.length >= 5, { what: 'the second member to get the uncommitted batch', timeoutMs: 30_000 });
      expect(secondGot.map((r) => r.offset)).toEqual(hung!.records.map((r) => r.offset));
      expect(secondGot.map((r) => r.value.toString())).toEqual(['5', '6', '7', '8', '9']);
      await waitFor(async () => (await log.groupOffsets(group, topic))[0] === '10', { what: 'the second member to commit it' });

      hang.open(); // the first member finishes late: its commit must not move the group back or forward
      await first.stop();
      expect((await log.groupOffsets(group, topic))[0]).toBe('10');
    });

    it('a handler that rejects gets the same batch again after retryDelayMs, and it is committed once handled', async () => {
      const { log, topic } = await setup(1);
      const group = `${topic}.g`;
      await log.append(topic, values(0, 3));
      const calls: { at: number; offsets: string[] }[] = [];
      await consume(log, {
        group, topics: [topic], fromBeginning: true, retryDelayMs: 300,
        handler: async (b) => {
          calls.push({ at: performance.now(), offsets: b.records.map((r) => r.offset) });
          if (calls.length < 3) throw new Error('not yet');
        },
      });
      await waitFor(async () => (await log.groupOffsets(group, topic))[0] === '3', { what: 'the batch committed after the third try' });
      expect(calls).toHaveLength(3);
      expect(calls[1]!.offsets).toEqual(calls[0]!.offsets);
      expect(calls[2]!.offsets).toEqual(calls[0]!.offsets);
      expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(290);
    });

    it('stop() waits for the batch in hand, commits it, and leaves the group', async () => {
      const { log, topic } = await setup(1);
      const group = `${topic}.g`;
      await log.append(topic, values(0, 4));
      const slow = gate();
      let inHandler = false;
      const c = await log.consume({ group, topics: [topic], fromBeginning: true, handler: async () => { inHandler = true; await slow.wait; } });
      await waitFor(() => inHandler, { what: 'the handler to start' });
      let stopped = false;
      const stopping = c.stop().then(() => (stopped = true));
      await new Promise((r) => setImmediate(r));
      expect(stopped).toBe(false);
      slow.open();
      await stopping;
      expect((await log.groupOffsets(group, topic))[0]).toBe('4');
    });

    it('read() starts at a time or at offsets and ends at a time', async () => {
      const { log, topic } = await setup(1);
      const t0 = Date.UTC(2026, 5, 1);
      await log.append(topic, Array.from({ length: 10 }, (_, i) => ({ key: 'k', value: Buffer.from(String(i)), timestamp: t0 + i * 1000 })));
      const text = async (from: ReadFrom, toTime?: number): Promise<string> => (await readAll(log, topic, from, toTime)).records.map((r) => r.value.toString()).join('');
      expect(await text({ kind: 'earliest' })).toBe('0123456789');
      expect(await text({ kind: 'time', at: t0 + 3000 })).toBe('3456789');
      expect(await text({ kind: 'time', at: t0 + 3500 })).toBe('456789');
      expect(await text({ kind: 'earliest' }, t0 + 5000)).toBe('012345');
      expect(await text({ kind: 'time', at: t0 + 2000 }, t0 + 4999)).toBe('234');
      expect(await text({ kind: 'offsets', offsets: { 0: '7' } })).toBe('789');
      expect(await text({ kind: 'offsets', offsets: { 0: '7' } }, t0 + 7000)).toBe('7');
      expect(await text({ kind: 'offsets', offsets: { 0: '10' } })).toBe('');
      expect(await text({ kind: 'earliest' }, t0 - 1)).toBe('');
      expect(await text({ kind: 'time', at: t0 + 60_000 })).toBe('');
      expect(await readAll(log, topic, { kind: 'offsets', offsets: { 0: '10' } })).toEqual({ records: [], last: {} });
    });

    it('read() stops at the end the log had when it started, and resumes from the offsets it returned', async () => {
      const { log, topic } = await setup(2);
      await log.append(topic, Array.from({ length: 20 }, (_, i) => ({ key: `k${i % 5}`, value: Buffer.from(String(i)) })));
      let appended = false;
      const first = await readAll(log, topic, { kind: 'earliest' }, undefined, async () => {
        if (!appended) {
          appended = true;
          await log.append(topic, Array.from({ length: 10 }, (_, i) => ({ key: `k${i % 5}`, value: Buffer.from(String(20 + i)) })));
        }
      });
      expect(first.records.map((r) => Number(r.value.toString())).sort((a, b) => a - b)).toEqual([...Array(20).keys()]);
      const next: PartitionOffsets = {};
      for (const [p, o] of Object.entries(first.last)) next[Number(p)] = String(BigInt(o) + 1n);
      const rest = await readAll(log, topic, { kind: 'offsets', offsets: next });
      expect(rest.records.map((r) => Number(r.value.toString())).sort((a, b) => a - b)).toEqual([20, 21, 22, 23, 24, 25, 26, 27, 28, 29]);
    });

    it('a handler rejection rejects read() with that error', async () => {
      const { log, topic } = await setup(1);
      await log.append(topic, values(0, 3));
      const boom = new Error('replay failed');
      await expect(log.read(topic, { kind: 'earliest' }, undefined, async () => { throw boom; })).rejects.toBe(boom);
    });

    it('endOffsets and groupOffsets give a group\'s lag', async () => {
      const { log, topic } = await setup(2);
      const group = `${topic}.g`;
      expect(await log.groupOffsets(group, topic)).toEqual({});
      await log.append(topic, Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: Buffer.from(String(i)) })));
      expect(sumOffsets(await log.endOffsets(topic))).toBe(10n);
      const c = await log.consume({ group, topics: [topic], fromBeginning: true, handler: async () => {} });
      await waitFor(async () => lag(await log.endOffsets(topic), await log.groupOffsets(group, topic)) === 0n, { what: 'lag 0' });
      await c.stop();
      await log.append(topic, Array.from({ length: 4 }, (_, i) => ({ key: `k${i}`, value: Buffer.from(String(i)) })));
      expect(lag(await log.endOffsets(topic), await log.groupOffsets(group, topic))).toBe(4n);
    });

    it('close() stops the consumers, is idempotent, and the log refuses appends after it', async () => {
      const { topic } = await setup(1);
      const log = subject().open();
      await log.consume({ group: `${topic}.g`, topics: [topic], fromBeginning: true, handler: async () => {} });
      await Promise.all([log.close(), log.close()]);
      await log.close();
      const err = await log.append(topic, values(0, 1)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(HexfleetError);
      expect((err as HexfleetError).code).toBe('log_unavailable');
    });
  });
}

/** Records with values `from`…`to - 1`, all of key `k`. */
export function values(from: number, to: number): LogRecord[] {
  return Array.from({ length: to - from }, (_, i) => ({ key: 'k', value: Buffer.from(String(from + i)) }));
}

/** Everything read() hands out, in the order it was handed out, and what it resolved with. */
export async function readAll(
  log: EventLog, topic: string, from: ReadFrom, toTime?: number, onBatch?: (b: LogBatch) => Promise<void>,
): Promise<{ records: LoggedRecord[]; last: PartitionOffsets }> {
  const records: LoggedRecord[] = [];
  const last = await log.read(topic, from, toTime, async (b) => {
    records.push(...b.records);
    await onBatch?.(b);
  });
  return { records, last };
}

function sumOffsets(o: PartitionOffsets): bigint {
  return Object.values(o).reduce((s, v) => s + BigInt(v), 0n);
}

function lag(ends: PartitionOffsets, committed: PartitionOffsets): bigint {
  return Object.entries(ends).reduce((s, [p, end]) => s + BigInt(end) - BigInt(committed[Number(p)] ?? '0'), 0n);
}

/** A promise to hold a handler on, and the function that lets it go. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((r) => (open = r));
  return { wait, open };
}
