/**
 * The live-tracking scenario of bench:tracking (issue 4):
 *
 *   driver loadgen (D drivers, 1 ping / period each, ts = send time)
 *        │ /v1/driver
 *        ▼
 *   gateway A ── ingest ── store write ── PUBLISH positions ──▶ Redis ──▶ gateway B ── hub ──▶ S subscribers
 *                                                                          /v1/track (subscriber processes,
 *                                                                          each customer watching one order)
 *
 * Two gateway processes share the run's redis-server; one accepted order is
 * committed per driver (bench/lib/tracking-orders.ts), then:
 *
 *   1. RSS of gateway B with no tracking connection
 *   2. S subscribers connect (RSS), subscribe to one order each (RSS): the
 *      idle cost per connection
 *   3. the drivers stream, open loop; every position a subscriber receives
 *      is timed against the ping's ts (the driver's send time, same clock)
 *   4. deliveries/s, latency percentiles, CPU of every process, errors and
 *      close codes; the drivers' ack latency on A (the ingest half of the
 *      same path) is the baseline
 */
import { loadConfig } from '../../src/config/load-config.js';
import type { GatewayProcess } from '../../kit/gateway-process.js';
import { metricSum, metricValue, type Scrape } from '../../kit/metrics-scrape.js';
import { startBenchGateway } from '../lib/bench-gateway.js';
import { nowMs, sleep, sleepUntil } from '../lib/clock.js';
import { CITY_BOX } from '../lib/driver-sim.js';
import { Histogram } from '../lib/histogram.js';
import type { LoadgenConfig, LoadgenConnected, LoadgenResult } from '../lib/messages.js';
import { CpuWindow, statusBytes } from '../lib/proc-stats.js';
import { awaitQuietMachine } from '../lib/quiet-machine.js';
import { cpuBound, fmtInt, fmtMB, fmtMs, fmtPct, type Row } from '../lib/report.js';
import { FULL_SUBSCRIBERS, TARGET_DELIVERIES_PER_S, type TrackingContext } from '../lib/tracking-context.js';
import type { SubscriberConnected, SubscriberResult, SubscriberSubscribed } from '../lib/tracking-messages.js';
import { commitAcceptedOrders } from '../lib/tracking-orders.js';
import { type Message, Worker } from '../lib/worker.js';

const DRIVER_TAG = 'drt';
const SEED = 0x7ac;
const PHASE = 'tracking';
/** Issue 4 targets. */
const TARGET_SUBSCRIBERS = 20_000;
const TARGET_P99_MS = 50;
const TARGET_IDLE_BYTES = 10 * 1024;
const CONNECT_TIMEOUT_MS = 300_000;
const RESULT_TIMEOUT_MS = 60_000;
/** Let RSS settle (allocator, lazy GC) before each sample. */
export const SETTLE_MS = 3000;
const PROGRESS_MS = 5000;

