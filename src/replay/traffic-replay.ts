import type { VehicleType } from '../domain/vehicle.js';
import type { EventLog, LogBatch, ReadFrom } from '../eventlog/event-log.js';
import type { Topics } from '../eventlog/topics.js';
import type { DriverBatch } from '../geo/driver-store.js';
import { decodePositionRecord } from '../ingest/position-records.js';
import type { WirePing } from '../protocol/wire-frames.js';
import { readLog } from './read-log.js';
import { ReplayedDriver } from './replayed-driver.js';
import type { ReplayWindow } from './replay-window.js';
import { type Percentiles, TrafficStats } from './traffic-stats.js';
import { type UndecodableRecord, UndecodableRecords } from './undecodable-records.js';

/** What to replay against which gateway (see `replayTraffic`). */
export interface TrafficReplayOptions {
  /** The positions part of it is used (orders are not traffic). */
  window: ReplayWindow;
  /** Time runs this many times faster than it did when the traffic was recorded. */
  speed: number;
  /** The gateway's `/v1/driver` URL (ws:// or wss://). */
  url: string;
  /** A driver token for `driverId`, with its vehicle claim when the record had one. */
  token: (driverId: string, vehicle: VehicleType | undefined) => Promise<string>;
  /** Prepended to every driver id, so that replayed drivers never touch the recorded ones' records (default none). */
  idPrefix?: string;
  /** Called every `progressIntervalMs` (default 1000) until the last batch is sent. */
  onProgress?: (progress: TrafficProgress) => void;
  progressIntervalMs?: number;
  /** How long to wait for the last replies once every batch is sent (default 10 s). */
  replyTimeoutMs?: number;
}

/** Where a traffic replay is, as the progress line shows it. */
export interface TrafficProgress {
  elapsedMs: number;
  /** Log time replayed so far, from the window's start. */
  replayedMs: number;
  drivers: number;
  batchesSent: number;
  batchesAcked: number;
  errors: number;
}

/** What a traffic replay did; `--json` prints it as it is. */
export interface TrafficSummary {
  url: string;
  speed: number;
  window: { from: ReadFrom; to: string; start: string | undefined; lengthMs: number };
  records: number;
  drivers: number;
  connects: number;
  connectFailures: number;
  disconnects: number;
  batches: { sent: number; acked: number; errors: Record<string, number>; unanswered: number; notSent: number };
  pings: { sent: number; rejected: Record<string, number> };
  /** send → ack, ms, per batch. */
  ackLatencyMs: Percentiles;
  /** actual send − scheduled send, ms, per batch. */
  sendLagMs: Percentiles;
  undecodable: { count: number; first: UndecodableRecord[] };
  elapsedMs: number;
}

/**
 * How far ahead of the schedule the log is read: enough that a fetch's worth
 * of every partition is decoded before it is due, little enough that memory
 * holds seconds of traffic, not the window.
 */
const LOOKAHEAD_MS = 2000;
/**
 * Longest a read handler holds its batch: a log reader may only heartbeat
 * between batches (kafkajs), so holding one for its session timeout (30 s)
 * would end the read. Memory stays bounded: a held batch is at most this far
 * from being due.
 */
const MAX_HOLD_MS = 5000;
const REPLY_TIMEOUT_MS = 10_000;

interface Due {
  driver: ReplayedDriver;
  pings: WirePing[];
  /** The record's log time. */
  at: number;
}

/**
 * Replays the recorded driver traffic of a window against a live gateway,
 * `speed` times faster than it happened, as the drivers sent it:
 *
 *   positions topic ──read (≈ 2 s ahead)──▶ per-partition queues ──at (t − start) ÷ speed──▶ one socket per driver
 *
 * - one WebSocket per recorded driver, one frame per record (the batching the
 *   gateway saw), with the recorded seqs;
 * - a record logged at t is sent at (t − start) ÷ speed after the replay
 *   began, where start is `--from` when it is a time, else the first record
 *   read (a record of another partition read later but stamped earlier goes
 *   out at once, and its lateness shows in the send lag);
 * - each ping's ts is mapped onto the replay's clock as its record's time
 *   is (start + (ts − start) ÷ speed): pings keep their order across
 *   records (a ping that was newer stays newer, so every driver ends where
 *   it did), and no ts is later than its sending, so the gateway accepts it;
 * - records go out in log order per partition, so each driver's in seq order.
 *
 * It ends by itself: once the window is read and sent it waits for the last
 * replies (at most `replyTimeoutMs`) and closes every socket.
 */
