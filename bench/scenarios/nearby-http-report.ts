/**
 * The figures of bench:nearby-http as report rows, and a one-line-per-side
 * summary for docs/benchmarks.md. Targets are issue 10's, for the hexfleet sides:
 * ≥ 36,000 queries/s, p99 ≤ 5 ms, ≥ 1.5× Tile38 in the same run.
 */
import { fmtInt, fmtMs, fmtPct, type Row } from '../lib/report.js';
import type { PairAgreement } from './nearby-http-agreement.js';
import { TIE_M } from './nearby-http-agreement.js';
import { isLive, type NearbyHttpContext, type Side } from './nearby-http-context.js';
import type { Tally } from './nearby-http-rounds.js';
import { ONE_LOCAL_GATEWAY } from './nearby-http-sides.js';

export const TARGET_QPS = 36_000;
export const TARGET_P99_MS = 5;
export const TARGET_VS_TILE38 = 1.5;
/** Two gateways ≈ 2× one: reads touch no shared server (issue 10); "≈" taken as at least 1.8×. */
export const TARGET_TWO_GATEWAYS = 1.8;

const qpsOf = (t: Tally): number => t.queries / t.seconds;
const pct = (n: number, d: number): string => (d > 0 ? `${((100 * n) / d).toFixed(1)} %` : 'n/a');
/** µs of CPU per query from CPU-seconds over the tally's queries. */
const usPer = (cpuS: number, t: Tally): string => fmtInt((cpuS / t.queries) * 1e6);

function serverCpu(t: Tally): { pct: number; s: number; parts: string } {
  const s = [...t.serverCpuS.values()].reduce((a, b) => a + b, 0);
  const parts = [...t.serverCpuS].map(([name, c]) => `${name} ${fmtPct((c / t.seconds) * 100)}`).join(' + ');
  return { pct: (s / t.seconds) * 100, s, parts };
}

