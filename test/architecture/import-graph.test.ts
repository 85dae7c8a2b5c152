import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The architecture as the import graph must show it: each area of src/ may
 * import from itself and from areas LOWER in this list, never from one above
 * it. An order that every import respects is also proof that the graph of
 * areas has no cycle.
 */
const LAYERS = [
  'domain', // vehicle types, id rules: no dependencies at all
  'protocol', // wire frames, codec, error table
  'runtime', // logger, metrics registry, token bucket, uWS loader, periodic tasks
  'config',
  'auth',
  'eventlog', // the EventLog contract and topic names (codecs live with their areas)
  'ownership', // a driver's home region and epoch: the record, its OwnershipStore contract, its log record
  'audit', // the audit trail (file, stdout, Kafka sinks) and the failed-authentication monitor
  'geo', // the DriverStore contract, H3 rings, nearby search
  'eta',
  'solver',
  'matching', // candidate search and ranking, the dispatch pool
  'orders', // orders, the OrderStore contract, the saga, the match service
  'tracking', // the tracking hub, position and assignment bus contracts
  'readindex', // a gateway-local follower of the driver index (nearby reads in microseconds)
  'reconcile',
  'ingest',
  'replay', // rebuilding stores from the log, traffic replay
  'notify', // order events to the order service (webhook, DLQ)
  'replication', // applying the other regions' mirrored event logs to this region's stores
  'backend', // the Backend contract and its engines
  'backup', // encrypted snapshots of a Redis engine, restore and point-in-time recovery (with replay)
  'regions', // the gateway's view of the regions (GET /v1/regions): its own state, probes of the others
  'http', // routes
  'ops-map', // the live operations map (/ops): its page and files, the orders feed it polls
  'gateway', // endpoints and the composition of one gateway
  'sdk', // client SDK: imports protocol only (it runs in browsers)
  'simulator',
  '(root)', // cli.ts
] as const;

/** Areas that import only what is named here (besides themselves). */
const ONLY: Partial<Record<(typeof LAYERS)[number], readonly string[]>> = {
  domain: [],
  protocol: ['domain'],
  sdk: ['protocol'],
};

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return tsFiles(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

/** Relative imports of a file (static, type-only and dynamic), resolved to paths relative to the repository. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)].map((m) => m[1]!);
  return specs.map((s) => relative(root, normalize(join(dirname(file), s))));
}

/** `src/orders/order-saga.ts` → `orders`; `src/cli.ts` → `(root)`. */
function areaOf(path: string): string {
  const parts = path.split('/');
  return parts.length > 2 ? parts[1]! : '(root)';
}

interface Edge {
  file: string;
  from: string;
  to: string;
  target: string;
}

function edges(dir: string): Edge[] {
  return tsFiles(join(root, dir)).flatMap((abs) => {
    const file = relative(root, abs);
    return importsOf(abs).map((target) => ({ file, target, from: areaOf(file), to: areaOf(target) }));
  });
}

describe('architecture: the import graph of src/', () => {
  const srcEdges = edges('src').filter((e) => e.target.startsWith('src/'));

  it('every area of src/ is in the layer list', () => {
    const areas = new Set(tsFiles(join(root, 'src')).map((f) => areaOf(relative(root, f))));
    expect([...areas].filter((a) => !(LAYERS as readonly string[]).includes(a))).toEqual([]);
  });

  it('imports only run down the layers (so the areas form no cycle)', () => {
    const rank = (a: string): number => (LAYERS as readonly string[]).indexOf(a);
    const upward = srcEdges.filter((e) => e.from !== e.to && rank(e.to) > rank(e.from)).map((e) => `${e.file} → ${e.target}`);
    expect(upward).toEqual([]);
  });

  it('domain, protocol and the SDK import only what they may', () => {
    const bad = srcEdges
      .filter((e) => e.from !== e.to && ONLY[e.from as keyof typeof ONLY] !== undefined && !ONLY[e.from as keyof typeof ONLY]!.includes(e.to))
      .map((e) => `${e.file} → ${e.target}`);
    expect(bad).toEqual([]);
  });

  it("nothing outside src/backend/ names an engine's classes: they are reached through createBackend", () => {
    const engine = /^src\/backend\/(memory|redis)\//;
    const bad = [...srcEdges, ...edges('bench')]
      .filter((e) => engine.test(e.target) && !e.file.startsWith('src/backend/'))
      .map((e) => `${e.file} → ${e.target}`);
    expect(bad).toEqual([]);
  });

  it('one engine does not import another', () => {
    const engineOf = (p: string): string | undefined => /^src\/backend\/([a-z]+)\//.exec(p)?.[1];
    const bad = srcEdges
      .filter((e) => engineOf(e.file) && engineOf(e.target) && engineOf(e.file) !== engineOf(e.target))
      .map((e) => `${e.file} → ${e.target}`);
    expect(bad).toEqual([]);
  });

  it('production code never imports tests or benchmarks', () => {
    const bad = edges('src').filter((e) => !e.target.startsWith('src/')).map((e) => `${e.file} → ${e.target}`);
    expect(bad).toEqual([]);
  });
});
