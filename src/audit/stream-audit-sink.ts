import { destination } from 'pino';
import type { Logger } from 'pino';
import type { AuditSink } from './audit-sink.js';

type SonicBoom = ReturnType<typeof destination>;

/**
 * Audit lines appended to a file, or written to stdout (`-`) or stderr (a
 * command whose stdout is its output), through SonicBoom (pino's
 * destination).
 *
 * A file is written synchronously: each line is in the operating system's
 * hands before the request it records is answered, so a gateway that crashes
 * a moment later has still logged it. Audit lines are rare next to pings
 * (nothing is recorded per ping), so one write(2) each costs little.
 * `reopen()` opens the path again (after logrotate renamed it): the next
 * line goes to a new file. stdout is written asynchronously (a pipe whose
 * reader is slow must not stall the gateway); lines are flushed at close,
 * and stdout or stderr stays open.
 * A write error (disk full) drops the line, counts it and logs once.
 */
export class StreamAuditSink implements AuditSink {
  readonly name: 'file' | 'stdout' | 'stderr';
  private readonly out: SonicBoom;
  private failing = false;
  private closed = false;

  /** `target`: a file path, `-` (stdout) or `stderr`. */
  constructor(
    target: string,
    private readonly log: Logger,
    private readonly onDrop: (sink: string) => void,
  ) {
    this.name = target === '-' ? 'stdout' : target === 'stderr' ? 'stderr' : 'file';
    this.out = this.name === 'file'
      ? destination({ dest: target, append: true, sync: true, mkdir: true })
      : destination({ dest: this.name === 'stdout' ? 1 : 2, sync: false });
    this.out.on('error', (err: Error) => this.failed(err));
  }

  write(line: string): boolean {
    if (this.closed) return this.drop();
    try {
      this.out.write(line);
      if (this.failing) {
        this.failing = false;
        this.log.info({ sink: this.name }, 'audit log writes succeed again');
      }
      return true;
    } catch (err) {
      this.failed(err as Error);
      return this.drop();
    }
  }

  reopen(): void {
    if (this.name === 'file' && !this.closed) this.out.reopen();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      this.out.flushSync();
    } catch {
      // Nothing pending, or the destination is gone: there is nothing left to save.
    }
    await new Promise<void>((resolve) => {
      this.out.once('close', () => resolve());
      this.out.once('error', () => resolve());
      // stdout and stderr are the process's own: they stay open for what is written after (the operational log).
      if (this.name !== 'file') resolve();
      else this.out.end();
    });
  }

  private drop(): false {
    this.onDrop(this.name);
    return false;
  }

  private failed(err: Error): void {
    if (this.failing) return;
    this.failing = true;
    this.log.error({ err: err.message, sink: this.name }, 'audit log write failed: lines are dropped (hexfleet_audit_dropped_total) until it works again');
  }
}
