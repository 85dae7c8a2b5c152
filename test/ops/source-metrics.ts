import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { collectDefaultMetrics, Registry } from 'prom-client';

export type MetricType = 'Counter' | 'Gauge' | 'Histogram' | 'Summary';

/** A metric the gateway exports: its type and the labels it carries (besides the scrape's job and instance). */
export interface SourceMetric {
  readonly name: string;
  readonly type: MetricType;
  readonly labels: readonly string[];
  /** Where it is defined (a src/ file, or prom-client's default metrics). */
  readonly from: string;
}

const SRC = new URL('../../src/', import.meta.url);
const CONSTRUCTOR = /new (Counter|Gauge|Histogram|Summary)\b/g;
const NAME = /name:\s*'(hexfleet_[a-z0-9_]+)'/g;

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []);
}

/**
 * Every `name: 'hexfleet_…'` definition in src/ (prom-client Counter, Gauge,
 * Histogram), read from the source text: the type is the nearest
 * `new Counter|Gauge|Histogram` before the name, the labels the `labelNames`
 * between the name and the next metric constructor. Plus prom-client's
 * default process/nodejs metrics when src/runtime/metrics.ts registers them
 * with the hexfleet_ prefix. Throws when a name cannot be attributed to a
 * constructor, so a definition written another way is noticed, not skipped.
 */
export function sourceMetrics(): Map<string, SourceMetric> {
  const root = SRC.pathname;
  const metrics = new Map<string, SourceMetric>();
  for (const file of tsFiles(root)) {
    const text = readFileSync(file, 'utf8');
    const constructors = [...text.matchAll(CONSTRUCTOR)].map((m) => ({ at: m.index, type: m[1] as MetricType }));
    for (const m of text.matchAll(NAME)) {
      const name = m[1]!;
      const before = constructors.filter((c) => c.at < m.index);
      const own = before[before.length - 1];
      if (!own) throw new Error(`${file}: ${name} is not inside a new Counter/Gauge/Histogram({...})`);
      const next = constructors.find((c) => c.at > m.index)?.at ?? text.length;
      const labelList = /labelNames:\s*\[([^\]]*)\]/.exec(text.slice(m.index, next));
      const labels = labelList ? [...labelList[1]!.matchAll(/'([a-zA-Z_][a-zA-Z0-9_]*)'/g)].map((l) => l[1]!) : [];
      const from = file.slice(root.length - 'src/'.length);
      const seen = metrics.get(name);
      if (seen && seen.type !== own.type) throw new Error(`${name} is defined as ${seen.type} in ${seen.from} and as ${own.type} in ${from}`);
      metrics.set(name, { name, type: own.type, labels, from });
    }
  }
  const runtime = readFileSync(new URL('runtime/metrics.ts', SRC), 'utf8');
  if (/collectDefaultMetrics\(\{[^}]*prefix:\s*'hexfleet_'/.test(runtime)) {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry, prefix: 'hexfleet_' });
    for (const m of registry.getMetricsAsArray()) {
      const { name, labelNames } = m as unknown as { name: string; labelNames: string[] };
      metrics.set(name, { name, type: m.constructor.name as MetricType, labels: labelNames, from: 'prom-client default metrics' });
    }
  }
  return metrics;
}

/** How many `name: 'hexfleet_…'` literals src/ holds (to compare with what sourceMetrics attributed). */
export function definitionCount(): number {
  return tsFiles(SRC.pathname).reduce((n, f) => n + [...readFileSync(f, 'utf8').matchAll(NAME)].length, 0);
}
