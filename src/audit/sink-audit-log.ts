import type { AuditEntry, AuditLog } from './audit-log.js';
import type { AuditMetrics } from './audit-metrics.js';
import type { AuditSink } from './audit-sink.js';
import { ecsLine } from './ecs-line.js';

/**
 * The AuditLog over its sinks: each entry is serialised once (`ecsLine`,
 * stamped with the time and `gatewayId`) and handed to every sink. With no
 * sink it only counts (the trail is off, the metrics still show what
 * happened).
 */
export class SinkAuditLog implements AuditLog {
  private closing: Promise<void> | undefined;

  constructor(
    private readonly sinks: readonly AuditSink[],
    readonly gatewayId: string,
    private readonly metrics: AuditMetrics | undefined,
    private readonly clock: () => number = Date.now,
  ) {}

  record(entry: AuditEntry): void {
    this.metrics?.events.inc({ action: entry.action, outcome: entry.outcome });
    if (this.sinks.length === 0 || this.closing) return;
    const line = ecsLine(entry, this.gatewayId, this.clock());
    for (const sink of this.sinks) sink.write(line);
  }

  reopen(): void {
    for (const sink of this.sinks) sink.reopen();
  }

  close(): Promise<void> {
    this.closing ??= Promise.all(this.sinks.map((s) => s.close())).then(() => undefined);
    return this.closing;
  }
}