export async function replayTraffic(log: EventLog, topics: Topics, options: TrafficReplayOptions): Promise<TrafficSummary> {
  const { window, speed } = options;
  const stats = new TrafficStats();
  const undecodable = new UndecodableRecords();
  const drivers = new Map<string, ReplayedDriver>();
  const queues = new Map<number, { items: (Due | undefined)[]; head: number }>();
  const started = performance.now();
  let records = 0;
  let start: { log: number; wall: number } | undefined;
  let lastLogTime = 0;
  let timer: NodeJS.Timeout | undefined;
  let timerAt = Infinity;
  let readDone = false;
  let allSent: (() => void) | undefined;

  const dueAt = (logTime: number): number => start!.wall + (logTime - start!.log) / speed;

  function pump(): void {
    timer = undefined;
    timerAt = Infinity;
    const now = Date.now();
    let next = Infinity;
    let queued = 0;
    for (const q of queues.values()) {
      while (q.head < q.items.length) {
        const item = q.items[q.head]!;
        const due = dueAt(item.at);
        if (due > now) {
          next = Math.min(next, due);
          break;
        }
        q.items[q.head++] = undefined; // Let the sent batch be collected.
        stats.sendLagMs.record(now - due);
        item.driver.send(item.pings.map((p) => ({ ...p, ts: Math.round(dueAt(p.ts)) })));
      }
      // Drop what was sent once it is most of the array (a queue that never empties must not grow for the whole window).
      if (q.head > 1024 && q.head * 2 > q.items.length) {
        q.items = q.items.slice(q.head);
        q.head = 0;
      }
      queued += q.items.length - q.head;
    }
    if (next < Infinity) schedule(next);
    if (queued === 0 && readDone) allSent?.();
  }

  function schedule(at: number): void {
    if (timer && timerAt <= at) return;
    if (timer) clearTimeout(timer);
    timerAt = at;
    timer = setTimeout(pump, Math.max(0, at - Date.now()));
  }

  function driverOf(batch: DriverBatch): ReplayedDriver {
    const id = (options.idPrefix ?? '') + batch.driverId;
    let driver = drivers.get(id);
    if (!driver) {
      driver = new ReplayedDriver(id, stats);
      driver.connect(options.url, options.token(id, batch.vehicle));
      drivers.set(id, driver);
    }
    return driver;
  }

  async function onPositions(batch: LogBatch): Promise<void> {
    // Read on only once this batch is nearly due; at most MAX_HOLD_MS per batch (see there).
    const first = batch.records[0];
    if (start && first) {
      const wait = Math.min(MAX_HOLD_MS, dueAt(first.timestamp) - LOOKAHEAD_MS - Date.now());
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
    let q = queues.get(batch.partition);
    if (!q) queues.set(batch.partition, (q = { items: [], head: 0 }));
    for (const record of batch.records) {
      if (record.timestamp > window.to) continue;
      let decoded: DriverBatch;
      try {
        decoded = decodePositionRecord(record.value, record.headers);
      } catch (err) {
        undecodable.add(record, err);
        continue;
      }
      if (decoded.pings.length === 0) continue;
      records++;
      start ??= { log: window.positions.kind === 'time' ? window.positions.at : record.timestamp, wall: Date.now() };
      lastLogTime = Math.max(lastLogTime, record.timestamp);
      q.items.push({ driver: driverOf(decoded), pings: decoded.pings, at: record.timestamp });
      schedule(dueAt(record.timestamp));
    }
  }

  const progressTimer = options.onProgress
    ? setInterval(() => {
        options.onProgress!({
          elapsedMs: performance.now() - started,
          replayedMs: start ? Math.max(0, (Date.now() - start.wall) * speed) : 0,
          drivers: drivers.size,
          batchesSent: stats.batchesSent,
          batchesAcked: stats.batchesAcked,
          errors: stats.errors,
        });
      }, options.progressIntervalMs ?? 1000)
    : undefined;

  let unanswered = 0;
  try {
    const sent = new Promise<void>((resolve) => (allSent = resolve));
    await readLog(log, topics.positions, window.positions, window.to, onPositions);
    readDone = true;
    pump();
    await sent;
    let replyTimer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all([...drivers.values()].map((d) => d.settled())),
      new Promise<void>((resolve) => (replyTimer = setTimeout(resolve, options.replyTimeoutMs ?? REPLY_TIMEOUT_MS))),
    ]);
    clearTimeout(replyTimer);
    unanswered = [...drivers.values()].reduce((n, d) => n + d.inFlight, 0);
  } finally {
    if (progressTimer) clearInterval(progressTimer);
    if (timer) clearTimeout(timer);
    await Promise.all([...drivers.values()].map((d) => d.close()));
  }

  return {
    url: options.url,
    speed,
    window: {
      from: window.positions,
      to: new Date(window.to).toISOString(),
      start: start ? new Date(start.log).toISOString() : undefined,
      lengthMs: start ? lastLogTime - start.log : 0,
    },
    records,
    drivers: drivers.size,
    connects: stats.connects,
    connectFailures: stats.connectFailures,
    disconnects: stats.disconnects,
    batches: { sent: stats.batchesSent, acked: stats.batchesAcked, errors: stats.batchErrors, unanswered, notSent: stats.notSent },
    pings: { sent: stats.pingsSent, rejected: stats.pingRejections },
    ackLatencyMs: stats.ackLatencyMs.percentiles(),
    sendLagMs: stats.sendLagMs.percentiles(),
    undecodable: { count: undecodable.count, first: undecodable.first },
    elapsedMs: performance.now() - started,
  };
}
