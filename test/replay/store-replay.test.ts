import { afterEach, describe, expect, it } from 'vitest';
import { MemoryDriverStore } from '../../src/backend/memory/memory-driver-store.js';
import { MemoryOrderStore } from '../../src/backend/memory/memory-order-store.js';
import { HEADERS, topicsOf } from '../../src/eventlog/topics.js';
import type { ApplyOutcome, DriverBatch, DriverRecord, DriverStore, Ping } from '../../src/geo/driver-store.js';
import { RingPlanner } from '../../src/geo/ring-planner.js';
import { positionRecord } from '../../src/ingest/position-records.js';
import { HexfleetError } from '../../src/protocol/error-codes.js';
import { BatchApplier } from '../../src/replay/batch-applier.js';
import { readLog } from '../../src/replay/read-log.js';
import { replayStores } from '../../src/replay/store-replay.js';
import { MemoryEventLog } from './memory-event-log.js';

/**
 * Store replay without Kafka or Redis: a log in memory, the memory stores.
 * The real log and Redis are in replay.kafka.test.ts; this file pins the
 * rules (idempotence, the time cut, undecodable records, dry run, per-driver
 * order under concurrent calls, merging) where they are cheap to vary.
 */

const topics = topicsOf('test');
const T0 = Date.parse('2026-11-27T12:00:00Z');
const VEHICLES = ['car', 'bike', undefined] as const;
/** Nothing goes stale, offline or expires while a case runs (as TEST_TIMING in test/support/backends.ts). */
const TIMING = { staleMs: 30_000, offlineMs: 3_600_000, retentionMs: 86_400_000 };

let stores: MemoryDriverStore[] = [];
afterEach(async () => {
  await Promise.all(stores.map((s) => s.close()));
  stores = [];
});

function driverStore(): MemoryDriverStore {
  const s = new MemoryDriverStore(new RingPlanner(9), TIMING);
  stores.push(s);
  return s;
}

function targets(drivers = driverStore()): { drivers: MemoryDriverStore; orders: MemoryOrderStore } {
  return { drivers, orders: new MemoryOrderStore(drivers) };
}

