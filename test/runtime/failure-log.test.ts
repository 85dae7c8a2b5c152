import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { FailureLog } from '../../src/runtime/failure-log.js';

/** A real pino logger writing into an array, and a clock the test moves. */
function setup(reminderMs = 60_000) {
  const lines: { level: number; msg: string; err?: string; failures?: number; failingForMs?: number; failedForMs?: number; topic?: string }[] = [];
  const sink = new Writable({ write(chunk: Buffer, _enc, done) { for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l)); done(); } });
  let now = 1_000_000;
  const log = new FailureLog(pino(sink), 'deadline poll', 'offers are not moved on', { reminderMs, now: () => now, fields: { topic: 't' } });
  return { log, lines, advance: (ms: number) => (now += ms) };
}

describe('FailureLog: one line per change of state, a reminder while it stays down', () => {
  it('a healthy task writes nothing', () => {
    const { log, lines } = setup();
    for (let i = 0; i < 100; i++) log.succeeded();
    expect(lines).toEqual([]);
  });

  it('four failures a second for three minutes: failing once, a reminder a minute with the count, recovered once', () => {
    const { log, lines, advance } = setup();
    for (let i = 0; i < 4 * 180; i++) {
      log.failed(new Error(`connect ECONNREFUSED (attempt ${i})`));
      advance(250);
    }
    log.succeeded();
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      [40, 'deadline poll failing: offers are not moved on; retrying (logged again when it recovers, or every 60 s while it fails)'],
      [40, 'deadline poll still failing: offers are not moved on'],
      [40, 'deadline poll still failing: offers are not moved on'],
      [30, 'deadline poll recovered'],
    ]);
    expect(lines[0]).toMatchObject({ err: 'connect ECONNREFUSED (attempt 0)', topic: 't' });
    // Each reminder counts the failures since the line before it (240 a minute) and carries the latest cause.
    expect(lines[1]).toMatchObject({ failures: 240, failingForMs: 60_000, err: 'connect ECONNREFUSED (attempt 240)' });
    expect(lines[2]).toMatchObject({ failures: 240, failingForMs: 120_000 });
    expect(lines[3]).toMatchObject({ failures: 720, failedForMs: 180_000, topic: 't' });
  });

  it('a second outage is logged again, with its own counts', () => {
    const { log, lines, advance } = setup();
    log.failed(new Error('a'));
    log.succeeded();
    advance(1000);
    log.failed(new Error('b'));
    log.failed(new Error('b'));
    advance(500);
    log.succeeded();
    expect(lines.map((l) => l.msg.split(':')[0])).toEqual(['deadline poll failing', 'deadline poll recovered', 'deadline poll failing', 'deadline poll recovered']);
    expect(lines[3]).toMatchObject({ failures: 2, failedForMs: 500 });
  });

  it('the cause of a wrapped error is logged (HexfleetError store_unavailable around the client error)', () => {
    const { log, lines } = setup();
    log.failed(new Error('store unavailable', { cause: new Error('connect ECONNREFUSED 127.0.0.1:6390') }));
    expect(lines[0]?.err).toBe('connect ECONNREFUSED 127.0.0.1:6390');
  });
});
