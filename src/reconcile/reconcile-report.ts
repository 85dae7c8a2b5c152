/**
 * What one reconciliation run found and did, per kind of inconsistency.
 * `found` counts what this run saw wrong; the second number what this run
 * repaired (or, for silent drivers, flagged). With several gateways
 * reconciling at once, each repair is counted by the run that made it.
 */
export interface ReconcileReport {
  /** Driver reservations that no open order holds: released. */
  reservations: { found: number; fixed: number };
  /** Orders left `offered` past their deadline or `searching` past their lease: moved on by the saga. */
  stuckOrders: { found: number; fixed: number };
  /** Accepted orders whose driver has been silent past the offline threshold: flagged, never reassigned. */
  silentDrivers: { found: number; flagged: number };
  /** Disagreements between the cell index and the driver records: repaired. */
  cellIndex: { found: number; fixed: number };
  durationMs: number;
}

/** The kinds as they appear in `hexfleet_reconcile_findings_total{kind}`. */
export const RECONCILE_KINDS = {
  reservations: 'reservation',
  stuckOrders: 'stuck_order',
  silentDrivers: 'silent_driver',
  cellIndex: 'cell_index',
} as const satisfies Record<Exclude<keyof ReconcileReport, 'durationMs'>, string>;

/** Everything found, of every kind. */
export function totalFound(r: ReconcileReport): number {
  return r.reservations.found + r.stuckOrders.found + r.silentDrivers.found + r.cellIndex.found;
}

/** The report as the `hexfleet reconcile` table. */
export function formatReport(r: ReconcileReport): string {
  const rows: [string, number, string][] = [
    ['reservations', r.reservations.found, `${r.reservations.fixed} released`],
    ['stuck orders', r.stuckOrders.found, `${r.stuckOrders.fixed} moved on`],
    ['silent drivers', r.silentDrivers.found, `${r.silentDrivers.flagged} flagged (not reassigned)`],
    ['cell index', r.cellIndex.found, `${r.cellIndex.fixed} repaired`],
  ];
  const lines = [`${'check'.padEnd(16)}${'found'.padStart(7)}  action`];
  for (const [name, found, action] of rows) lines.push(`${name.padEnd(16)}${String(found).padStart(7)}  ${action}`);
  const found = totalFound(r);
  const acted = r.reservations.fixed + r.stuckOrders.fixed + r.silentDrivers.flagged + r.cellIndex.fixed;
  lines.push(`${found === 0 ? 'nothing to repair' : `${acted} of ${found} repaired or flagged`}; took ${r.durationMs} ms`);
  return lines.join('\n') + '\n';
}
