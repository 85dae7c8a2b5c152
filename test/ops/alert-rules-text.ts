/** One alerting rule as written in ops/prometheus/hexfleet-alerts.yml. */
export interface AlertRuleText {
  readonly alert: string;
  readonly expr: string;
  readonly for: string | undefined;
  readonly severity: string | undefined;
  readonly annotations: Record<string, string>;
}

const indentOf = (line: string): number => line.length - line.trimStart().length;
const unquote = (v: string): string => {
  const t = v.trim();
  if (t.startsWith('"')) return JSON.parse(t) as string;
  if (t.startsWith("'")) return t.slice(1, -1).replace(/''/g, "'");
  return t;
};

/**
 * Reads the alerting rules of a rules file written the way ours is (block
 * style, `expr: |` or a one-line expr, one `key: value` per line). promtool
 * validates the file itself; this only lists what the ops test checks.
 */
export function alertRulesText(yaml: string): AlertRuleText[] {
  const lines = yaml.split('\n');
  const rules: { alert: string; expr: string; for: string | undefined; severity: string | undefined; annotations: Record<string, string> }[] = [];
  let section = '';
  let sectionIndent = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (/^\s*(#|$)/.test(line)) continue;
    const start = /^\s*- alert:\s*(\S+)/.exec(line);
    if (start) {
      rules.push({ alert: start[1]!, expr: '', for: undefined, severity: undefined, annotations: {} });
      section = '';
      continue;
    }
    const rule = rules[rules.length - 1];
    if (!rule) continue;
    const kv = /^(\s*)([a-z_]+):\s*(.*)$/.exec(line);
    if (!kv) continue;
    const [, pad, key, value] = kv as unknown as [string, string, string, string];
    if (section && pad.length > sectionIndent) {
      if (section === 'labels' && key === 'severity') rule.severity = unquote(value);
      if (section === 'annotations') rule.annotations[key] = unquote(value);
      continue;
    }
    section = '';
    if (key === 'expr') {
      if (value.trim() === '|') {
        const body: string[] = [];
        while (i + 1 < lines.length && (lines[i + 1]!.trim() === '' || indentOf(lines[i + 1]!) > pad.length)) body.push(lines[++i]!.trim());
        rule.expr = body.join('\n').trim();
      } else {
        rule.expr = unquote(value);
      }
    } else if (key === 'for') {
      rule.for = value.trim();
    } else if (key === 'labels' || key === 'annotations') {
      section = key;
      sectionIndent = pad.length;
    }
  }
  return rules;
}

/** For each alertname of a `promtool test rules` file: how many evaluations expect it firing and how many expect nothing. */
export function alertTestCoverage(yaml: string): Map<string, { firing: number; silent: number }> {
  const lines = yaml.split('\n');
  const coverage = new Map<string, { firing: number; silent: number }>();
  for (let i = 0; i < lines.length; i++) {
    const name = /^\s*alertname:\s*(\S+)/.exec(lines[i]!);
    if (!name) continue;
    const next = /^\s*exp_alerts:\s*(.*)$/.exec(lines[i + 1] ?? '');
    if (!next) throw new Error(`line ${i + 2}: exp_alerts expected right after alertname ${name[1]}`);
    const c = coverage.get(name[1]!) ?? { firing: 0, silent: 0 };
    if (next[1]!.trim() === '[]') c.silent++;
    else if (/^\s*- exp_labels:/.test(lines[i + 2] ?? '')) c.firing++;
    else throw new Error(`line ${i + 2}: exp_alerts is neither [] nor a list of exp_labels`);
    coverage.set(name[1]!, c);
  }
  return coverage;
}
