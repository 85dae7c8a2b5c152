import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema, envName, type ConfigKey } from '../../src/config/config-schema.js';
import { alertRulesText, alertTestCoverage } from './alert-rules-text.js';
import { promqlNames, withGrafanaVariables } from './promql-names.js';
import { definitionCount, sourceMetrics, type SourceMetric } from './source-metrics.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const RULES = join(root, 'ops/prometheus/hexfleet-alerts.yml');
/** Evaluated every minute, and every 10 minutes for the rules that need days of series. */
const RULE_TESTS = ['hexfleet-alerts.test.yml', 'hexfleet-alerts.days.test.yml'].map((f) => join(root, 'ops/prometheus', f));
const DASHBOARD = join(root, 'ops/grafana/hexfleet-dashboard.json');

/** Labels every scraped series carries besides its own. */
const SCRAPE_LABELS = ['job', 'instance'];
/** Series Prometheus makes itself, which rules may use. */
const PROMETHEUS_SERIES: Record<string, string[]> = { up: [] };

function promtool(...args: string[]): { status: number; output: string } {
  const r = spawnSync('promtool', args, { cwd: root, encoding: 'utf8', timeout: 120_000 });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new Error('promtool is not installed: apt-get install prometheus (Debian\'s prometheus package provides promtool; .ci/run installs it)');
  }
  if (r.error) throw r.error;
  return { status: r.status ?? -1, output: `${r.stdout}${r.stderr}` };
}

interface Dashboard {
  schemaVersion: number;
  templating: { list: { name: string; type: string; query: unknown; definition?: string }[] };
  panels: Panel[];
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  gridPos?: { h: number; w: number; x: number; y: number };
  targets?: { expr?: string; refId?: string; legendFormat?: string; datasource?: { uid: string } }[];
  panels?: Panel[];
}

const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]).filter((p) => p.type !== 'row');
const dashboardExprs = panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: `panel "${p.title}" ${t.refId}`, expr: t.expr ?? '', legend: t.legendFormat ?? '' })));
const rules = alertRulesText(readFileSync(RULES, 'utf8'));

/** What is wrong with the names an expression uses, against the metrics defined in src/ (empty: nothing). */
function nameProblems(expr: string, metrics: Map<string, SourceMetric>): string[] {
  const { metrics: used, labels } = promqlNames(expr);
  const problems: string[] = [];
  const available = new Set(SCRAPE_LABELS);
  if (used.length === 0) problems.push('uses no metric');
  for (const name of used) {
    if (name in PROMETHEUS_SERIES) {
      for (const l of PROMETHEUS_SERIES[name]!) available.add(l);
      continue;
    }
    const own = metrics.get(name);
    if (own) {
      if (own.type === 'Histogram' || own.type === 'Summary') problems.push(`${name} is a ${own.type}: use its _bucket, _sum or _count series`);
      for (const l of own.labels) available.add(l);
      continue;
    }
    const suffix = /^(.+)_(bucket|sum|count)$/.exec(name);
    const base = suffix ? metrics.get(suffix[1]!) : undefined;
    if (base && (base.type === 'Histogram' || (base.type === 'Summary' && suffix![2] !== 'bucket'))) {
      for (const l of base.labels) available.add(l);
      if (suffix![2] === 'bucket') available.add('le');
      continue;
    }
    problems.push(`${name} is not defined in src/ (name: '${name}')`);
  }
  for (const l of labels) if (!available.has(l)) problems.push(`label ${l} is not a label of ${used.join(', ')}`);
  return problems;
}

