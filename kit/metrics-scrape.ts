import { httpGet } from './http-get.js';

/**
 * One scrape of a gateway's /metrics (Prometheus text format): every sample
 * keyed by its series as printed, `name{label="v",…}` (or `name` without
 * labels), and when it was taken (ms, for rates between two scrapes).
 */
export interface Scrape {
  at: number;
  series: Map<string, number>;
}

/** Parses the text format; comment lines (# HELP, # TYPE) are skipped. */
export function parseMetrics(text: string, at = performance.timeOrigin + performance.now()): Scrape {
  const series = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    series.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return { at, series };
}

/**
 * GET /metrics of the gateway whose ADMIN listener is on `adminPort` on
 * loopback (HEXFLEET_ADMIN_PORT: the public port answers 401 without an
 * admin token), parsed.
 */
export async function scrapeMetrics(adminPort: number): Promise<Scrape> {
  const res = await httpGet(adminPort, '/metrics');
  if (res.status !== 200) throw new Error(`GET /metrics on port ${adminPort} (the admin port?): ${res.status}`);
  return parseMetrics(res.text);
}

/** `name{a="1",b="2"}` → its name and its labels. */
function splitKey(key: string): { name: string; labels: Map<string, string> } {
  const brace = key.indexOf('{');
  const labels = new Map<string, string>();
  if (brace < 0) return { name: key, labels };
  for (const m of key.slice(brace).matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels.set(m[1]!, m[2]!);
  return { name: key.slice(0, brace), labels };
}

/**
 * The value of ONE series: metric `name` with exactly the label set
 * `labels` (no more, no fewer); 0 when that series has not been written yet
 * (prom-client prints a labelled counter only once it has a value).
 * For a total over label sets use {@link metricSum}.
 */
export function metricValue(s: Scrape, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels);
  for (const [key, v] of s.series) {
    const k = splitKey(key);
    if (k.name !== name || k.labels.size !== wanted.length) continue;
    if (wanted.every(([l, x]) => k.labels.get(l) === x)) return v;
  }
  return 0;
}

/**
 * The SUM over every series of metric `name` that carries at least the
 * labels in `labels` (all series of the name when it is empty), e.g. all
 * reasons of a drop counter, or the pings applied by every gateway thread.
 */
export function metricSum(s: Scrape, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels);
  let total = 0;
  for (const [key, v] of s.series) {
    if (key !== name && !key.startsWith(name + '{')) continue;
    if (wanted.length > 0) {
      const have = splitKey(key).labels;
      if (!wanted.every(([l, x]) => have.get(l) === x)) continue;
    }
    total += v;
  }
  return total;
}
