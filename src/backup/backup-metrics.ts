import { Counter, Gauge, type Registry } from 'prom-client';

/** A gateway's scheduled-backup metrics, on its registry: alert on `failed`, or on the last success growing old. */
export class BackupMetrics {
  readonly runs: Counter<'outcome'>;
  readonly lastSuccess: Gauge;
  readonly lastBytes: Gauge;

  constructor(registry: Registry) {
    this.runs = new Counter({
      name: 'hexfleet_backups_total',
      help: 'Scheduled backup ticks of this gateway, by outcome: taken (written and verified), skipped (another gateway holds the backup lock), failed.',
      labelNames: ['outcome'],
      registers: [registry],
    });
    this.lastSuccess = new Gauge({
      name: 'hexfleet_backup_last_success_timestamp_seconds',
      help: 'When the last backup this gateway took was completed (unix seconds); 0 before the first.',
      registers: [registry],
    });
    this.lastBytes = new Gauge({ name: 'hexfleet_backup_last_bytes', help: 'Size on disk of the last backup this gateway took.', registers: [registry] });
  }
}
