/**
 * The order service's webhook in a process of its own (node:http on
 * 127.0.0.1), for bench:log's order-event scenario (L4): it answers every
 * event 200 at once and notes, per event id, when the first copy arrived,
 * so that receive time − the event's commit time (`at`) is the whole path
 * commit → outbox → relay → Kafka → notifier → HTTP. Signatures are not
 * checked here (the notify tests do): the figure is the delivery time.
 *
 *   config ─▶ listen ─▶ "listening" { url }
 *   count  ─▶ "count"  (requests, distinct ids so far)
 *   report ─▶ "report" (ids, duplicates, latency of the window's events)
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Histogram } from '../lib/histogram.js';
import type { ReceiverCount, ReceiverListening, ReceiverReport, ReceiverReportRequest } from '../lib/webhook-messages.js';
import type { Message } from '../lib/worker.js';
import { serveParent, toParent } from '../lib/worker-ipc.js';

/** First copy of each event id: its commit time and when it arrived. */
const first = new Map<string, { at: number; receivedAt: number; type: string }>();
let requests = 0;
let duplicates = 0;
let malformed = 0;

const server = createServer((req, res) => receive(req, res));
// Keep-alive sockets of the notifier must not hold the worker's exit up.
server.keepAliveTimeout = 5000;

serveParent(async (m: Message) => {
  if (m.type === 'config') {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const reply: ReceiverListening = { type: 'listening', url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/hexfleet` };
    toParent(reply);
  } else if (m.type === 'count') {
    const reply: ReceiverCount = { type: 'count', requests, distinct: first.size };
    toParent(reply);
  } else if (m.type === 'report') {
    toParent(report(m as ReceiverReportRequest));
  } else if (m.type === 'exit') {
    server.closeAllConnections();
    process.exit(0);
  }
});

function receive(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const receivedAt = Date.now();
    requests++;
    let body: { id?: unknown; at?: unknown; type?: unknown };
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof body;
    } catch {
      body = {};
    }
    if (typeof body.id !== 'string' || typeof body.at !== 'number') {
      malformed++;
      res.writeHead(400).end();
      return;
    }
    if (first.has(body.id)) duplicates++;
    else first.set(body.id, { at: body.at, receivedAt, type: String(body.type) });
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
  });
}

function report(r: ReceiverReportRequest): ReceiverReport {
  const latency = new Histogram();
  const byType: Record<string, number> = {};
  let inWindow = 0;
  let arrivedInWindow = 0;
  for (const e of first.values()) {
    byType[e.type] = (byType[e.type] ?? 0) + 1;
    if (e.receivedAt >= r.from && e.receivedAt < r.to) arrivedInWindow++;
    if (e.at < r.from || e.at >= r.to) continue;
    inWindow++;
    latency.record(e.receivedAt - e.at);
  }
  return { type: 'report', requests, ids: [...first.keys()], duplicates, malformed, byType, latency: latency.toJSON(), inWindow, arrivedInWindow };
}
