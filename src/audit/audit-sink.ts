/**
 * Where audit lines go: a file, stdout, a Kafka topic. A sink never blocks
 * its caller on I/O and never throws from `write`; what it cannot hold it
 * drops and reports as dropped.
 */
export interface AuditSink {
  /** Label in metrics: `file`, `stdout`, `kafka`. */
  readonly name: string;
  /** Takes one line (JSON plus newline); false when it was dropped. Lines are written in the order taken. */
  write(line: string): boolean;
  /** Reopens the destination (a file moved away by logrotate); a no-op for sinks without one. */
  reopen(): void;
  /** Writes out what it holds (within its own bound), then releases the destination. Idempotent. */
  close(): Promise<void>;
}
