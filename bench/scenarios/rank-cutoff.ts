/**
 * Where to rank a candidate list: on the event loop (rankOrder) or in the
 * dispatch pool (DispatchPool.rank, one worker thread), by list size — the
 * measurement behind HEXFLEET_DISPATCH_RANK_IN_THREAD_MAX. Runs in the
 * benchmark process, no gateway:
 *
 *   in-thread   rankOrder on the caller's thread: what it costs the event loop
 *   pool        DispatchPool.rank awaited one at a time: what a match waits
 *   pool, loop  the event loop's busy time per pool call (postMessage, transfer,
 *               promise), from eventLoopUtilization over a closed loop of 4 in flight
 *
 * The cheapest place is the thread whose event loop time is smaller: in-thread
 * while its sort costs less than the loop's share of a pool hop.
 */
import { performance } from 'node:perf_hooks';
import { DispatchPool } from '../../src/matching/dispatch-pool.js';
import { rankOrder } from '../../src/matching/rank-order.js';
import { loadConfig } from '../../src/config/load-config.js';
import type { MatchContext } from '../lib/match-context.js';
import { fmtInt, type Row } from '../lib/report.js';

const PHASE = 'rank: in-thread vs pool';
const SIZES = [5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000];
const IN_FLIGHT = 4;

function lists(n: number, seed: number): { eta: Float64Array; dist: Float64Array } {
  let x = seed >>> 0 || 1;
  const next = (): number => ((x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const eta = new Float64Array(n);
  const dist = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    dist[i] = next() * 3000;
    eta[i] = Math.round((dist[i]! * 1.3) / 4.5);
  }
  return { eta, dist };
}

const p50 = (xs: number[]): number => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const us = (ms: number): string => (ms * 1000).toFixed(1);

export async function runRankCutoff(ctx: MatchContext): Promise<Row[]> {
  const quick = ctx.options.quick;
  const pool = new DispatchPool({ threads: 1, maxQueue: 1000 });
  const rows: Row[] = [];
  const results: { n: number; inThread: number; pool: number; poolLoop: number }[] = [];
  try {
    const warm = lists(50, 1);
    for (let i = 0; i < 2000; i++) rankOrder(warm.eta, warm.dist);
    for (let i = 0; i < 200; i++) await pool.rank(warm.eta.slice(), warm.dist.slice());
    for (const n of SIZES) {
      const runs = Math.max(quick ? 20 : 50, Math.min(quick ? 500 : 3000, Math.floor(200_000 / n)));
      const inputs = Array.from({ length: runs }, (_, i) => lists(n, n * 7919 + i));
      const inThread: number[] = [];
      for (const { eta, dist } of inputs) {
        const t = performance.now();
        rankOrder(eta, dist);
        inThread.push(performance.now() - t);
      }
      const viaPool: number[] = [];
      for (const { eta, dist } of inputs) {
        const e = eta.slice();
        const d = dist.slice();
        const t = performance.now();
        await pool.rank(e, d);
        viaPool.push(performance.now() - t);
      }
      // The event loop's share of a pool call: its busy time over a closed loop of calls ÷ calls.
      const copies = inputs.map(({ eta, dist }) => ({ e: eta.slice(), d: dist.slice() }));
      let next = 0;
      const elu0 = performance.eventLoopUtilization();
      await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
        while (next < copies.length) {
          const c = copies[next++]!;
          await pool.rank(c.e, c.d);
        }
      }));
      const elu = performance.eventLoopUtilization(elu0);
      const r = { n, inThread: p50(inThread), pool: p50(viaPool), poolLoop: elu.active / runs };
      results.push(r);
      ctx.progress.log(PHASE, `${fmtInt(n)} candidates: in-thread ${us(r.inThread)} µs, pool ${us(r.pool)} µs (event loop ${us(r.poolLoop)} µs per call)`);
      rows.push({
        scenario: PHASE,
        figure: `${fmtInt(n)} candidates: in-thread p50 / pool round trip p50 / pool's event-loop time per call (µs)`,
        value: `${us(r.inThread)} / ${us(r.pool)} / ${us(r.poolLoop)} (${fmtInt(runs)} lists)`,
      });
    }
  } finally {
    await pool.close();
  }
  // The largest size (from the smallest up) still cheaper in-thread than the loop's share of a hop.
  let cut = 0;
  for (const r of results) {
    if (r.inThread > r.poolLoop) break;
    cut = r.n;
  }
  const configured = loadConfig({}).dispatchRankInThreadMax;
  rows.push({
    scenario: PHASE,
    figure: 'largest list size cheaper in-thread than the event loop\'s share of a pool call (measured) / HEXFLEET_DISPATCH_RANK_IN_THREAD_MAX default',
    value: `${fmtInt(cut)} / ${fmtInt(configured)}`,
  });
  return rows;
}
