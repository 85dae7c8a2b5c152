/**
 * Tracking subscriber process: many customers, each on its own raw `ws`
 * connection to gateway B's /v1/track with its own customer token, each
 * watching one order (msgpack frames: positions come back as msgpack too).
 * Forked by bench/scenarios/tracking.ts; talks to it over IPC (tracking-messages.ts).
 *
 *   config    ─▶ mint tokens, connect (no frame sent yet) ─▶ "connected"
 *   subscribe ─▶ subscribe each to its order, wait for the first status ─▶ "subscribed"
 *   go        ─▶ time every position until measureTo + drain ─▶ "result"
 *   exit      ─▶ close sockets, exit
 *
 * Raw `ws` rather than the SDK's TrackingClient: 10,000 clients per process
 * need the least work per frame (no event emitter, no reconnect state).
 */
import { Packr, unpack } from 'msgpackr';
import WebSocket from 'ws';
import { TokenService } from '../../src/auth/tokens.js';
import type { Message } from '../lib/worker.js';
import { sleep, sleepUntil } from '../lib/clock.js';
import { Histogram } from '../lib/histogram.js';
import type { SubscriberConfig, SubscriberConnected, SubscriberGo, SubscriberResult, SubscriberSubscribed } from '../lib/tracking-messages.js';
import { serveParent, toParent } from '../lib/worker-ipc.js';

const packr = new Packr({ useRecords: false });
const CONNECT_ATTEMPTS = 3;
/** How long every subscriber has to get its first status frame. */
const SUBSCRIBE_TIMEOUT_MS = 60_000;
/** After the window: positions of pings sent just before its end are still on their way. */
const DRAIN_MS = 2000;

interface Sub {
  orderId: string;
  ws: WebSocket | undefined;
  subscribedAt: number;
  gotStatus: boolean;
  /** Newest position ts received for the order. */
  lastTs: number;
}

let subs: Sub[] = [];
let counting = false;
let from = Infinity;
let to = Infinity;
let stopping = false;
let subscribeFailed = 0;
let firstSubscribeError: string | undefined;
const subscribeLatency = new Histogram();
const latency = new Histogram();
const stats = {
  windowPositions: 0, positions: 0, statuses: 0, outOfOrder: 0, duplicates: 0, unexpectedCloses: 0,
  statusStates: {} as Record<string, number>,
  errors: {} as Record<string, number>,
};

serveParent(async (m: Message) => {
  if (m.type === 'config') return setup(m as SubscriberConfig);
  if (m.type === 'subscribe') return subscribeAll();
  if (m.type === 'go') return run(m as SubscriberGo);
  if (m.type === 'exit') {
    stopping = true;
    for (const s of subs) s.ws?.terminate();
    process.exit(0);
  }
});

function countError(code: string): void {
  stats.errors[code] = (stats.errors[code] ?? 0) + 1;
}

async function setup(c: SubscriberConfig): Promise<void> {
  const tokens = new TokenService(c.jwtSecret);
  subs = Array.from({ length: c.count }, (_, k) => {
    const g = c.first + k * c.step;
    return { orderId: c.orderIds[g % c.orderIds.length]!, ws: undefined, subscribedAt: NaN, gotStatus: false, lastTs: -Infinity };
  });
  let failed = 0;
  let firstError: string | undefined;
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < subs.length) {
      const s = subs[next++]!;
      try {
        // A customer with one order: what the customer app of that order holds.
        const token = await tokens.sign({ role: 'customer', sub: `cust-${s.orderId}`, orders: [s.orderId], ttlS: 3600 });
        s.ws = await connect(`${c.url}?token=${token}`);
        attach(s);
      } catch (err) {
        failed++;
        firstError ??= (err as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: c.connectConcurrency }, lane));
  const reply: SubscriberConnected = { type: 'connected', connected: subs.length - failed, failed, firstError };
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

function attach(s: Sub): void {
  const ws = s.ws!;
  ws.on('message', (data) => onFrame(s, data as Buffer));
  ws.on('error', (err) => countError(`socket_error (${err.message.slice(0, 60)})`));
  ws.on('close', (code) => {
    s.ws = undefined;
    if (!stopping) {
      stats.unexpectedCloses++;
      countError(`closed_${code}`);
    }
  });
}

function onFrame(s: Sub, data: Buffer): void {
  // Date.now(): the clock the driver put in the ping's ts (same machine, same clock).
  const now = Date.now();
  let f: { type?: unknown; ts?: unknown; state?: unknown; code?: unknown };
  try {
    f = unpack(data) as typeof f;
  } catch {
    return countError('undecodable_frame');
  }
  if (f.type === 'position' && typeof f.ts === 'number') {
    if (!counting) {
      s.lastTs = Math.max(s.lastTs, f.ts);
      return;
    }
    stats.positions++;
    if (f.ts < s.lastTs) stats.outOfOrder++;
    else if (f.ts === s.lastTs) stats.duplicates++;
    s.lastTs = Math.max(s.lastTs, f.ts);
    if (now >= from && now < to) stats.windowPositions++;
    if (f.ts >= from && f.ts < to) latency.record(now - f.ts);
  } else if (f.type === 'status') {
    if (!s.gotStatus) {
      s.gotStatus = true;
      subscribeLatency.record(performance.now() - s.subscribedAt);
    }
    if (counting) {
      stats.statuses++;
      const st = String(f.state);
      stats.statusStates[st] = (stats.statusStates[st] ?? 0) + 1;
    }
  } else if (f.type === 'error') {
    const code = typeof f.code === 'string' ? f.code : 'error';
    if (!s.gotStatus) {
      subscribeFailed++;
      firstSubscribeError ??= code;
      s.gotStatus = true; // Answered, with an error.
    }
    countError(code);
  } else if (f.type !== 'assignment') {
    countError(`frame_${String(f.type)}`);
  }
}

async function subscribeAll(): Promise<void> {
  // Paced: 1,000 subscribes at a time, so the gateway's order and driver reads are not one burst.
  const CHUNK = 1000;
  for (let i = 0; i < subs.length; i += CHUNK) {
    for (const s of subs.slice(i, i + CHUNK)) {
      if (!s.ws || s.ws.readyState !== WebSocket.OPEN) continue;
      s.subscribedAt = performance.now();
      s.ws.send(packr.pack({ type: 'subscribe', orderId: s.orderId }), { binary: true });
    }
    const deadline = performance.now() + SUBSCRIBE_TIMEOUT_MS;
    while (subs.slice(i, i + CHUNK).some((s) => s.ws && !s.gotStatus) && performance.now() < deadline) await sleep(10);
  }
  const open = subs.filter((s) => s.ws);
  const answered = open.filter((s) => s.gotStatus).length;
  const reply: SubscriberSubscribed = {
    type: 'subscribed',
    subscribed: answered - subscribeFailed,
    failed: subscribeFailed + (open.length - answered),
    firstError: firstSubscribeError ?? (open.length > answered ? 'no status within the timeout' : undefined),
    subscribeLatency: subscribeLatency.toJSON(),
  };
  toParent(reply);
}

async function run(go: SubscriberGo): Promise<void> {
  from = go.measureFrom;
  to = go.measureTo;
  counting = true;
  await sleepUntil(to + DRAIN_MS);
  const result: SubscriberResult = {
    type: 'result',
    ...stats,
    open: subs.filter((s) => s.ws && s.ws.readyState === WebSocket.OPEN).length,
    latency: latency.toJSON(),
  };
  toParent(result);
}
