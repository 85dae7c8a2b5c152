/**
 * The per-shard cost model of bench:cluster, from what the ingest and nearby
 * windows measured: CPU per 1,000 operations of each kind of process, what
 * that predicts for this machine (checked against the measured rate), and
 * the projection to N shards on N machines.
 *
 *   cost of a shard   c = CPU-seconds of the serving primaries per operation
 *   one shard         ≈ 1 / c operations/s (a Redis is one thread: one core)
 *   N shards          ≈ N / c while the areas spread evenly over the shards
 *                       and the clients (gateways) are scaled out too;
 *                       the busiest shard saturates first: 1 / (c × its share)
 *   this machine      ≈ free cores / (CPU of every process per operation)
 */
import { fmtInt, fmtMs, fmtPct } from '../lib/report.js';
import type { ClusterContext, Target, Usage } from './cluster-context.js';
import { ingestRate } from './cluster-ingest.js';
import { nearbyRate } from './cluster-nearby.js';
import { groupCpuS, servingCpuS } from './cluster-window.js';

/** Shard counts of the projection. */
const PROJECTED_SHARDS = [1, 3, 6, 12];

/** CPU-seconds per operation of each group of processes, over one configuration's windows. */
interface Cost {
  target: Target;
  rate: number;
  serving: number;
  /** The busiest serving node's share of the serving CPU (1 on one Redis). */
  busiestShare: number;
  replicas: number;
  client: number;
  /** Every process of the run (idle nodes and the runner included). */
  all: number;
  /** Cores the rest of the machine left free, on average. */
  freeCores: number;
}

function costOf(ctx: ClusterContext, t: Target, usage: Usage, ops: number, rate: number): Cost {
  const serving = servingCpuS(ctx, usage, t).map(([, s]) => s);
  const servingS = serving.reduce((a, b) => a + b, 0);
  let allS = 0;
  for (const s of usage.cpuS.values()) if (Number.isFinite(s)) allS += s;
  return {
    target: t,
    rate,
    serving: servingS / ops,
    busiestShare: Math.max(...serving) / servingS,
    replicas: groupCpuS(ctx, usage, t, 'replicas') / ops,
    client: groupCpuS(ctx, usage, t, 'client') / ops,
    all: allS / ops,
    freeCores: ctx.cpus - usage.othersS / usage.seconds,
  };
}

const ms = (cpuSPerOp: number): string => fmtMs(cpuSPerOp * 1e6);
const ratio = (a: number, b: number): string => (Number.isFinite(a / b) ? (a / b).toFixed(2) : 'n/a');

/** The model as markdown (the report's appendix), from the measures the scenarios left in `ctx`. */
export function clusterModel(ctx: ClusterContext): string {
  const ingest = ctx.targets.flatMap((t) => {
    const m = ctx.measured.ingest.get(t.key);
    return m ? [costOf(ctx, t, m.usage, m.pings, ingestRate(ctx, m))] : [];
  });
  const nearby = ctx.targets.flatMap((t) => {
    const m = ctx.measured.nearby.get(t.key);
    return m ? [costOf(ctx, t, m.usage, m.queries, nearbyRate(ctx, m))] : [];
  });
  const out: string[] = [];
  for (const [kind, costs, unit] of [['Ingest', ingest, 'pings'], ['nearby()', nearby, 'queries']] as const) {
    if (costs.length === 0) continue;
    const one = costs.find((c) => c.target.key === 'one');
    const row = (label: string, f: (c: Cost) => string): string => `| ${label} | ${costs.map(f).join(' | ')} |`;
    out.push(
      `### ${kind}: cost per 1,000 ${unit} (CPU ms, the same windows)`,
      '',
      `| | ${costs.map((c) => c.target.label).join(' | ')} |`,
      `|---|${costs.map(() => '---|').join('')}`,
      row(`${unit}/s measured (÷ one Redis)`, (c) => `${fmtInt(c.rate)} (${one ? ratio(c.rate, one.rate) : 'n/a'})`),
      row('serving Redis: the one server, or the sum of the primaries (busiest primary\'s share)', (c) => `${ms(c.serving)} (${fmtPct(100 * c.busiestShare)})`),
      row('replicas (re-applying the primaries\' writes)', (c) => (c.target.cluster ? ms(c.replicas) : '–')),
      row('client: the writer or reader processes', (c) => ms(c.client)),
      row('every process of the run (with idle nodes and the runner)', (c) => ms(c.all)),
      row(`this box: free cores ÷ that = predicted ${unit}/s (measured ÷ predicted)`, (c) => `${fmtInt(c.freeCores / c.all)} (${ratio(c.rate, c.freeCores / c.all)})`),
      row(`one shard with a core of its own: 1 ÷ serving cost = ${unit}/s`, (c) => fmtInt(1 / c.serving)),
      row(`client cores needed per shard at that rate`, (c) => (c.client / c.serving).toFixed(1)),
      '',
    );
  }
  out.push(...projection(ingest, nearby));
  return out.join('\n');
}

/** N shards on N machines: N ÷ serving cost, and what the busiest shard allows when the spread is the measured one. */
function projection(ingest: Cost[], nearby: Cost[]): string[] {
  const pick = (costs: Cost[], key: Target['key']): Cost | undefined => costs.find((c) => c.target.key === key);
  const columns: [string, Cost | undefined][] = [
    ['ingest, markets per shard (area res 3 costs)', pick(ingest, 'c3')],
    ['ingest, one city over every shard (area res 6 costs)', pick(ingest, 'c6')],
    ['nearby(), markets per shard (res 3)', pick(nearby, 'c3')],
    ['nearby(), one city over every shard (res 6)', pick(nearby, 'c6')],
  ];
  const present = columns.filter((c): c is [string, Cost] => c[1] !== undefined);
  if (present.length === 0) return [];
  return [
    '### Projection: N shards, each primary on a core of its own (replicas and clients elsewhere)',
    '',
    `| shards | ${present.map(([label]) => label).join(' | ')} |`,
    `|---|${present.map(() => '---|').join('')}`,
    ...PROJECTED_SHARDS.map((n) => `| ${n} | ${present.map(([, c]) => fmtInt(n / c.serving)).join(' | ')} |`),
    `| 3, this city's measured spread (busiest primary's share of the work) | ${present.map(([, c]) => `${fmtInt(1 / (c.serving * c.busiestShare))} (${fmtPct(100 * c.busiestShare)})`).join(' | ')} |`,
    '',
  ];
}
