import { latLngToCell } from 'h3-js';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DispatchMetrics } from '../../src/orders/dispatch-metrics.js';
import { MemoryOrderStore } from '../../src/backend/memory/memory-order-store.js';
import type { OrderSaga } from '../../src/orders/order-saga.js';
import { Reconciler } from '../../src/reconcile/reconciler.js';
import type { DriverStore } from '../../src/geo/driver-store.js';
import { MemoryDriverStore } from '../../src/backend/memory/memory-driver-store.js';
import { RingPlanner } from '../../src/geo/ring-planner.js';
import { stopAllGateways, TestGateway } from '../support/gateway-harness.js';
import { memoryIndexTamper } from '../support/index-tamper.js';
import { waitFor } from '../support/wait-for.js';
import { reconcilerSuite } from './reconciler.suite.js';

/**
 * The reconciliation cases on the memory stores. Orders and reservations go
 * wrong through the stores' own API (a commit that forgets its release, an
 * offer committed without its deadline); the cell index through the driver
 * store's private map, reached by a type cast in memoryIndexTamper.
 */
reconcilerSuite('memory stores', async (timing) => {
  const drivers = new MemoryDriverStore(new RingPlanner(9), timing);
  const orders = new MemoryOrderStore(drivers);
  return {
    orders,
    drivers,
    tamper: memoryIndexTamper(drivers),
    cleanup: async () => {
      await orders.close();
      await drivers.close();
    },
  };
});

describe('periodic reconciliation', () => {
  const timing = { staleMs: 30_000, offlineMs: 60_000, retentionMs: 3_600_000 };

  afterEach(async () => {
    vi.useRealTimers();
    await stopAllGateways();
  });

  it('runs every interval, never two runs at once, and logs a summary only when a run found something', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const drivers = new MemoryDriverStore(new RingPlanner(9), timing);
    const orders = new MemoryOrderStore(drivers);
    let calls = 0;
    let active = 0;
    let most = 0;
    let open!: () => void;
    const firstHeld = new Promise<void>((resolve) => (open = resolve));
    // The driver store with a repairIndex that holds the first run until the test lets it go.
    const gated: DriverStore = Object.assign(Object.create(drivers) as DriverStore, {
      async repairIndex(now: number) {
        calls++;
        most = Math.max(most, ++active);
        if (calls === 1) await firstHeld;
        active--;
        return drivers.repairIndex(now);
      },
    });
    const lines: { msg: string; cellIndex?: { found: number } }[] = [];
    const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l)) });
    const metrics = new DispatchMetrics(new Registry(), { poolQueue: () => 0, poolUtilization: () => 0, openAssignments: async () => 0 });
    // The saga is never reached: no order is open.
    const reconciler = new Reconciler({ orders, drivers: gated, saga: {} as OrderSaga, metrics, log, options: { offlineMs: timing.offlineMs, graceMs: 0 } });
    reconciler.start(100);

    await vi.advanceTimersByTimeAsync(1_000); // ten ticks while the first run is held
    expect([calls, most]).toEqual([1, 1]);
    open();
    await vi.advanceTimersByTimeAsync(100);
    expect(calls).toBe(2);
    expect(lines.filter((l) => l.msg === 'reconciliation found inconsistencies')).toEqual([]);

    await drivers.applyBatches([{ driverId: 'd1', pings: [{ seq: 1, lat: 52.52, lng: 13.405, ts: Date.now(), status: 'available' }] }]);
    await memoryIndexTamper(drivers).addEntry(latLngToCell(52.52, 13.405, 9), 'ghost');
    await vi.advanceTimersByTimeAsync(100);
    await vi.advanceTimersByTimeAsync(100);
    expect(calls).toBe(4);
    expect(most).toBe(1);
    expect(lines.filter((l) => l.msg === 'reconciliation found inconsistencies')).toMatchObject([{ cellIndex: { found: 1, fixed: 1 } }]);
    await reconciler.stop();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(calls).toBe(4);
    await drivers.close();
  });

  it('the gateway runs it every HEXFLEET_RECONCILE_INTERVAL_MS, and not at all with 0', async () => {
    const off = await TestGateway.start({ HEXFLEET_RECONCILE_INTERVAL_MS: '0' });
    expect((off.gateway.dispatch.reconciler as unknown as { timer?: unknown }).timer, 'no timer with 0').toBeUndefined();

    const gw = await TestGateway.start({ HEXFLEET_RECONCILE_INTERVAL_MS: '20' });
    await memoryIndexTamper(gw.gateway.store as MemoryDriverStore).addEntry(latLngToCell(52.52, 13.405, 9), 'ghost');
    await waitFor(async () => (await gw.metric('hexfleet_reconcile_findings_total', { kind: 'cell_index', action: 'fixed' })) === 1, {
      what: 'the periodic run to remove the stray entry',
    });
    expect(await gw.metric('hexfleet_reconcile_findings_total', { kind: 'cell_index', action: 'found' })).toBe(1);
  });
});