/** Deterministic traffic: `drivers` drivers, `batches` batches each, 1–5 pings a batch, statuses now and then, a resend every 7th batch. */
function traffic(drivers: number, batches: number): { batch: DriverBatch; at: number }[] {
  const out: { batch: DriverBatch; at: number }[] = [];
  let x = 1;
  const rnd = (): number => ((x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let b = 0; b < batches; b++) {
    for (let d = 0; d < drivers; d++) {
      const at = T0 + b * 1000 + d;
      const n = 1 + Math.floor(rnd() * 5);
      const pings: Ping[] = [];
      for (let k = 0; k < n; k++) {
        const seq = b * 10 + k;
        const p: Ping = { seq, ts: at - (n - k) * 100, lat: Number((52.4 + rnd() * 0.2).toFixed(7)), lng: Number((13.3 + rnd() * 0.2).toFixed(7)) };
        if (rnd() < 0.2) p.status = (['available', 'busy', 'offline'] as const)[Math.floor(rnd() * 3)]!;
        if (rnd() < 0.1) p.ts -= 5000; // Out of order in time: the store keeps the newer position.
        pings.push(p);
      }
      const vehicle = VEHICLES[d % 3];
      const batch: DriverBatch = vehicle ? { driverId: `d${d}`, vehicle, pings } : { driverId: `d${d}`, pings };
      out.push({ batch, at });
      if (b % 7 === 3) out.push({ batch: structuredClone(batch), at: at + 1 }); // A resend logged twice.
    }
  }
  return out;
}

function logOf(items: { batch: DriverBatch; at: number }[], partitions = 3, batchSize = 50): MemoryEventLog {
  const log = new MemoryEventLog(partitions, batchSize);
  log.appendNow(topics.positions, items.map(({ batch, at }) => ({ ...positionRecord(batch), timestamp: at })));
  return log;
}

async function records(store: DriverStore, ids: string[]): Promise<(Omit<DriverRecord, 'indexed'> | null)[]> {
  return Promise.all(
    ids.map(async (id) => {
      const v = await store.get(id, T0);
      if (!v) return null;
      const { ageMs: _a, stale: _s, ...rec } = v;
      return rec;
    }),
  );
}

/** The same traffic applied the way live ingest does: every batch, one call at a time, in log order. */
async function appliedLive(items: { batch: DriverBatch; at: number }[], until = Infinity): Promise<DriverStore> {
  const s: DriverStore = driverStore();
  for (const { batch, at } of items) if (at <= until) await s.applyBatches([structuredClone(batch)], at);
  return s;
}

const ids = (n: number): string[] => Array.from({ length: n }, (_, d) => `d${d}`);
const window = (to: number) => ({ positions: { kind: 'earliest' as const }, orders: { kind: 'earliest' as const }, to });

describe('store replay', () => {
  it('rebuilds every driver as live ingest left it, and a second replay changes nothing', async () => {
    const items = traffic(40, 30);
    const log = logOf(items);
    const t = targets();
    const first = await replayStores(log, topics, t, { window: window(T0 + 3_600_000), dryRun: false });
    expect(await records(t.drivers, ids(40))).toEqual(await records(await appliedLive(items), ids(40)));
    const pings = items.reduce((n, i) => n + i.batch.pings.length, 0);
    expect(first.positions).toMatchObject({ records: items.length, pings });
    expect(first.positions.applied + first.positions.duplicates).toBe(pings);
    expect(first.positions.duplicates).toBeGreaterThan(0); // The resends.
    expect(first.undecodable.count).toBe(0);
    expect(first.resumeFrom).toMatch(/^0:\d+,1:\d+,2:\d+$/);

    const before = await records(t.drivers, ids(40));
    const second = await replayStores(log, topics, t, { window: window(T0 + 3_600_000), dryRun: false });
    expect(second.positions.applied).toBe(0);
    expect(second.positions.duplicates).toBe(pings);
    expect(await records(t.drivers, ids(40))).toEqual(before);
  });

  it('stops at --to: the state is the one live ingest held at that time', async () => {
    const items = traffic(20, 20);
    const to = T0 + 9_500;
    const t = targets();
    const s = await replayStores(logOf(items), topics, t, { window: window(to), dryRun: false });
    expect(s.positions.records).toBe(items.filter((i) => i.at <= to).length);
    expect(await records(t.drivers, ids(20))).toEqual(await records(await appliedLive(items, to), ids(20)));
  });

  it('continues from the printed offsets: two halves equal one whole', async () => {
    const items = traffic(20, 20);
    const log = logOf(items);
    const half = targets();
    const a = await replayStores(log, topics, half, { window: window(T0 + 9_500), dryRun: false });
    const from = a.resumeFrom.split(',').map((e) => e.split(':').map(Number) as [number, number]);
    const b = await replayStores(log, topics, half, {
      window: { positions: { kind: 'offsets', offsets: Object.fromEntries(from.map(([p, o]) => [p, String(o)])) }, orders: { kind: 'earliest' }, to: T0 + 3_600_000 },
      dryRun: false,
    });
    expect(a.positions.records + b.positions.records).toBe(items.length);
    expect(await records(half.drivers, ids(20))).toEqual(await records(await appliedLive(items), ids(20)));
  });

  it('counts and lists an undecodable record with its offset, and replays the rest', async () => {
    const items = traffic(5, 4);
    const log = logOf(items, 1);
    log.appendNow(topics.positions, [
      { key: 'd1', value: Buffer.from('not msgpack at all'), headers: { [HEADERS.schema]: 'positions/1' }, timestamp: T0 + 100_000 },
      { key: 'd2', value: positionRecord({ driverId: 'd2', pings: [{ seq: 999, ts: T0, lat: 1, lng: 1 }] }).value, headers: { [HEADERS.schema]: 'positions/9' }, timestamp: T0 + 100_001 },
    ]);
    log.appendNow(topics.positions, [{ ...positionRecord({ driverId: 'd3', pings: [{ seq: 1000, ts: T0 + 100_002, lat: 10, lng: 10 }] }), timestamp: T0 + 100_002 }]);
    const t = targets();
    const s = await replayStores(log, topics, t, { window: window(T0 + 3_600_000), dryRun: false });
    expect(s.undecodable.count).toBe(2);
    expect(s.undecodable.first.map((u) => u.offset)).toEqual([String(items.length), String(items.length + 1)]);
    expect(s.undecodable.first[1]!.reason).toContain('positions/9');
    expect((await t.drivers.get('d3', T0))?.seq).toBe(1000);
  });

  it('a dry run reads and counts and writes nothing', async () => {
    const items = traffic(10, 5);
    const t = targets();
    const s = await replayStores(logOf(items), topics, t, { window: window(T0 + 3_600_000), dryRun: true });
    expect(s.positions.records).toBe(items.length);
    expect(s.positions.applied).toBe(0);
    expect(s.sweep).toBeUndefined();
    expect(await t.drivers.get('d0', T0)).toBeNull();
  });

  it('progress is reported while reading', async () => {
    const items = traffic(50, 40);
    const lines: number[] = [];
    const slow = driverStore();
    const apply = slow.applyBatches.bind(slow);
    slow.applyBatches = async (b: DriverBatch[]) => {
      await new Promise((r) => setTimeout(r, 5));
      return apply(b);
    };
    await replayStores(logOf(items), topics, targets(slow), {
      window: window(T0 + 3_600_000),
      dryRun: false,
      progressIntervalMs: 5,
      apply: { lanes: 2, maxBatchesPerCall: 20, maxPingsPerCall: 100, maxQueuedPings: 200 },
      onProgress: (p) => lines.push(p.pings),
    });
    expect(lines.length).toBeGreaterThan(0);
  });
});

describe('BatchApplier', () => {
  it('keeps each driver in order when calls finish out of order, and merging changes no outcome', async () => {
    const items = traffic(30, 25);
    const s = driverStore();
    const apply = s.applyBatches.bind(s);
    let calls = 0;
    // Later calls may finish first: only the lanes keep a driver's batches in order.
    const shuffled: DriverStore = Object.assign(Object.create(s) as DriverStore, {
      applyBatches: async (b: DriverBatch[]): Promise<ApplyOutcome[]> => {
        await new Promise((r) => setTimeout(r, (calls++ * 7) % 5));
        return apply(b);
      },
    });
    const applier = new BatchApplier(shuffled, { lanes: 3, maxBatchesPerCall: 17, maxPingsPerCall: 60, maxQueuedPings: 150 });
    for (const { batch, at } of items) {
      const wait = applier.add(structuredClone(batch), at);
      if (wait) await wait;
    }
    const totals = await applier.drain();
    const live = await appliedLive(items);
    expect(await records(s, ids(30))).toEqual(await records(live, ids(30)));
    const pings = items.reduce((n, i) => n + i.batch.pings.length, 0);
    expect(totals.applied + totals.duplicates).toBe(pings);
    expect(totals.calls).toBeGreaterThan(3);
  });

  it('a failing store rejects drain, and the next add', async () => {
    const s = driverStore();
    s.applyBatches = async () => {
      throw new Error('store down');
    };
    const applier = new BatchApplier(s, { lanes: 2, maxBatchesPerCall: 1, maxPingsPerCall: 1, maxQueuedPings: 10 });
    applier.add({ driverId: 'a', pings: [{ seq: 1, ts: T0, lat: 1, lng: 1 }] }, T0);
    await expect(applier.drain()).rejects.toThrow('store down');
    await expect(applier.add({ driverId: 'a', pings: [{ seq: 2, ts: T0, lat: 1, lng: 1 }] }, T0)).rejects.toThrow('store down');
  });
});

describe('readLog', () => {
  it('tries a read again while it fails with log_unavailable before its first batch, never after', async () => {
    const log = logOf(traffic(3, 2));
    const read = log.read.bind(log);
    let failures = 2;
    log.read = async (...args: Parameters<typeof log.read>) => {
      if (failures-- > 0) throw new HexfleetError('log_unavailable', 'coordinator loading');
      return read(...args);
    };
    let records = 0;
    await readLog(log, topics.positions, { kind: 'earliest' }, T0 + 3_600_000, async (b) => void (records += b.records.length), { attempts: 3, delayMs: 1 });
    expect(records).toBe(6);

    log.read = async (topic, from, to, handler) => {
      await handler({ topic, partition: 0, records: [] });
      throw new HexfleetError('log_unavailable', 'broker gone');
    };
    await expect(readLog(log, topics.positions, { kind: 'earliest' }, T0, async () => {}, { attempts: 3, delayMs: 1 })).rejects.toThrow('broker gone');
    log.read = async () => {
      throw new Error('not retryable');
    };
    await expect(readLog(log, topics.positions, { kind: 'earliest' }, T0, async () => {}, { attempts: 3, delayMs: 1 })).rejects.toThrow('not retryable');
  });
});
