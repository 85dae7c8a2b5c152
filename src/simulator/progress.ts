import type { SimGauges, SimStats } from './sim-stats.js';

/**
 * The one-line progress report (to stderr, every few seconds) and the
 * end-of-run summary (to stdout). Rates are per second over the interval
 * since the previous line.
 */
export class Progress {
  private last = { at: 0, pingsAcked: 0, positions: 0 };

  constructor(
    private readonly stats: SimStats,
    private readonly gauges: () => SimGauges,
  ) {
    this.last.at = Date.now();
  }

  line(now = Date.now()): string {
    const s = this.stats;
    const g = this.gauges();
    const dtS = Math.max(0.001, (now - this.last.at) / 1000);
    const ackRate = (s.pingsAcked - this.last.pingsAcked) / dtS;
    const posRate = (s.positionsReceived - this.last.positions) / dtS;
    this.last = { at: now, pingsAcked: s.pingsAcked, positions: s.positionsReceived };
    return (
      `[sim] drivers ${g.driversOpen} open/${g.driversOffline} off | ` +
      `pings ${ackRate.toFixed(0)}/s acked | ` +
      `match ok ${s.matchOk} no_driver ${s.matchNoDriver} err ${s.matchErrors + s.matchRetryable} | ` +
      `offers ${s.offersAccepted} acc/${s.offersRejected} rej | ` +
      `orders ${g.openOrders} open | subs ${g.openSubscriptions} | ` +
      `positions ${s.positionsReceived} (${posRate.toFixed(0)}/s) | ` +
      `buffer ${g.bufferDepth} dropped ${g.bufferDropped} | errors ${s.errorCount}`
    );
  }

  /** The end-of-run report: one `name value` per line, so scripts can read it. */
  summary(elapsedS: number, g: SimGauges = this.gauges()): string {
    const s = this.stats;
    const rows: [string, string | number][] = [
      ['elapsed s', elapsedS.toFixed(1)],
      ['pings sent', s.pingsSent],
      ['pings acked', s.pingsAcked],
      ['pings acked/s', (s.pingsAcked / Math.max(0.001, elapsedS)).toFixed(1)],
      ['sdk buffer depth', g.bufferDepth],
      ['sdk buffer dropped', g.bufferDropped],
      ['driver connects', s.driverConnects],
      ['drivers went offline', s.wentOffline],
      ['drivers came back', s.cameBack],
      ['orders placed', s.ordersPlaced],
      ['orders skipped (bounds)', s.ordersSkipped],
      ['matches ok', s.matchOk],
      ['matches no_driver', s.matchNoDriver],
      ['matches retryable', s.matchRetryable],
      ['matches errors', s.matchErrors],
      ['offers received', s.offersReceived],
      ['offers accepted', s.offersAccepted],
      ['offers rejected', s.offersRejected],
      ['offers answered', s.offersAnswered],
      ['offer reply errors', s.offerReplyErrors],
      ['orders accepted', s.ordersAccepted],
      ['orders completed', s.ordersCompleted],
      ['orders cancelled', s.ordersCancelled],
      ['orders failed', s.ordersFailed],
      ['subscriptions opened', s.subscriptionsOpened],
      ['positions received', s.positionsReceived],
      ['status frames', s.statusFrames],
      ['assignment frames', s.assignmentFrames],
      ['errors', s.errorCount],
    ];
    const width = Math.max(...rows.map(([k]) => k.length));
    const lines = rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`);
    const errors = [...s.errors.entries()].sort((a, b) => b[1] - a[1]);
    for (const [kind, n] of errors) lines.push(`    ${kind.padEnd(width - 2)}  ${n}`);
    return `hexfleet simulate: summary\n${lines.join('\n')}\n`;
  }
}