/** Runs the scenario with two gateways of its own; stops every process it started. */
export async function runTracking(ctx: TrackingContext): Promise<Row[]> {
  const o = ctx.options;
  const log = (m: string): void => ctx.progress.log(PHASE, m);
  const gateways: GatewayProcess[] = [];
  const workers: Worker[] = [];
  try {
    log('starting gateway A (drivers) and gateway B (subscribers) on one Redis');
    const a = await startBenchGateway('gateway-A', ctx.env, ctx.tmpDir);
    gateways.push(a);
    const b = await startBenchGateway('gateway-B', ctx.env, ctx.tmpDir);
    gateways.push(b);

    const t0 = nowMs();
    const orderIds = await commitAcceptedOrders(ctx.redis.url, ctx.prefix, loadConfig(ctx.env).h3Resolution, o.drivers, DRIVER_TAG);
    log(`${fmtInt(orderIds.length)} accepted orders committed through the Redis backend's order store in ${((nowMs() - t0) / 1000).toFixed(1)} s`);

    // Drivers: bench:ingest's open-loop load generator, one ping per frame, every driver on A.
    const driverGen = new Worker('loadgen-drivers', 'loadgen-worker.js');
    workers.push(driverGen);
    const driverConfig: LoadgenConfig = {
      mode: 'open', urls: [a.driverUrl], jwtSecret: ctx.jwtSecret, first: 0, step: 1, count: o.drivers, totalDrivers: o.drivers,
      idTag: DRIVER_TAG, area: CITY_BOX, seed: SEED, batchPings: 1, depth: 0, periodMs: o.periodMs,
      dtS: o.periodMs / 1000, tsStepMs: o.periodMs, connectConcurrency: 50,
    };
    driverGen.send({ type: 'config', config: driverConfig } as Message);
    const dc = await driverGen.next<LoadgenConnected>('connected', CONNECT_TIMEOUT_MS);
    log(`${fmtInt(dc.connected)} drivers connected to gateway A` + (dc.failed ? `, ${fmtInt(dc.failed)} failed (${dc.firstError})` : ''));
    if (dc.connected === 0) throw new Error(`no driver could connect: ${dc.firstError}`);

    await sleep(SETTLE_MS);
    const rssNone = statusBytes(b.pid, 'VmRSS');
    log(`gateway B RSS with no tracking connection: ${fmtMB(rssNone)}`);

    const procs = Math.max(1, Math.ceil(o.subscribers / o.perProcess));
    const trackUrl = b.trackUrl;
    const subWorkers = Array.from({ length: procs }, (_, p) => new Worker(`subscribers-${p + 1}`, 'tracking-subscriber-worker.js'));
    workers.push(...subWorkers);
    log(`connecting ${fmtInt(o.subscribers)} subscribers to gateway B from ${procs} process(es)`);
    const tc = nowMs();
    subWorkers.forEach((w, p) =>
      w.send({ type: 'config', url: trackUrl, jwtSecret: ctx.jwtSecret, first: p, step: procs, count: Math.ceil((o.subscribers - p) / procs), orderIds, connectConcurrency: 50 } as Message),
    );
    const conn = await Promise.all(subWorkers.map((w) => w.next<SubscriberConnected>('connected', CONNECT_TIMEOUT_MS)));
    const connected = conn.reduce((n, r) => n + r.connected, 0);
    const connectFailed = conn.reduce((n, r) => n + r.failed, 0);
    const connectError = conn.find((r) => r.firstError)?.firstError;
    log(`${fmtInt(connected)} subscribers connected in ${((nowMs() - tc) / 1000).toFixed(1)} s` + (connectFailed ? `, ${fmtInt(connectFailed)} failed (${connectError})` : ''));
    if (connected === 0) throw new Error(`no subscriber could connect: ${connectError}`);
    await sleep(SETTLE_MS);
    const rssConnected = statusBytes(b.pid, 'VmRSS');
    const gaugeConnected = metricSum(await b.scrape(), 'hexfleet_tracking_connections');

    for (const w of subWorkers) w.send({ type: 'subscribe' });
    const subs = await Promise.all(subWorkers.map((w) => w.next<SubscriberSubscribed>('subscribed', CONNECT_TIMEOUT_MS)));
    const subscribed = subs.reduce((n, r) => n + r.subscribed, 0);
    const subscribeFailed = subs.reduce((n, r) => n + r.failed, 0);
    const subscribeLatency = new Histogram();
    for (const r of subs) subscribeLatency.merge(Histogram.fromJSON(r.subscribeLatency));
    log(`${fmtInt(subscribed)} subscribed (first status received)` + (subscribeFailed ? `, ${fmtInt(subscribeFailed)} failed (${subs.find((r) => r.firstError)?.firstError})` : ''));
    await sleep(SETTLE_MS);
    const rssIdle = statusBytes(b.pid, 'VmRSS');
    const idleScrape = await b.scrape();
    const perIdle = (rssIdle - rssNone) / connected;
    log(`gateway B RSS: ${fmtMB(rssNone)} → ${fmtMB(rssConnected)} connected → ${fmtMB(rssIdle)} subscribed: ${fmtInt(perIdle)} bytes per idle connection`);

    const pids = new Map<string, number>([
      [a.name, a.pid], [b.name, b.pid], ['redis-server', ctx.redis.pid],
      ...workers.map((w): [string, number] => [w.name, w.pid]), ['bench', process.pid],
    ]);
    await awaitQuietMachine(ctx, PHASE, pids);
    const startAt = nowMs() + 500;
    const from = startAt + o.warmupS * 1000;
    const to = from + o.durationS * 1000;
    driverGen.send({ type: 'go', startAt, measureFrom: from, measureTo: to } as Message);
    for (const w of subWorkers) w.send({ type: 'go', measureFrom: from, measureTo: to } as Message);
    log(`drivers streaming (${fmtInt((o.drivers * 1000) / o.periodMs)} pings/s): ${o.warmupS} s warm-up, then ${o.durationS} s measured`);

    await sleepUntil(from);
    const cpu = new CpuWindow(pids);
    const first = await Promise.all(gateways.map((g) => g.scrape()));
    let last = first;
    for (;;) {
      const left = to - nowMs();
      if (left < PROGRESS_MS / 2) break;
      await sleep(Math.min(PROGRESS_MS, left - PROGRESS_MS / 4));
      const now = await Promise.all(gateways.map((g) => g.scrape()));
      log(`measuring ${Math.round((nowMs() - from) / 1000)}/${o.durationS} s: A applied ${fmtInt(rate(last[0]!, now[0]!, 'hexfleet_pings_applied_total'))} pings/s, ` +
        `B sent ${fmtInt(rate(last[1]!, now[1]!, 'hexfleet_tracking_deliveries_total{type="position"}'))} positions/s`);
      last = now;
    }
    await sleepUntil(to);
    const c = cpu.end();
    const rssLoaded = statusBytes(b.pid, 'VmRSS');
    const peakB = statusBytes(b.pid, 'VmHWM');
    const end = await Promise.all(gateways.map((g) => g.scrape()));
    log('window closed; collecting results');
    const dr = await driverGen.next<LoadgenResult>('result', RESULT_TIMEOUT_MS);
    const sr = await Promise.all(subWorkers.map((w) => w.next<SubscriberResult>('result', RESULT_TIMEOUT_MS)));
    for (const g of gateways) g.assertAlive();

    const latency = new Histogram();
    const errors: Record<string, number> = {};
    const statusStates: Record<string, number> = {};
    let windowPositions = 0, outOfOrder = 0, duplicates = 0, open = 0, statuses = 0;
    for (const r of sr) {
      latency.merge(Histogram.fromJSON(r.latency));
      windowPositions += r.windowPositions;
      outOfOrder += r.outOfOrder;
      duplicates += r.duplicates;
      open += r.open;
      statuses += r.statuses;
      for (const [k, n] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + n;
      for (const [k, n] of Object.entries(r.statusStates)) statusStates[k] = (statusStates[k] ?? 0) + n;
    }
    const ack = Histogram.fromJSON(dr.latency);
    const sendLag = Histogram.fromJSON(dr.sendLag);
    const deliveriesPerS = windowPositions / o.durationS;
    const p99 = latency.percentile(0.99);
    const [sA, sB] = [first[0]!, first[1]!];
    const [eA, eB] = [end[0]!, end[1]!];
    const delta = (s: Scrape, e: Scrape, key: string): number => valueOf(e, key) - valueOf(s, key);
    log(`${fmtInt(deliveriesPerS)} deliveries/s, latency p50 ${fmtMs(latency.percentile(0.5))} / p99 ${fmtMs(p99)} ms`);

    const subErrors = Object.entries(errors).map(([k, n]) => `${k} ${fmtInt(n)}`).join(', ') || 'none';
    const driverErrors = Object.entries(dr.errors).map(([k, n]) => `${k} ${fmtInt(n)}`).join(', ') || 'none';
    const dropped = [...eB.series].filter(([k]) => k.startsWith('hexfleet_tracking_dropped_total'))
      .map(([k, v]) => `${/reason="(\w+)"/.exec(k)?.[1] ?? k} ${fmtInt(v - (sB.series.get(k) ?? 0))}`).join(', ') || '0';
    const disconnects = [...eB.series].filter(([k]) => k.startsWith('hexfleet_tracking_disconnects_total'))
      .map(([k, v]) => `${/reason="(\w+)"/.exec(k)?.[1] ?? k} ${fmtInt(v)}`).join(', ') || '0';
    const cpuNamed = (name: string): string => fmtPct(c.perProcess.get(name) ?? NaN);
    const subCpu = subWorkers.reduce((n, w) => n + (c.perProcess.get(w.name) ?? 0), 0);
    const fdNote = connected >= TARGET_SUBSCRIBERS ? '' :
      o.subscribers === FULL_SUBSCRIBERS
        ? ` (20,000 cannot be reached here: one process may hold 20,000 open files (hard limit, cannot be raised) and gateway B also holds its listening socket, ` +
          `Redis connections, log file, epoll/timer/eventfd descriptors and Node's own; ${fmtInt(FULL_SUBSCRIBERS)} leaves that headroom. ` +
          `The drivers are on gateway A, so B's descriptors are subscribers only)`
        : ` (this run asked for ${fmtInt(o.subscribers)})`;
    return [
      {
        scenario: PHASE,
        figure: 'parameters',
        value:
          `${fmtInt(o.drivers)} drivers on gateway A (one WebSocket each, one load generator process, one msgpack ping per frame every ${o.periodMs} ms, ` +
          `open loop spread evenly over the period: ${fmtInt((o.drivers * 1000) / o.periodMs)} pings/s), one accepted order each (committed through RedisOrderStore); ` +
          `${fmtInt(o.subscribers)} subscribers on gateway B (customer tokens, msgpack, one order each, ${fmtInt(o.subscribers / o.drivers)} per order, ` +
          `${procs} subscriber process(es)); offered deliveries ${fmtInt((o.subscribers * 1000) / o.periodMs)}/s ` +
          `(${(1000 / o.periodMs).toFixed(2)} updates/s per subscriber, under the 2/s throttle); ${o.warmupS} s warm-up + ${o.durationS} s measured`,
      },
      {
        scenario: PHASE,
        figure: 'concurrent subscribers on gateway B (connected / subscribed / still open at the end)',
        value: `${fmtInt(connected)} / ${fmtInt(subscribed)} / ${fmtInt(open)} (gateway gauge ${fmtInt(gaugeConnected)})${fdNote}`,
        target: `${fmtInt(TARGET_SUBSCRIBERS)} on one gateway`,
        met: connected >= TARGET_SUBSCRIBERS && open >= TARGET_SUBSCRIBERS,
      },
      {
        scenario: PHASE,
        figure: 'deliveries/s (positions received by subscribers; gateway B counter)',
        value: `${fmtInt(deliveriesPerS)} (${fmtInt(rate(sB, eB, 'hexfleet_tracking_deliveries_total{type="position"}'))})`,
        target: `${fmtInt(TARGET_DELIVERIES_PER_S)}/s`,
        met: deliveriesPerS >= TARGET_DELIVERIES_PER_S * 0.99,
      },
      {
        scenario: PHASE,
        figure: 'delivery latency p50 / p99 / p99.9 (driver send → subscriber receive)',
        value: `${fmtMs(latency.percentile(0.5))} / ${fmtMs(p99)} / ${fmtMs(latency.percentile(0.999))} ms (max ${fmtMs(latency.maxMs)} ms, ${fmtInt(latency.count)} positions)`,
        target: `p99 ≤ ${TARGET_P99_MS} ms at ${fmtInt(TARGET_DELIVERIES_PER_S)}/s`,
        met: p99 <= TARGET_P99_MS && deliveriesPerS >= TARGET_DELIVERIES_PER_S * 0.99,
      },
      {
        scenario: PHASE,
        figure: 'baseline: driver ack latency on A, same pings, p50 / p99 / p99.9 (scheduled send → ack: the ingest half of the path)',
        value: `${fmtMs(ack.percentile(0.5))} / ${fmtMs(ack.percentile(0.99))} / ${fmtMs(ack.percentile(0.999))} ms (${fmtInt(ack.count)} pings); driver send lag p99 ${fmtMs(sendLag.percentile(0.99))} ms`,
      },
      {
        scenario: PHASE,
        figure: 'pings/s applied on A; status frames sent by B in the window',
        value: `${fmtInt(rate(sA, eA, 'hexfleet_pings_applied_total'))}; ${fmtInt(delta(sB, eB, 'hexfleet_tracking_deliveries_total{type="status"}'))}`,
      },
      {
        scenario: PHASE,
        figure: 'subscribe → first status p50 / p99 (all subscribers at once, 1,000 per process in flight)',
        value: `${fmtMs(subscribeLatency.percentile(0.5))} / ${fmtMs(subscribeLatency.percentile(0.99))} ms`,
      },
      {
        scenario: PHASE,
        figure: 'gateway B RSS: none / connected / subscribed (idle) / under load (peak)',
        value: `${fmtMB(rssNone)} / ${fmtMB(rssConnected)} / ${fmtMB(rssIdle)} / ${fmtMB(rssLoaded)} (${fmtMB(peakB)})`,
      },
      {
        scenario: PHASE,
        figure: 'gateway B RSS per idle connection (subscribed − none) ÷ S; connected only',
        value: `${fmtInt(perIdle)} bytes; ${fmtInt((rssConnected - rssNone) / connected)} bytes`,
        target: `≤ ${fmtInt(TARGET_IDLE_BYTES)} bytes (10 KB)`,
        met: perIdle <= TARGET_IDLE_BYTES,
      },
      {
        scenario: PHASE,
        figure: 'CPU: gateway A / gateway B / Redis / driver loadgen / subscriber processes / bench / other processes (% of one core); machine busy',
        value: `${cpuNamed(a.name)} / ${cpuNamed(b.name)} / ${cpuNamed('redis-server')} / ${cpuNamed(driverGen.name)} / ${fmtPct(subCpu)} (all ${procs}) / ` +
          `${cpuNamed('bench')} / ${fmtPct(c.othersPct)}; ${fmtPct(c.machineBusyPct)} of all cores`,
      },
      { scenario: PHASE, figure: 'CPU-bound processes', value: cpuBound(c.perProcess) },
      {
        scenario: PHASE,
        figure: 'errors and close codes',
        value: `subscribers: ${subErrors}; drivers: ${driverErrors}` +
          `${dr.unanswered ? `, pings never acked ${fmtInt(dr.unanswered)}` : ''}; failed connections: ${fmtInt(connectFailed + dc.failed)}; ` +
          `failed subscribes: ${fmtInt(subscribeFailed)}; gateway B disconnects: ${disconnects}`,
      },
      {
        scenario: PHASE,
        figure: 'ordering: positions older than one already received / same ts twice; B dropped (throttle, backpressure) in window',
        value: `${fmtInt(outOfOrder)} / ${fmtInt(duplicates)}; dropped ${dropped}`,
      },
      {
        scenario: PHASE,
        figure: 'status frames received after go, by state',
        value: `${fmtInt(statuses)}: ${Object.entries(statusStates).map(([k, n]) => `${k} ${fmtInt(n)}`).join(', ') || 'none'} (lost → live at the first ping is expected)`,
      },
      {
        scenario: PHASE,
        figure: 'idle samples',
        value: `B connections gauge after subscribing ${fmtInt(metricSum(idleScrape, 'hexfleet_tracking_connections'))}, subscriptions ${fmtInt(metricSum(idleScrape, 'hexfleet_tracking_subscriptions'))}`,
      },
    ];
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    await Promise.all(gateways.map((g) => g.stop()));
  }
}

/** Per-second rate of one series (exact key, or a metric name summed over labels) between two scrapes. */
/** Per second between two scrapes: of one series (`name{label="v"}`), or of the sum of every series of a name. */
function rate(a: Scrape, b: Scrape, key: string): number {
  return (valueOf(b, key) - valueOf(a, key)) / ((b.at - a.at) / 1000);
}

function valueOf(s: Scrape, key: string): number {
  const m = /^([^{]+)\{(.*)\}$/.exec(key);
  if (!m) return metricSum(s, key);
  const labels = Object.fromEntries([...m[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1]!, l[2]!]));
  return metricValue(s, m[1]!, labels);
}
