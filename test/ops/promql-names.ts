/** The metric names and label names a PromQL expression uses (enough PromQL for our dashboards and rules). */
export interface PromqlNames {
  readonly metrics: string[];
  readonly labels: string[];
}

const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const GROUPING = /\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g;

/** Grafana's variables replaced by values Prometheus accepts, so the expression can be checked as PromQL. */
export function withGrafanaVariables(expr: string): string {
  return expr
    .replace(/\$__(rate_interval|interval|range)\b/g, '5m')
    .replace(/\$\{?instance\}?/g, '.*');
}

/**
 * Reads the names out of an expression: string literals, range and subquery
 * brackets, offsets and label matchers are taken out (the matchers' and the
 * grouping clauses' label names are kept), then every identifier not called
 * as a function and not a keyword is a metric name.
 */
export function promqlNames(expr: string): PromqlNames {
  const labels = new Set<string>();
  let s = withGrafanaVariables(expr);
  s = s.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""');
  s = s.replace(/\{([^}]*)\}/g, (_, inner: string) => {
    for (const m of inner.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)/g)) labels.add(m[1]!);
    return ' ';
  });
  s = s.replace(GROUPING, (_, _kw: string, list: string) => {
    for (const l of list.split(',').map((x) => x.trim()).filter(Boolean)) labels.add(l);
    return ' ';
  });
  s = s.replace(/\[[^\]]*\]/g, ' ').replace(/\boffset\s+-?\d+[smhdwy]\b/g, ' ');
  const metrics = new Set<string>();
  for (const m of s.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const id = m[0];
    if (KEYWORDS.has(id)) continue;
    if (/^\s*\(/.test(s.slice(m.index + id.length))) continue;
    if (m.index > 0 && /[0-9.]/.test(s[m.index - 1]!)) continue;
    metrics.add(id);
  }
  return { metrics: [...metrics], labels: [...labels] };
}
