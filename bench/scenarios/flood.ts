import WebSocket from 'ws';
import { ABUSE_DESCRIPTIONS, type AbuseKind, type AbuseStats, type AbuserTarget } from '../../kit/flood/abuser.js';
import type { GatewayProcess } from '../../kit/gateway-process.js';
import { Histogram } from '../lib/histogram.js';
import { cpuSeconds } from '../lib/proc-stats.js';
import { Worker } from '../lib/worker.js';

/**
 * One phase of bench:flood: `drivers` honest drivers stream (each a 1-ping
 * frame every `intervalMs`, open loop) for `seconds` while the abuser runs
 * `kind` (or nothing: the quiet baseline); the drivers' ack latency is
 * measured in this process, from the send to the ack.
 */
export interface PhaseResult {
  name: string;
  kind: AbuseKind | undefined;
  hist: Histogram;
  sent: number;
  acked: number;
  /** Frames still unacked at the end (after a grace). */
  unacked: number;
  /** CPU seconds per second of the phase. */
  gatewayCpu: number;
  abuserCpu: number;
  abuse: AbuseStats | undefined;
}

export interface Fleet {
  sockets: WebSocket[];
  /** Per socket: send time by seq of the frames in flight. */
  pending: Map<number, number>[];
  seq: number[];
}

/** Opens the honest drivers' sockets (one token each) and waits until all are open. */
export async function openFleet(url: string, tokens: readonly string[]): Promise<Fleet> {
  const sockets = await Promise.all(tokens.map((t) => new Promise<WebSocket>((resolve, reject) => {
    const ws = new WebSocket(`${url}?token=${encodeURIComponent(t)}`);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  })));
  return { sockets, pending: sockets.map(() => new Map()), seq: sockets.map(() => 0) };
}

export function closeFleet(f: Fleet): void {
  for (const ws of f.sockets) ws.terminate();
}

export async function runPhase(o: {
  name: string;
  kind: AbuseKind | undefined;
  fleet: Fleet;
  gateway: GatewayProcess;
  abuser: Worker;
  target: AbuserTarget;
  seconds: number;
  intervalMs: number;
}): Promise<PhaseResult> {
  const { fleet } = o;
  const hist = new Histogram();
  let sent = 0;
  let acked = 0;
  const handlers = fleet.sockets.map((ws, i) => {
    const onMessage = (data: Buffer): void => {
      const m = JSON.parse(data.toString('utf8')) as { type: string; seq?: number };
      if (m.type !== 'ack' || m.seq === undefined) return;
      const t0 = fleet.pending[i]!.get(m.seq);
      if (t0 === undefined) return;
      fleet.pending[i]!.delete(m.seq);
      hist.record(performance.now() - t0);
      acked++;
    };
    ws.on('message', onMessage);
    return onMessage;
  });
  if (o.kind) {
    o.abuser.send({ type: 'start', kind: o.kind, target: o.target } as { type: string });
    await o.abuser.next('started', 10_000);
  }
  const cpu0 = { gw: cpuSeconds(o.gateway.pid), ab: cpuSeconds(o.abuser.pid), t: performance.now() };
  // Each driver on its own phase of the interval, so the load is even.
  const timers = fleet.sockets.map((ws, i) => {
    const tick = (): void => {
      if (ws.readyState !== WebSocket.OPEN) return;
      const seq = ++fleet.seq[i]!;
      fleet.pending[i]!.set(seq, performance.now());
      ws.send(JSON.stringify({ type: 'pings', pings: [{ seq, lat: 52.5 + i * 1e-4, lng: 13.4, ts: Date.now() }] }));
      sent++;
    };
    let interval: NodeJS.Timeout | undefined;
    const start = setTimeout(() => {
      tick();
      interval = setInterval(tick, o.intervalMs);
    }, (o.intervalMs * i) / fleet.sockets.length);
    return () => {
      clearTimeout(start);
      clearInterval(interval);
    };
  });
  await new Promise((r) => setTimeout(r, o.seconds * 1000));
  for (const stop of timers) stop();
  const elapsedS = (performance.now() - cpu0.t) / 1000;
  const gatewayCpu = (cpuSeconds(o.gateway.pid) - cpu0.gw) / elapsedS;
  const abuserCpu = (cpuSeconds(o.abuser.pid) - cpu0.ab) / elapsedS;
  let abuse: AbuseStats | undefined;
  if (o.kind) {
    o.abuser.send({ type: 'stop' });
    abuse = (await o.abuser.next<{ type: 'stats'; stats: AbuseStats }>('stats', 30_000)).stats;
  }
  // Grace for the last acks; what is still missing then is reported, not waited for.
  const deadline = performance.now() + 5000;
  while (fleet.pending.some((p) => p.size > 0) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const unacked = fleet.pending.reduce((n, p) => n + p.size, 0);
  for (const p of fleet.pending) p.clear();
  fleet.sockets.forEach((ws, i) => ws.off('message', handlers[i]!));
  return { name: o.name, kind: o.kind, hist, sent, acked, unacked, gatewayCpu, abuserCpu, abuse };
}

/** One line on what the abuser got: how it was stopped. */
export function abuseSummary(s: AbuseStats | undefined): string {
  if (!s) return '';
  const codes = Object.entries(s.codes).sort((a, b) => b[1] - a[1]).slice(0, 3).map(([c, n]) => `${c} ×${n}`).join(', ');
  const closes = Object.entries(s.closes).map(([c, n]) => `${c} ×${n}`).join(', ');
  return `${s.sent.toLocaleString('en-US')} sent, ${s.received.toLocaleString('en-US')} replies (${codes || 'no errors'}); ${s.connects} connects${closes ? `, closed ${closes}` : ''}`;
}

export { ABUSE_DESCRIPTIONS };
