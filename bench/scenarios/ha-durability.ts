/**
 * B, the cost of durability: the same Sentinel group, two gateways that
 * differ only in HEXFLEET_REDIS_MIN_REPLICAS_ACK (0: acked once the primary
 * has the write; 1: acked once WAIT says a replica has it too).
 *
 *   closed loop  bench:ingest's A shape (1,000 drivers, batches of 50, 2 in
 *                flight): throughput; windows alternate in pairs, the order
 *                flipping each pair, so a drift of the machine weighs on both
 *   open loop    a fixed rate far below saturation: what WAIT adds to an ack
 *
 * Both gateways run the whole time (the idle one is measured by name); each
 * window gets a fresh load generator with drivers of its own.
 */
import type { GatewayProcess } from '../../kit/gateway-process.js';
import { startBenchGateway } from '../lib/bench-gateway.js';
import { CITY_BOX } from '../lib/driver-sim.js';
import { connectLoadgens, cpuOf, describeErrors, driveLoad, type LoadOutcome } from '../lib/load-run.js';
import type { LoadgenConfig } from '../lib/messages.js';
import { cpuBound, fmtInt, fmtMs, fmtPct, type Row } from '../lib/report.js';
import type { HaContext } from './ha-context.js';

const PHASE = 'B durability';
const SEED = 0xd0ab1e;

type Mode = 'ack0' | 'ack1';
type Loop = 'closed' | 'open';

interface Window {
  mode: Mode;
  loop: Loop;
  out: LoadOutcome;
  connectFailed: number;
}

/** ack0 ack1, ack1 ack0, …: each pair flips the order of the one before. */
function windowOrder(pairs: number): Mode[] {
  return Array.from({ length: pairs }, (_, i): Mode[] => (i % 2 === 0 ? ['ack0', 'ack1'] : ['ack1', 'ack0'])).flat();
}

export async function runDurability(ctx: HaContext): Promise<Row[]> {
  const o = ctx.options.durability;
  ctx.progress.log(PHASE, 'starting a gateway with HEXFLEET_REDIS_MIN_REPLICAS_ACK=0 and one with 1');
  const gateways: Record<Mode, GatewayProcess> = {
    ack0: await startBenchGateway('gateway-ack0', ctx.gatewayEnv('hfbench-ha-b0', { HEXFLEET_REDIS_MIN_REPLICAS_ACK: '0' }), ctx.tmpDir),
    ack1: await startBenchGateway('gateway-ack1', ctx.gatewayEnv('hfbench-ha-b1', { HEXFLEET_REDIS_MIN_REPLICAS_ACK: '1' }), ctx.tmpDir),
  };
  const windows: Window[] = [];
  try {
    const plan: [Loop, Mode][] = [
      ...windowOrder(o.pairs).map((m): [Loop, Mode] => ['closed', m]),
      ...(['ack0', 'ack1'] as const).map((m): [Loop, Mode] => ['open', m]),
    ];
    for (const [i, [loop, mode]] of plan.entries()) {
      const phase = `${PHASE} ${i + 1}/${plan.length} ${loop} loop ${mode}`;
      const gw = gateways[mode];
      const idle = gateways[mode === 'ack0' ? 'ack1' : 'ack0'];
      const drivers = loop === 'closed' ? o.drivers : o.openDrivers;
      const config: LoadgenConfig = {
        mode: loop,
        urls: [gw.driverUrl],
        jwtSecret: ctx.jwtSecret,
        first: 0,
        step: 1,
        count: drivers,
        totalDrivers: drivers,
        idTag: `${mode === 'ack0' ? 'z' : 'w'}${String(i).padStart(2, '0')}`,
        area: CITY_BOX,
        seed: SEED + i,
        batchPings: loop === 'closed' ? o.batchPings : o.openBatchPings,
        depth: loop === 'closed' ? o.depth : 1,
        periodMs: loop === 'closed' ? 0 : o.openPeriodMs,
        dtS: 1,
        tsStepMs: 1,
        connectConcurrency: 50,
      };
      const lg = await connectLoadgens(ctx, phase, [config]);
      try {
        const primary = await ctx.topology.primary();
        const watch = new Map([...ctx.topology.pids()].filter(([, pid]) => pid !== primary.pid));
        watch.set(idle.name, idle.pid);
        const out = await driveLoad({ ...ctx, redis: primary }, phase, [gw], lg.workers, ctx.options.warmupS, watch);
        ctx.progress.log(phase, `${fmtInt(out.ackedPingsPerS)} pings/s acked, p99 ${fmtMs(out.latency.percentile(0.99))} ms`);
        windows.push({ mode, loop, out, connectFailed: lg.failed });
      } finally {
        await Promise.all(lg.workers.map((w) => w.stop()));
      }
    }
  } finally {
    await Promise.all(Object.values(gateways).map((g) => g.stop()));
  }
  return rows(ctx, windows);
}