describe('ops/: Grafana dashboard and Prometheus alert rules', () => {
  let metrics: Map<string, SourceMetric>;
  beforeAll(() => {
    metrics = sourceMetrics();
  });

  it('reads every metric definition of src/ (type and labels), the default process/nodejs metrics included', () => {
    const own = [...metrics.values()].filter((m) => m.from !== 'prom-client default metrics');
    expect(own.length).toBe(new Set(own.map((m) => m.name)).size);
    expect(definitionCount()).toBeGreaterThanOrEqual(own.length);
    expect(metrics.get('hexfleet_pings_rejected_total')).toMatchObject({ type: 'Counter', labels: ['code'] });
    expect(metrics.get('hexfleet_batch_apply_seconds')).toMatchObject({ type: 'Histogram', labels: [] });
    expect(metrics.get('hexfleet_log_consumer_lag_records')).toMatchObject({ type: 'Gauge', labels: ['group', 'topic', 'partition'] });
    expect(metrics.get('hexfleet_process_cpu_seconds_total')).toMatchObject({ type: 'Counter' });
  });

  it('the name checker fails a renamed metric, a bare histogram and an unknown label', () => {
    expect(nameProblems('sum by (code) (rate(hexfleet_pings_rejected_total{code="x"}[5m]))', metrics)).toEqual([]);
    expect(nameProblems('rate(hexfleet_pings_refused_total[5m])', metrics)).toEqual([expect.stringContaining('hexfleet_pings_refused_total is not defined')]);
    expect(nameProblems('hexfleet_batch_apply_seconds', metrics)).toEqual([expect.stringContaining('is a Histogram')]);
    expect(nameProblems('histogram_quantile(0.9, sum by (le) (rate(hexfleet_batch_apply_seconds_bucket[5m])))', metrics)).toEqual([]);
    expect(nameProblems('sum by (reason) (rate(hexfleet_pings_rejected_total[5m]))', metrics)).toEqual([expect.stringContaining('label reason')]);
    expect(nameProblems('hexfleet_driver_connections_bucket', metrics)).toEqual([expect.stringContaining('not defined')]);
  });

  describe('alert rules', () => {
    it('promtool check rules accepts the file', () => {
      const r = promtool('check', 'rules', RULES);
      expect(r.output, r.output).toContain('SUCCESS');
      expect(r.status, r.output).toBe(0);
      expect(r.output).toContain(`${rules.length} rules found`);
    });

    it('promtool test rules passes every case', () => {
      const r = promtool('test', 'rules', ...RULE_TESTS);
      expect(r.status, r.output).toBe(0);
      expect(r.output.match(/SUCCESS/g)?.length, r.output).toBe(RULE_TESTS.length);
    });

    it('every rule is tested firing and not firing', () => {
      const coverage = alertTestCoverage(RULE_TESTS.map((f) => readFileSync(f, 'utf8')).join('\n'));
      expect(rules.length).toBeGreaterThanOrEqual(15);
      for (const r of rules) {
        const c = coverage.get(r.alert);
        expect(c?.firing ?? 0, `${r.alert}: no firing case`).toBeGreaterThan(0);
        expect(c?.silent ?? 0, `${r.alert}: no not-firing case`).toBeGreaterThan(0);
      }
      for (const name of coverage.keys()) expect(rules.map((r) => r.alert), `tests name ${name}`).toContain(name);
    });

    it('every rule has for:, a severity, and summary, description and runbook annotations', () => {
      for (const r of rules) {
        expect(r.for, r.alert).toMatch(/^\d+[smh]$/);
        expect(['critical', 'warning', 'info'], r.alert).toContain(r.severity);
        for (const a of ['summary', 'description', 'runbook']) expect(r.annotations[a]?.length ?? 0, `${r.alert} ${a}`).toBeGreaterThan(20);
      }
    });

    it('covers what on-call must know (issue 13)', () => {
      const uses = (pattern: RegExp): string[] => rules.filter((r) => pattern.test(r.expr)).map((r) => r.alert);
      expect(uses(/hexfleet_store_errors_total|store_unavailable/)).not.toEqual([]);
      expect(uses(/hexfleet_log_breaker_open|log_unavailable/)).not.toEqual([]);
      expect(uses(/hexfleet_redis_primary_changes_total/)).not.toEqual([]);
      expect(uses(/hexfleet_pings_rejected_total/).length).toBeGreaterThanOrEqual(2);
      for (const queue of ['hexfleet_outbox_events', 'hexfleet_log_consumer_lag_records', 'hexfleet_dispatch_pool_queue', 'hexfleet_ingest_pending_pings']) expect(uses(new RegExp(queue))).not.toEqual([]);
      expect(uses(/hexfleet_log_dlq_records/)).not.toEqual([]);
      expect(uses(/hexfleet_driver_connections/)).not.toEqual([]);
      expect(uses(/breaker/).length).toBeGreaterThanOrEqual(2);
      expect(uses(/hexfleet_auth_failure_bursts_total/)).not.toEqual([]);
      expect(uses(/hexfleet_read_index_local/)).not.toEqual([]);
      expect(uses(/hexfleet_backup/).length).toBeGreaterThanOrEqual(2);
    });

    it('every alert is listed in the operator docs (README.md or docs/) with what to do', () => {
      const docs = [join(root, 'README.md'), ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join(root, 'docs', f))]
        .map((f) => readFileSync(f, 'utf8')).join('\n');
      for (const r of rules) expect(docs, r.alert).toMatch(new RegExp(`\\| \`${r.alert}\` \\| ${r.severity} \\|`));
    });

    it('every metric and label a rule uses exists in src/', () => {
      const problems = rules.flatMap((r) => nameProblems(r.expr, metrics).map((p) => `${r.alert}: ${p}`));
      expect(problems).toEqual([]);
    });
  });

  describe('dashboard', () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'hexfleet-ops-'));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('is a Grafana dashboard with a Prometheus datasource variable and a gateway variable', () => {
      expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
      const vars = dashboard.templating.list;
      expect(vars.find((v) => v.name === 'datasource')).toMatchObject({ type: 'datasource', query: 'prometheus' });
      const instance = vars.find((v) => v.name === 'instance');
      expect(instance?.type).toBe('query');
      expect(nameProblems(/label_values\((.*),\s*instance\)/.exec(instance?.definition ?? '')?.[1] ?? '', metrics)).toEqual([]);
    });

    it('every panel has the ${datasource} datasource, a position and targets with an expr filtered by $instance', () => {
      expect(panels.length).toBeGreaterThanOrEqual(30);
      const ids = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]).map((p) => p.id);
      expect(new Set(ids).size).toBe(ids.length);
      for (const p of panels) {
        expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
        expect(p.gridPos, p.title).toBeDefined();
        expect(p.targets?.length ?? 0, p.title).toBeGreaterThan(0);
        for (const t of p.targets ?? []) {
          expect(t.datasource?.uid, p.title).toBe('${datasource}');
          expect(t.refId, p.title).toMatch(/^[A-Z]$/);
          expect(t.expr, p.title).toContain('$instance');
        }
      }
    });

    it('has the panels issue 13 asks for', () => {
      const all = dashboardExprs.map((e) => e.expr).join('\n');
      for (const m of [
        'hexfleet_pings_received_total', 'hexfleet_pings_rejected_total', 'hexfleet_batch_apply_seconds_bucket', 'hexfleet_store_errors_total',
        'hexfleet_matches_total', 'hexfleet_match_seconds_bucket', 'hexfleet_offers_total', 'hexfleet_open_assignments', 'hexfleet_dispatch_pool_queue',
        'hexfleet_eta_breaker_state', 'hexfleet_tracking_subscriptions', 'hexfleet_tracking_deliveries_total', 'hexfleet_log_append_seconds_bucket',
        'hexfleet_log_consumer_lag_records', 'hexfleet_redis_replica_ack_seconds_bucket', 'hexfleet_redis_primary_changes_total', 'hexfleet_cluster_area_moves_total',
        'hexfleet_backups_total', 'hexfleet_read_index_local', 'hexfleet_read_index_delay_seconds_bucket', 'hexfleet_read_index_resyncs_total',
        'hexfleet_position_bus_areas_followed', 'hexfleet_auth_failures_total', 'hexfleet_auth_cooloff_refusals_total', 'hexfleet_audit_dropped_total',
      ]) expect(all, m).toContain(m);
      expect(all).toMatch(/histogram_quantile\(0\.99, sum by \(le\) \(rate\(hexfleet_batch_apply_seconds_bucket/);
    });

    it('every metric and label a panel uses exists in src/, and legends name labels the expr keeps', () => {
      const problems = dashboardExprs.flatMap(({ where, expr, legend }) => {
        const found = nameProblems(expr, metrics).map((p) => `${where}: ${p}`);
        const { labels } = promqlNames(expr);
        for (const m of legend.matchAll(/\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}/g)) {
          if (!labels.includes(m[1]!)) found.push(`${where}: legend {{${m[1]}}} is not a label the expr groups by or matches`);
        }
        return found;
      });
      expect(problems).toEqual([]);
    });

    it('shows every metric src/ defines (a new metric needs a panel)', () => {
      const shown = new Set(dashboardExprs.flatMap((e) => promqlNames(e.expr).metrics.map((m) => m.replace(/_(bucket|sum|count)$/, ''))));
      const missing = [...metrics.values()].filter((m) => m.from !== 'prom-client default metrics' && !shown.has(m.name)).map((m) => `${m.name} (${m.from})`);
      expect(missing, 'add a panel for these to ops/grafana/hexfleet-dashboard.json').toEqual([]);
    });

    it('every expr is valid PromQL (promtool checks them as recording rules)', () => {
      const file = join(dir, 'dashboard-exprs.yml');
      const groups = [{ name: 'dashboard', rules: dashboardExprs.map((e, i) => ({ record: `hexfleet:dashboard_expr_${i}`, expr: withGrafanaVariables(e.expr) })) }];
      writeFileSync(file, JSON.stringify({ groups }, null, 1));
      const r = promtool('check', 'rules', file);
      expect(r.status, r.output).toBe(0);
      expect(r.output).toContain(`${dashboardExprs.length} rules found`);
    });
  });

  it('every HEXFLEET_* variable the ops files name exists in the config schema', () => {
    const known = new Set(Object.keys(configSchema).map((k) => envName(k as ConfigKey)));
    const text = readFileSync(RULES, 'utf8') + readFileSync(DASHBOARD, 'utf8');
    const named = [...new Set([...text.matchAll(/HEXFLEET_[A-Z0-9_]+/g)].map((m) => m[0]))];
    expect(named.length).toBeGreaterThan(5);
    expect(named.filter((n) => !known.has(n))).toEqual([]);
  });
});
