/**
 * Load generator process: many drivers, each on its own real WebSocket
 * connection with its own token, sending msgpack ping batches and timing the
 * acks. Forked by the scenarios; talks to them over IPC (messages.ts).
 *
 *   config ─▶ mint tokens, connect ─▶ "connected"
 *   go     ─▶ send (closed or open loop) until measureTo, drain ─▶ "result"
 *   exit   ─▶ close sockets, exit
 */
import { Packr, unpack } from 'msgpackr';
import WebSocket from 'ws';
import { TokenService } from '../../src/auth/tokens.js';
import type { Message } from '../lib/worker.js';
import { nowMs, sleep, sleepUntil } from '../lib/clock.js';
import { mulberry32 } from '../../src/simulator/rng.js';
import { DriverSim, driverId } from '../lib/driver-sim.js';
import { Histogram } from '../lib/histogram.js';
import type { GoMessage, LoadgenConfig, LoadgenConnected, LoadgenResult } from '../lib/messages.js';
import { serveParent, toParent } from '../lib/worker-ipc.js';

/** Plain msgpack maps, as any driver app's msgpack library would send. */
const packr = new Packr({ useRecords: false });
/** How long to wait for the replies of batches still in flight when sending stops. */
const DRAIN_TIMEOUT_MS = 10_000;
const CONNECT_ATTEMPTS = 3;

interface InFlight {
  first: number;
  last: number;
  /** Send time (closed loop) or scheduled send time (open loop): latency counts from here. */
  t0: number;
}

interface Driver {
  id: string;
  url: string;
  sim: DriverSim;
  /** Open loop: offset of this driver's sends within each period. */
  offsetMs: number;
  ws: WebSocket | undefined;
  inflight: InFlight[];
}

let config: LoadgenConfig;
let drivers: Driver[] = [];
let from = Infinity;
let to = Infinity;
let stopping = false;
const latency = new Histogram();
const sendLag = new Histogram();
const stats = {
  sentFrames: 0, sentPings: 0, ackedFrames: 0, ackedPings: 0, windowAckedFrames: 0, windowAckedPings: 0,
  unmatched: 0, unexpectedCloses: 0, errors: {} as Record<string, number>,
  /** Batches in flight on a socket that closed under them: never answered. */
  lostInClose: 0,
};

serveParent(async (m: Message) => {
  if (m.type === 'config') return setup((m as Message & { config: LoadgenConfig }).config);
  if (m.type === 'go') return run(m as GoMessage);
  if (m.type === 'exit') {
    stopping = true;
    for (const d of drivers) d.ws?.terminate();
    process.exit(0);
  }
});

async function setup(c: LoadgenConfig): Promise<void> {
  config = c;
  const tokens = new TokenService(c.jwtSecret);
  drivers = Array.from({ length: c.count }, (_, k) => {
    const g = c.first + k * c.step;
    const id = driverId(c.idTag, g);
    return {
      id,
      url: c.urls[k % c.urls.length]!,
      sim: new DriverSim(id, c.area, mulberry32(c.seed + g)),
      offsetMs: (g * c.periodMs) / c.totalDrivers,
      ws: undefined,
      inflight: [],
    };
  });
  let failed = 0;
  let firstError: string | undefined;
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < drivers.length) {
      const d = drivers[next++]!;
      try {
        const token = await tokens.sign({ role: 'driver', sub: d.id, ttlS: 3600 });
        d.ws = await connect(`${d.url}?token=${token}`);
        attach(d);
      } catch (err) {
        failed++;
        firstError ??= (err as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: c.connectConcurrency }, lane));
  const reply: LoadgenConnected = { type: 'connected', connected: drivers.length - failed, failed, firstError };
  toParent(reply);
}

async function connect(url: string): Promise<WebSocket> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await new Promise<WebSocket>((resolve, reject) => {
        const ws = new WebSocket(url, { perMessageDeflate: false });
        ws.once('open', () => {
          ws.off('error', reject);
          resolve(ws);
        });
        ws.once('error', reject);
        ws.once('unexpected-response', (req, res) => {
          req.destroy();
          reject(new Error(`upgrade refused: HTTP ${res.statusCode}`));
        });
      });
    } catch (err) {
      if (attempt >= CONNECT_ATTEMPTS) throw err;
      await sleep(100 * attempt);
    }
  }
}

