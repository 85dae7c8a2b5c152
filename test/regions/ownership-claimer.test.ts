import { pino } from 'pino';
import { freePort } from '../../kit/free-port.js';
import { KafkaEventLog } from '../../src/backend/kafka/kafka-event-log.js';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { OwnershipClaimer } from '../../src/regions/ownership-claimer.js';
import { MemoryOwnershipStore } from '../../src/backend/memory/memory-ownership-store.js';
import { OwnershipMetrics } from '../../src/regions/ownership-metrics.js';
import type { Ownership } from '../../src/ownership/ownership.js';

/**
 * What a connecting driver's home becomes in region `b` (OwnershipClaimer),
 * as a table: the record held before, whether its home region is known to
 * be unreachable (a failed probe), and the record after, with the move
 * counted once per move and never per connect.
 */

const cases: { name: string; held: Ownership | null; down: string[]; after: Ownership; moves: number; claims: number }[] = [
  { name: 'no record: claimed here at epoch 1', held: null, down: [], after: { region: 'b', epoch: 1 }, moves: 0, claims: 1 },
  { name: 'home here: unchanged', held: { region: 'b', epoch: 3 }, down: ['a'], after: { region: 'b', epoch: 3 }, moves: 0, claims: 0 },
  { name: 'home a, a reachable: stays a (read-only here)', held: { region: 'a', epoch: 1 }, down: [], after: { region: 'a', epoch: 1 }, moves: 0, claims: 0 },
  { name: 'home a, a unreachable: moves here at epoch + 1', held: { region: 'a', epoch: 1 }, down: ['a'], after: { region: 'b', epoch: 2 }, moves: 1, claims: 0 },
  { name: 'home c (not probed or up), a unreachable: stays c', held: { region: 'c', epoch: 4 }, down: ['a'], after: { region: 'c', epoch: 4 }, moves: 0, claims: 0 },
];

function claimerIn(region: string, store: MemoryOwnershipStore, down: readonly string[]) {
  const registry = new Registry();
  const metrics = new OwnershipMetrics(registry);
  const claimer = new OwnershipClaimer({ region, store, isUnreachable: (r) => down.includes(r), metrics, logger: pino({ level: 'silent' }) });
  const count = async (name: string, labels: Record<string, string> = {}): Promise<number> => {
    const m = (await registry.getSingleMetric(name)!.get()).values;
    return m.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((a, v) => a + v.value, 0);
  };
  return { claimer, count };
}

describe('OwnershipClaimer in region b', () => {
  it.each(cases)('$name', async ({ held, down, after, moves, claims }) => {
    const store = new MemoryOwnershipStore();
    if (held) await store.apply('d1', held);
    const { claimer, count } = claimerIn('b', store, down);
    expect(await claimer.onConnect('d1')).toEqual(after);
    expect(await store.get('d1')).toEqual(after);
    // Connecting again changes nothing more: one move per move, not per connect.
    expect(await claimer.onConnect('d1')).toEqual(after);
    expect(await count('hexfleet_ownership_moves_total')).toBe(moves);
    if (moves > 0) expect(await count('hexfleet_ownership_moves_total', { from: held!.region, to: 'b' })).toBe(moves);
    expect(await count('hexfleet_ownership_claims_total')).toBe(claims);
  });

  it('a claim whose record the log did not take is appended again on the next connect, not silently kept local', async () => {
    // A Kafka that refuses connections (nothing listens on the port): every append fails with log_unavailable.
    const eventLog = new KafkaEventLog({ brokers: [`127.0.0.1:${await freePort()}`], clientId: 'own-claimer-test', timeoutMs: 500, replicationFactor: 1 }, pino({ level: 'silent' }));
    try {
      const store = new MemoryOwnershipStore();
      const claimer = new OwnershipClaimer({
        region: 'b', store, isUnreachable: () => false, log: { eventLog, topic: 'x.ownership' },
        metrics: new OwnershipMetrics(new Registry()), logger: pino({ level: 'silent' }),
      });
      await expect(claimer.onConnect('d1')).rejects.toThrow();
      // The claim stands here; the record is still owed to the log, so the next connect tries again (and says so by failing).
      expect(await store.get('d1')).toEqual({ region: 'b', epoch: 1 });
      await expect(claimer.onConnect('d1')).rejects.toThrow(/log|Kafka|connect/i);
    } finally {
      await eventLog.close();
    }
  });

  it('two regions claiming one driver at once: the first record stays, the other loses (equal epochs never change the region)', async () => {
    const store = new MemoryOwnershipStore();
    await store.apply('d1', { region: 'a', epoch: 1 });
    // b and c both saw a unreachable and both move the driver at epoch 2: whichever the store applied first is the home.
    const b = claimerIn('b', store, ['a']);
    const c = claimerIn('c', store, ['a']);
    const [rb, rc] = await Promise.all([b.claimer.onConnect('d1'), c.claimer.onConnect('d1')]);
    expect(rb).toEqual(rc);
    expect(rb.epoch).toBe(2);
    expect((await b.count('hexfleet_ownership_moves_total')) + (await c.count('hexfleet_ownership_moves_total'))).toBe(1);
  });

  it('a region found unreachable moves the drivers connected here whose home it was, not those gone or homed elsewhere', async () => {
    const store = new MemoryOwnershipStore();
    for (const [d, region] of [['d1', 'a'], ['d2', 'a'], ['d3', 'c'], ['gone', 'a']] as const) await store.apply(d, { region, epoch: 1 });
    const down: string[] = [];
    const { claimer, count } = claimerIn('b', store, down);
    // They connected while a still answered its probes: they stay a's (read-only here).
    for (const d of ['d1', 'd2', 'd2', 'd3', 'gone']) expect((await claimer.onConnect(d)).region).not.toBe('b');
    claimer.onDisconnect('gone');
    claimer.onDisconnect('d2'); // d2 still has its other socket
    down.push('a');
    expect(await claimer.onRegionLost('a')).toBe(2);
    expect(await store.get('d1')).toEqual({ region: 'b', epoch: 2 });
    expect(await store.get('d2')).toEqual({ region: 'b', epoch: 2 });
    expect(await store.get('d3')).toEqual({ region: 'c', epoch: 1 });
    expect(await store.get('gone')).toEqual({ region: 'a', epoch: 1 });
    expect(await count('hexfleet_ownership_moves_total', { from: 'a', to: 'b' })).toBe(2);
    // Found unreachable again later: nothing more to move.
    expect(await claimer.onRegionLost('a')).toBe(0);
  });
});