function rows(ctx: HaContext, windows: Window[]): Row[] {
  const o = ctx.options.durability;
  const of = (mode: Mode, loop: Loop): Window[] => windows.filter((w) => w.mode === mode && w.loop === loop);
  const mean = (ws: Window[], f: (w: Window) => number): number => ws.reduce((n, w) => n + f(w), 0) / ws.length;
  const rate = (mode: Mode): number => mean(of(mode, 'closed'), (w) => w.out.ackedPingsPerS);
  const q = (mode: Mode, loop: Loop, p: number): number => mean(of(mode, loop), (w) => w.out.latency.percentile(p));
  const perMode = (mode: Mode): Row[] => {
    const scenario = `B ${mode === 'ack0' ? 'MIN_REPLICAS_ACK=0' : 'MIN_REPLICAS_ACK=1'}`;
    const closed = of(mode, 'closed');
    const open = of(mode, 'open');
    return [
      { scenario, figure: 'closed loop: acked pings/s, each window in run order; mean', value: `${closed.map((w) => fmtInt(w.out.ackedPingsPerS)).join(', ')}; ${fmtInt(rate(mode))}` },
      { scenario, figure: 'closed loop: ack p50 / p99 (mostly queueing: pings in flight ÷ rate), mean of windows', value: `${fmtMs(q(mode, 'closed', 0.5))} / ${fmtMs(q(mode, 'closed', 0.99))} ms` },
      {
        scenario,
        figure: `open loop (${fmtInt((o.openDrivers * o.openBatchPings * 1000) / o.openPeriodMs)} pings/s offered): acked pings/s; ack p50 / p99 / p99.9`,
        value: `${fmtInt(mean(open, (w) => w.out.ackedPingsPerS))}; ${fmtMs(q(mode, 'open', 0.5))} / ${fmtMs(q(mode, 'open', 0.99))} / ${fmtMs(q(mode, 'open', 0.999))} ms`,
      },
      {
        scenario,
        figure: 'closed loop CPU: gateway / Redis primary / replica / load generator / other processes (% of one core); machine busy',
        value:
          `${fmtPct(mean(closed, (w) => w.out.cpu.get(`gateway-${mode}`) ?? NaN))} / ${fmtPct(mean(closed, (w) => w.out.cpu.get('redis-server') ?? NaN))} / ` +
          `${fmtPct(mean(closed, (w) => cpuOf(w.out, 'redis-server-')))} / ${fmtPct(mean(closed, (w) => cpuOf(w.out, 'loadgen')))} / ` +
          `${fmtPct(mean(closed, (w) => w.out.othersPct))}; ${fmtPct(mean(closed, (w) => w.out.machineBusyPct))} of all cores`,
      },
      { scenario, figure: 'CPU-bound processes (closed loop windows)', value: [...new Set(closed.map((w) => cpuBound(w.out.cpu)))].join('; ') },
      { scenario, figure: 'errors', value: [...new Set(windows.filter((w) => w.mode === mode).map((w) => describeErrors(w.out, w.connectFailed)))].join('; ') },
    ];
  };
  return [
    {
      scenario: 'B durability',
      figure: 'parameters',
      value:
        `${ctx.topology.description}; two gateway processes on it, one with HEXFLEET_REDIS_MIN_REPLICAS_ACK=0 and one with 1 (WAIT 1 ${ctx.gatewayConfig.redisReplicaAckTimeoutMs} after each write, group commit). ` +
        `Closed loop: ${fmtInt(o.drivers)} drivers, batches of ${o.batchPings}, ${o.depth} in flight each, ${o.pairs} pair(s) of windows in the order ${windowOrder(o.pairs).join(', ')}; ` +
        `open loop: ${fmtInt(o.openDrivers)} drivers, a batch of ${o.openBatchPings} every ${o.openPeriodMs} ms each, one window per gateway; ` +
        `every window ${ctx.options.warmupS} s warm-up + ${ctx.options.durationS} s measured with a fresh load generator`,
    },
    ...perMode('ack0'),
    ...perMode('ack1'),
    { scenario: 'B ratio', figure: 'throughput, MIN_REPLICAS_ACK=1 ÷ 0 (closed loop, mean pings/s)', value: (rate('ack1') / rate('ack0')).toFixed(2) },
    {
      scenario: 'B ratio',
      figure: 'ack p99, MIN_REPLICAS_ACK=1 ÷ 0: closed loop; open loop (difference)',
      value:
        `${(q('ack1', 'closed', 0.99) / q('ack0', 'closed', 0.99)).toFixed(2)}; ${(q('ack1', 'open', 0.99) / q('ack0', 'open', 0.99)).toFixed(2)} ` +
        `(${fmtMs(q('ack1', 'open', 0.99) - q('ack0', 'open', 0.99))} ms)`,
    },
  ];
}