function attach(d: Driver): void {
  const ws = d.ws!;
  ws.on('message', (data) => onReply(d, data as Buffer));
  // Always followed by 'close'; the message says why (the close code alone often reads 1006).
  ws.on('error', (err) => countError(`socket_error (${err.message.slice(0, 60)})`));
  ws.on('close', (code) => {
    d.ws = undefined;
    stats.lostInClose += d.inflight.length;
    d.inflight = [];
    if (!stopping) {
      stats.unexpectedCloses++;
      countError(`closed_${code}`);
    }
  });
}

function countError(code: string): void {
  stats.errors[code] = (stats.errors[code] ?? 0) + 1;
}

function sendBatch(d: Driver, scheduledAt?: number): void {
  if (!d.ws || d.ws.readyState !== WebSocket.OPEN) return countError('not_connected');
  const t = nowMs();
  const pings = d.sim.nextPings(config.batchPings, config.dtS, config.tsStepMs, Date.now());
  const t0 = scheduledAt ?? t;
  d.inflight.push({ first: pings[0]!.seq, last: pings[pings.length - 1]!.seq, t0 });
  d.ws.send(packr.pack({ type: 'pings', pings }), { binary: true });
  stats.sentFrames++;
  stats.sentPings += pings.length;
  if (scheduledAt !== undefined && scheduledAt >= from && scheduledAt < to) sendLag.record(t - scheduledAt);
}

function onReply(d: Driver, data: Buffer): void {
  const now = nowMs();
  let msg: { type?: unknown; seq?: unknown; code?: unknown };
  try {
    msg = unpack(data) as typeof msg;
  } catch {
    return countError('undecodable_reply');
  }
  const seq = typeof msg.seq === 'number' ? msg.seq : undefined;
  if (msg.type === 'ack' && seq !== undefined) {
    const i = d.inflight.findIndex((f) => seq >= f.first && seq <= f.last);
    if (i < 0) {
      stats.unmatched++;
      return;
    }
    const f = d.inflight.splice(i, 1)[0]!;
    const n = seq - f.first + 1;
    stats.ackedFrames++;
    stats.ackedPings += n;
    if (now >= from && now < to) {
      stats.windowAckedFrames++;
      stats.windowAckedPings += n;
    }
    if (f.t0 >= from && f.t0 < to) latency.record(now - f.t0);
  } else {
    countError(typeof msg.code === 'string' ? msg.code : `reply_${String(msg.type)}`);
    // A batch-level failure names the batch's last seq: that batch is over.
    const i = seq === undefined ? -1 : d.inflight.findIndex((f) => f.last === seq);
    if (i < 0) return;
    d.inflight.splice(i, 1);
  }
  if (config.mode === 'closed' && now < to) sendBatch(d);
}

async function run(go: GoMessage): Promise<void> {
  from = go.measureFrom;
  to = go.measureTo;
  await sleepUntil(go.startAt);
  if (config.mode === 'closed') {
    for (let k = 0; k < config.depth; k++) for (const d of drivers) sendBatch(d);
    await sleepUntil(to);
  } else {
    await openLoop(go.startAt);
  }
  // Finish pending work: every batch sent gets its reply (or is counted unanswered).
  const deadline = nowMs() + DRAIN_TIMEOUT_MS;
  while (drivers.some((d) => d.inflight.length > 0) && nowMs() < deadline) await sleep(20);
  const { lostInClose, ...counts } = stats;
  const result: LoadgenResult = {
    type: 'result',
    ...counts,
    unanswered: lostInClose + drivers.reduce((n, d) => n + d.inflight.length, 0),
    latency: latency.toJSON(),
    sendLag: sendLag.toJSON(),
  };
  toParent(result);
}

/**
 * Open loop: driver k sends at startAt + offset_k + n·period whatever the
 * previous replies did, so a slow gateway cannot slow the offered load, and
 * latency counts from the scheduled instant (no coordinated omission).
 * Drivers are sorted by offset, so one cursor walks the schedule.
 */
function openLoop(startAt: number): Promise<void> {
  const order = [...drivers].sort((a, b) => a.offsetMs - b.offsetMs);
  let cursor = 0;
  let round = 0;
  return new Promise((resolve) => {
    if (order.length === 0) return resolve();
    const tick = (): void => {
      const now = nowMs();
      for (;;) {
        const d = order[cursor]!;
        const due = startAt + round * config.periodMs + d.offsetMs;
        if (due >= to) return resolve();
        if (due > now) break;
        sendBatch(d, due);
        if (++cursor === order.length) {
          cursor = 0;
          round++;
        }
      }
      // 1 ms: the finest timer Node offers; sends are at most that late, and it shows in sendLag.
      setTimeout(tick, 1);
    };
    tick();
  });
}
