/**
 * A, failover gap: kill -9 the primary while a gateway (its own process)
 * ingests and matches, on whatever engine `ctx.topology` is (Sentinel now;
 * the Cluster topology plugs in unchanged), `repeats` times on the same
 * group and gateway. Each round:
 *
 *   load running ─ kill -9 primary ─ promotion ─ supervisor restarts the node as a replica
 *        │              │                                        │
 *        │              └──── gap: first ack of a batch sent after the kill ───┘ (…or later)
 *        └─ afterwards: every ack checked on the new primary, fences checked in the store
 *
 * Load: in-process driver apps over real WebSockets (one batch in flight
 * each, resent after an error) and order-service loops (match, then
 * cancel) over HTTP, see ha-fleet.ts.
 */
import { startBenchGateway } from '../lib/bench-gateway.js';
import { sleep } from '../lib/clock.js';
import { fmtInt, fmtMs, type Row } from '../lib/report.js';
import type { HaContext } from './ha-context.js';
import { Fleet } from './ha-fleet.js';

const PHASE = 'A failover';
/** Acks per driver after the kill before a round ends: enough that every driver is certainly writing again. */
const ACKS_AFTER = 5;
/** How long a round may take to come back before it is reported as not recovered. */
const RECOVERY_TIMEOUT_MS = 60_000;
const SITE = { lat: 52.52, lng: 13.405 };

interface Round {
  promotionMs: number;
  rejoinedMs: number;
  gapMs: number;
  allBackMs: number;
  matchesBackMs: number;
}

/** Checked once at the end, over every round: on the node that is primary then (later rounds only add to it). */
interface Totals {
  acked: number;
  lost: number;
  heldTwice: number;
  fenceReused: number;
  orders: number;
}

export async function runFailover(ctx: HaContext): Promise<Row[]> {
  const o = ctx.options.failover;
  const prefix = `hfbench-ha-a-${ctx.topology.kind}`;
  ctx.progress.log(PHASE, `starting a gateway on ${ctx.topology.kind}`);
  const gw = await startBenchGateway('gateway', ctx.gatewayEnv(prefix, { HEXFLEET_OFFER_TIMEOUT_MS: '600000', HEXFLEET_STALE_MS: '600000' }), ctx.tmpDir);
  const fleet = await Fleet.open({ port: gw.port, jwtSecret: ctx.jwtSecret, tag: 'ha', drivers: o.drivers, matchers: o.matchers, site: SITE });
  const rounds: Round[] = [];
  let totals: Totals;
  try {
    fleet.start(o.batchPings, o.periodMs);
    for (let r = 1; r <= o.repeats; r++) {
      const phase = `${PHASE} ${r}/${o.repeats}`;
      await ctx.topology.waitReady();
      await sleep(ctx.options.warmupS * 1000);
      if (!fleet.allAckedAfter(performance.now() - ctx.options.warmupS * 1000, 1)) throw new Error('the load is not running before the kill');
      const victim = await ctx.topology.victim();
      ctx.progress.log(phase, `kill -9 of the primary on port ${victim.port}`);
      const killedAt = performance.now();
      await victim.kill();
      const promoted = await ctx.topology.waitForFailover(victim);
      const promotionMs = performance.now() - killedAt;
      ctx.progress.log(phase, `port ${promoted.port} promoted after ${fmtMs(promotionMs / 1000)} s; restarting the killed node as its replica`);
      await ctx.topology.rejoin(victim);
      const rejoinedMs = performance.now() - killedAt;
      const deadline = performance.now() + RECOVERY_TIMEOUT_MS;
      while (!(fleet.allAckedAfter(killedAt, ACKS_AFTER) && fleet.matchesAfter(killedAt) >= 1)) {
        if (performance.now() > deadline) throw new Error(`round ${r}: writes not back ${RECOVERY_TIMEOUT_MS / 1000} s after the kill`);
        await sleep(50);
      }
      rounds.push({
        promotionMs,
        rejoinedMs,
        gapMs: fleet.firstAckAfter(killedAt) - killedAt,
        allBackMs: fleet.allBackAfter(killedAt) - killedAt,
        matchesBackMs: fleet.firstMatchAfter(killedAt) - killedAt,
      });
      ctx.progress.log(phase, `first ack ${fmtMs(rounds.at(-1)!.gapMs / 1000)} s after the kill`);
    }
    await fleet.stop();
    const direct = await ctx.topology.openDirect(await ctx.topology.primary(), prefix);
    try {
      const f = await fleet.fences(direct);
      totals = { acked: fleet.acked, lost: await fleet.ackedLost(direct), heldTwice: f.heldTwice, fenceReused: f.fenceReused, orders: f.orders };
    } finally {
      await direct.close();
    }
  } finally {
    await fleet.stop();
    fleet.close();
    await gw.stop();
  }
  return rows(ctx, rounds, fleet, totals);
}

function rows(ctx: HaContext, rounds: Round[], fleet: Fleet, t: Totals): Row[] {
  const o = ctx.options.failover;
  const s = (ms: number): string => (ms / 1000).toFixed(2);
  const each = (f: (r: Round) => number): string => rounds.map((r) => s(f(r))).join(', ');
  const sorted = (f: (r: Round) => number): number[] => rounds.map(f).sort((a, b) => a - b);
  const median = (f: (r: Round) => number): number => sorted(f)[Math.floor((rounds.length - 1) / 2)]!;
  const twice = t.heldTwice + t.fenceReused;
  const scenario = `A failover (${ctx.topology.kind})`;
  return [
    {
      scenario,
      figure: 'parameters',
      value:
        `${ctx.topology.description}; 1 gateway process (HEXFLEET_REDIS_MIN_REPLICAS_ACK default: 1); ${o.drivers} driver apps in the bench process, ` +
        `one WebSocket each, one batch of ${o.batchPings} pings in flight, a batch every ${o.periodMs} ms, resent after 50 ms on an error; ` +
        `${o.matchers} order-service loops (POST /v1/match, then cancel) over HTTP; ${o.repeats} kill -9 of the primary, ` +
        `${ctx.options.warmupS} s of load before each; the killed node is restarted as a replica (the topology's rejoin) as soon as a replica is promoted`,
    },
    { scenario, figure: 'kill → replica promoted (s), each round', value: each((r) => r.promotionMs) },
    { scenario, figure: 'kill → killed node back as a replica, synced (s), each round', value: each((r) => r.rejoinedMs) },
    { scenario, figure: 'failover gap: kill → first successful ack (s), each round; median', value: `${each((r) => r.gapMs)}; ${s(median((r) => r.gapMs))}` },
    { scenario, figure: 'kill → every driver acked again (s), each round', value: each((r) => r.allBackMs) },
    { scenario, figure: 'kill → first success of a match requested after the kill (s), each round', value: each((r) => r.matchesBackMs) },
    { scenario, figure: 'acked batches lost (seq above the stored seq on the final primary)', value: `${fmtInt(t.lost)} of ${fmtInt(t.acked)} acked`, target: '0', met: t.lost === 0 },
    {
      scenario,
      figure: 'drivers reserved twice (two open orders, or one fence given twice)',
      value: `${fmtInt(twice)} over ${fmtInt(t.orders)} orders`,
      target: '0',
      met: twice === 0,
    },
    {
      scenario,
      figure: 'errors clients saw, by code (pings and HTTP, every round)',
      value: fleet.errors.size === 0 ? 'none' : [...fleet.errors].map(([c, n]) => `${c} ${fmtInt(n)}`).join(', '),
    },
  ];
}
