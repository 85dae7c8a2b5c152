import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One file the page loads, read once at start. */
export interface OpsAsset {
  body: string;
  contentType: string;
  cacheControl: string;
}

/** What the page needs to know of this gateway, injected into its HTML (no extra round trip, no token needed). */
export interface OpsPageConfig {
  /** Tracking thresholds: a driver silent longer is degraded, then lost (HEXFLEET_DEGRADED_MS, HEXFLEET_OFFLINE_MS). */
  degradedMs: number;
  offlineMs: number;
  /** A base map tile URL with {z}, {x}, {y}; '' draws no base map (HEXFLEET_OPS_TILE_URL). */
  tileUrl: string;
  /** This gateway's region (HEXFLEET_REGION; '' for one region). */
  region: string;
}

const ASSETS_DIR = fileURLToPath(new URL('./assets/', import.meta.url));
/** The page's own files change with a deploy: revalidate; h3-js changes with package-lock only: an hour. */
const NO_CACHE = 'no-cache';
const HOUR = 'public, max-age=3600';
const PLACEHOLDER = '/*OPS_CONFIG*/{}';

/** The browser ES build of the h3-js the gateway itself runs (same version as the server's cells, no CDN). */
function h3BrowserBundle(): string {
  const main = createRequire(import.meta.url).resolve('h3-js');
  return readFileSync(join(dirname(main), 'browser', 'h3-js.es.js'), 'utf8');
}

/**
 * The files of `/ops` by the name the page asks them under: the HTML (with
 * `config` in it), its script and style, and h3-js. Read once: a request
 * never touches the disk. Throws when a file is missing (a build without
 * src/ops-map/assets copied next to it: scripts/copy-lua.mjs copies them).
 */
export function loadOpsAssets(config: OpsPageConfig): Map<string, OpsAsset> {
  const read = (name: string): string => readFileSync(join(ASSETS_DIR, name), 'utf8');
  // JSON in a <script> element: `<` escaped, so no value can close the element.
  const json = JSON.stringify(config).replace(/</g, '\\u003c');
  const html = read('ops-map.html');
  if (!html.includes(PLACEHOLDER)) throw new Error(`ops-map.html lacks its config placeholder ${PLACEHOLDER}`);
  return new Map<string, OpsAsset>([
    ['', { body: html.replace(PLACEHOLDER, json), contentType: 'text/html; charset=utf-8', cacheControl: NO_CACHE }],
    ['ops-map.js', { body: read('ops-map.js'), contentType: 'text/javascript; charset=utf-8', cacheControl: NO_CACHE }],
    ['ops-map.css', { body: read('ops-map.css'), contentType: 'text/css; charset=utf-8', cacheControl: NO_CACHE }],
    ['h3-js.es.js', { body: h3BrowserBundle(), contentType: 'text/javascript; charset=utf-8', cacheControl: HOUR }],
  ]);
}
