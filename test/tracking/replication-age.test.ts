import { describe, expect, it } from 'vitest';
import type { ApplyOutcome, DriverBatch, DriverRecord } from '../../src/geo/driver-store.js';
import { type DriverPosition, lastPositions } from '../../src/tracking/position-bus.js';
import { ReplicatedOrigins } from '../../src/tracking/replicated-origins.js';

/**
 * The origin of a replicated position (issue 12): the replication applier's
 * writes publish positions with their region and replication age, and the
 * gateway's ReplicatedOrigins table answers for the stored position with
 * that fix time only. The two-region run is test/tracking/replication-age.kafka.test.ts.
 */

function record(driverId: string, seq: number, ts: number): DriverRecord {
  return { driverId, lat: 52.5, lng: 13.4, ts, seq, status: 'available', vehicle: 'unknown', cell: 'x', indexed: true };
}

describe('lastPositions of a replicated write', () => {
  const batch = (driverId: string, ...pings: [seq: number, ts: number][]): DriverBatch =>
    ({ driverId, pings: pings.map(([seq, ts]) => ({ seq, ts, lat: 52.5, lng: 13.4 })) });

  it('stamps region and age (applied − accepted, per batch) on the positions its own pings put there', () => {
    const batches = [batch('d1', [1, 1_000], [2, 2_000]), batch('d2', [5, 3_000])];
    const outcomes: ApplyOutcome[] = [
      { applied: 2, duplicates: 0, record: record('d1', 2, 2_000) },
      { applied: 1, duplicates: 0, record: record('d2', 5, 3_000) },
    ];
    const out = lastPositions(batches, outcomes, { region: 'a', acceptedAt: [10_000, 10_400], appliedAt: 10_500 });
    expect(out.map((p) => [p.driverId, p.region, p.replicationAgeMs])).toEqual([['d1', 'a', 500], ['d2', 'a', 100]]);
  });

  it('leaves a stored position the write did not move (a newer local fix) without an origin, and never a negative age', () => {
    const batches = [batch('d1', [7, 1_000]), batch('d2', [3, 5_000])];
    const outcomes: ApplyOutcome[] = [
      // Seq 7 applied, but the record keeps the local fix at ts 9_000: not this region's doing.
      { applied: 1, duplicates: 0, record: record('d1', 7, 9_000) },
      { applied: 1, duplicates: 0, record: record('d2', 3, 5_000) },
    ];
    const out = lastPositions(batches, outcomes, { region: 'a', acceptedAt: [10_000, 20_000], appliedAt: 15_000 });
    expect(out[0]!.region).toBeUndefined();
    expect(out[0]!.replicationAgeMs).toBeUndefined();
    expect(out[1]).toMatchObject({ region: 'a', replicationAgeMs: 0 });
  });

  it('local writes (no third argument) carry no origin', () => {
    const out = lastPositions([batch('d1', [1, 1_000])], [{ applied: 1, duplicates: 0, record: record('d1', 1, 1_000) }]);
    expect(out[0]).not.toHaveProperty('region');
    expect(out[0]).not.toHaveProperty('replicationAgeMs');
  });
});

describe('ReplicatedOrigins', () => {
  const pos = (driverId: string, ts: number, region?: string, replicationAgeMs?: number): DriverPosition =>
    ({ driverId, lat: 52.5, lng: 13.4, ts, ...(region === undefined ? {} : { region, replicationAgeMs }) });

  it('answers for the replicated fix only; a local fix with another ts forgets it, one with the same ts keeps it', () => {
    const o = new ReplicatedOrigins();
    o.observe([pos('d1', 1_000, 'a', 40)]);
    expect(o.originOf('d1', 1_000)).toEqual({ region: 'a', replicationAgeMs: 40 });
    expect(o.originOf('d1', 999)).toBeUndefined();
    expect(o.originOf('d2', 1_000)).toBeUndefined();
    // A local write that left the replicated position in place (publishes the stored record: same ts).
    o.observe([pos('d1', 1_000)]);
    expect(o.originOf('d1', 1_000)).toEqual({ region: 'a', replicationAgeMs: 40 });
    // A local ping moved the driver.
    o.observe([pos('d1', 2_000)]);
    expect(o.originOf('d1', 1_000)).toBeUndefined();
    expect(o.size).toBe(0);
  });

  it('latest wins: an older replicated position never replaces a newer one', () => {
    const o = new ReplicatedOrigins();
    o.observe([pos('d1', 2_000, 'b', 10)]);
    o.observe([pos('d1', 1_000, 'a', 20)]);
    expect(o.originOf('d1', 2_000)).toEqual({ region: 'b', replicationAgeMs: 10 });
    o.observe([pos('d1', 3_000, 'a', 30)]);
    expect(o.originOf('d1', 3_000)).toEqual({ region: 'a', replicationAgeMs: 30 });
  });

  it('annotate: a new object with region and replicationAgeMs for a replicated position, the same object otherwise', () => {
    const o = new ReplicatedOrigins();
    o.observe([pos('d1', 1_000, 'a', 40)]);
    const nearby = { driverId: 'd1', ts: 1_000, ageMs: 5, stale: false };
    expect(o.annotate(nearby)).toEqual({ ...nearby, region: 'a', replicationAgeMs: 40 });
    expect(nearby).not.toHaveProperty('region');
    const local = { driverId: 'd2', ts: 1_000 };
    expect(o.annotate(local)).toBe(local);
  });

  it('holds at most `max` drivers, forgetting the one that moved least recently', () => {
    const o = new ReplicatedOrigins(2);
    o.observe([pos('d1', 1, 'a', 1), pos('d2', 1, 'a', 1)]);
    o.observe([pos('d1', 2, 'a', 1)]);
    o.observe([pos('d3', 1, 'a', 1)]);
    expect(o.size).toBe(2);
    expect(o.originOf('d2', 1)).toBeUndefined();
    expect(o.originOf('d1', 2)).toBeDefined();
    expect(o.originOf('d3', 1)).toBeDefined();
  });
});