/** The rows of every side, then the agreement, then the load generator's ceiling. */
export function reportRows(ctx: NearbyHttpContext, sides: readonly Side[], tallies: Map<string, Tally>, pairs: PairAgreement[], ceiling: { tally: Tally; bodyBytes: number } | undefined): Row[] {
  const rows: Row[] = [];
  const tile38 = tallies.get('tile38');
  const geo = tallies.get('geosearch');
  for (const side of sides) {
    if (!isLive(side)) {
      rows.push({ scenario: side.label, figure: 'not measured', value: side.unavailable });
      continue;
    }
    const t = tallies.get(side.key)!;
    const hex = side.family === 'hexfleet';
    const qps = qpsOf(t);
    const p99 = t.latency.percentile(0.99);
    rows.push({ scenario: side.label, figure: 'set-up', value: side.setup });
    rows.push({
      scenario: side.label,
      figure: `queries/s (all ${t.windowQps.length} measured windows; each window)`,
      value: `${fmtInt(qps)} (${t.windowQps.map(fmtInt).join(', ')})`,
      ...(hex ? { target: `≥ ${fmtInt(TARGET_QPS)}`, met: qps >= TARGET_QPS } : {}),
    });
    rows.push({
      scenario: side.label,
      figure: 'latency p50 / p99 / p99.9 / max, send → whole answer',
      value: `${fmtMs(t.latency.percentile(0.5))} / ${fmtMs(p99)} / ${fmtMs(t.latency.percentile(0.999))} / ${fmtMs(t.latency.maxMs)} ms`,
      ...(hex ? { target: `p99 ≤ ${TARGET_P99_MS} ms`, met: p99 <= TARGET_P99_MS } : {}),
    });
    if (hex) {
      rows.push(
        tile38
          ? { scenario: side.label, figure: 'queries/s ÷ Tile38', value: (qps / qpsOf(tile38)).toFixed(2), target: `≥ ${TARGET_VS_TILE38}`, met: qps / qpsOf(tile38) >= TARGET_VS_TILE38 }
          : { scenario: side.label, figure: 'queries/s ÷ Tile38', value: 'n/a (Tile38 not measured)', target: `≥ ${TARGET_VS_TILE38}` },
      );
      if (geo) rows.push({ scenario: side.label, figure: 'queries/s ÷ GEOSEARCH', value: (qps / qpsOf(geo)).toFixed(2) });
      const one = tallies.get(ONE_LOCAL_GATEWAY);
      if (side.target.kind === 'http' && side.target.ports.length > 1 && one) {
        const ratio = qps / qpsOf(one);
        rows.push({
          scenario: side.label,
          figure: `queries/s ÷ one gateway (${ONE_LOCAL_GATEWAY})`,
          value: ratio.toFixed(2),
          target: `≈ ${side.target.ports.length}× (≥ ${TARGET_TWO_GATEWAYS})`,
          met: ratio >= TARGET_TWO_GATEWAYS,
        });
      }
    }
    const srv = serverCpu(t);
    rows.push({
      scenario: side.label,
      figure: 'CPU: server processes / load generator / other processes (% of one core); CPU per query: server / load generator',
      value:
        `${srv.parts} / ${fmtPct((t.loadgenCpuS / t.seconds) * 100)} / ${fmtPct((t.othersCpuS / t.seconds) * 100)}; ` +
        `${usPer(srv.s, t)} / ${usPer(t.loadgenCpuS, t)} µs`,
    });
    const errors = Object.entries(t.errors).map(([k, n]) => `${k}: ${fmtInt(n)}`);
    rows.push({
      scenario: side.label,
      figure: 'drivers per answer; errors',
      value: `${(t.returned / t.ok).toFixed(2)}; ${errors.length === 0 ? 'none' : errors.join(', ')} of ${fmtInt(t.queries)} queries`,
    });
  }
  const labelOf = new Map(sides.map((s) => [s.key, s.key]));
  for (const p of pairs) {
    rows.push({
      scenario: 'agreement',
      figure: `${labelOf.get(p.a)} vs ${labelOf.get(p.b)}: nearest ${ctx.options.limit} ids over ${fmtInt(p.samples)} sampled points`,
      value:
        `identical ${pct(p.identical, p.samples)}; identical or a tie at the cut-off (within ${TIE_M} m) ${pct(p.identical + p.ties, p.samples)}` +
        (p.worstM > 0 ? `; other differences up to ${p.worstM.toFixed(1)} m from the cut-off` : '') +
        (p.failed > 0 ? `; ${fmtInt(p.failed)} queries failed` : ''),
    });
  }
  if (ceiling) {
    const t = ceiling.tally;
    const lgPct = (t.loadgenCpuS / t.seconds) * 100;
    rows.push({
      scenario: 'load generator ceiling',
      figure: `${ctx.options.connections} connections against a uWebSockets.js server answering every GET at once with a captured ${fmtInt(ceiling.bodyBytes)}-byte nearby answer`,
      value:
        `${fmtInt(qpsOf(t))} requests/s, p99 ${fmtMs(t.latency.percentile(0.99))} ms; load generator ${fmtPct(lgPct)} of one core (${usPer(t.loadgenCpuS, t)} µs per request, ` +
        `so one core of it sustains about ${fmtInt((t.queries / t.loadgenCpuS))} requests/s); echo server ${fmtPct(serverCpu(t).pct)}`,
      target: '≥ 40,000 requests/s per core of load generator',
      met: t.queries / t.loadgenCpuS >= 40_000,
    });
  }
  return rows;
}

/** One line per side, the table of docs/benchmarks.md. */
export function summaryTable(sides: readonly Side[], tallies: Map<string, Tally>, pairs: PairAgreement[]): string {
  const tile38 = tallies.get('tile38');
  const agreeWith = (key: string, other: string): string => {
    const p = pairs.find((x) => (x.a === key && x.b === other) || (x.b === key && x.a === other));
    return p ? pct(p.identical + p.ties, p.samples) : '—';
  };
  const lines = [
    '| side | queries/s | p50 / p99 / p99.9 ms | ÷ Tile38 | server CPU (% of a core) | load generator CPU | same ids as Tile38 / GEOSEARCH |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const side of sides) {
    if (!isLive(side)) {
      lines.push(`| ${side.label} | ${side.unavailable} | | | | | |`);
      continue;
    }
    const t = tallies.get(side.key)!;
    const ratio = tile38 && side.key !== 'tile38' ? (qpsOf(t) / qpsOf(tile38)).toFixed(2) : side.key === 'tile38' ? '1' : 'n/a';
    lines.push(
      `| ${side.label} | ${fmtInt(qpsOf(t))} | ${fmtMs(t.latency.percentile(0.5))} / ${fmtMs(t.latency.percentile(0.99))} / ${fmtMs(t.latency.percentile(0.999))} | ${ratio} | ` +
        `${serverCpu(t).parts} | ${fmtPct((t.loadgenCpuS / t.seconds) * 100)} | ${side.key === 'tile38' ? '—' : agreeWith(side.key, 'tile38')} / ${side.key === 'geosearch' ? '—' : agreeWith(side.key, 'geosearch')} |`,
    );
  }
  return lines.join('\n');
}
