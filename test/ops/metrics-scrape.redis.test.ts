import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ping, startTestGateway, type TestGateway, uniqueDriverId } from '../support/gateway-harness.js';
import { RedisServer } from '../support/redis-server.js';
import { waitFor } from '../support/wait-for.js';
import { promqlNames } from './promql-names.js';
import { sourceMetrics } from './source-metrics.js';

const TYPES: Record<string, string> = { counter: 'Counter', gauge: 'Gauge', histogram: 'Histogram', summary: 'Summary' };

/**
 * The ops test reads metric definitions from the source text; this checks
 * that reading against a real gateway's /metrics (Redis engine: read index,
 * position bus and replication metrics included): every hexfleet_ family it
 * exports is one the reader found, with the same type and labels.
 */
describe('ops/: the metric definitions read from src/ match a real /metrics scrape', () => {
  let server: RedisServer;
  let gw: TestGateway;
  let text: string;

  beforeAll(async () => {
    server = await RedisServer.start();
    gw = await startTestGateway('redis', { redisUrl: server.url });
    const driverId = uniqueDriverId('ops');
    const driver = await gw.connectDriver(driverId);
    driver.send({ type: 'pings', pings: [ping(1), { seq: 2, lat: 91, lng: 0, ts: Date.now() }] });
    await waitFor(async () => (await gw.metric('hexfleet_pings_applied_total')) >= 1, { what: 'the ping applied' });
    const res = await gw.adminGet('/metrics');
    expect(res.status).toBe(200);
    text = res.text;
  });
  afterAll(async () => {
    await gw?.stop();
    await server?.stop();
  });

  it('every exported hexfleet_ family is defined in src/ with its type', () => {
    const metrics = sourceMetrics();
    const families = [...text.matchAll(/^# TYPE (hexfleet_\S+) (\S+)$/gm)].map((m) => ({ name: m[1]!, type: TYPES[m[2]!] }));
    expect(families.length).toBeGreaterThan(60);
    const wrong = families.filter((f) => metrics.get(f.name)?.type !== f.type).map((f) => `${f.name} ${f.type} (src: ${metrics.get(f.name)?.type ?? 'none'})`);
    expect(wrong).toEqual([]);
  });

  it('every label of an exported sample is one its definition declares', () => {
    const metrics = sourceMetrics();
    const problems: string[] = [];
    for (const m of text.matchAll(/^(hexfleet_[a-z0-9_]+)\{([^}]*)\}/gm)) {
      const name = m[1]!;
      const def = metrics.get(name) ?? metrics.get(name.replace(/_(bucket|sum|count)$/, ''));
      const declared = new Set([...(def?.labels ?? []), ...(name.endsWith('_bucket') ? ['le'] : [])]);
      for (const l of m[2]!.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) if (!declared.has(l[1]!)) problems.push(`${name}: ${l[1]}`);
    }
    expect(text).toMatch(/hexfleet_pings_rejected_total\{code="invalid_lat"\} 1/);
    expect(problems).toEqual([]);
  });

  it('the dashboard and the rules use metrics this gateway exports (the Redis engine\'s share of them)', () => {
    const exported = new Set([...text.matchAll(/^# TYPE (hexfleet_\S+) /gm)].map((m) => m[1]!));
    const dashboard = JSON.parse(readFileSync(new URL('../../ops/grafana/hexfleet-dashboard.json', import.meta.url), 'utf8')) as { panels: { targets?: { expr: string }[] }[] };
    const used = new Set(dashboard.panels.flatMap((p) => p.targets ?? []).flatMap((t) => promqlNames(t.expr).metrics.map((n) => n.replace(/_(bucket|sum|count)$/, ''))));
    const shown = [...used].filter((n) => exported.has(n));
    // Kafka, webhooks, backups, TLS and Cluster metrics exist only when those are configured.
    expect(shown.length).toBeGreaterThan(40);
    for (const n of ['hexfleet_batch_apply_seconds', 'hexfleet_read_index_local', 'hexfleet_position_bus_areas_followed', 'hexfleet_redis_primary_changes_total', 'hexfleet_auth_failures_total']) expect(shown).toContain(n);
  });
});
