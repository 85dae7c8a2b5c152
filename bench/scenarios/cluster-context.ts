import { cellToParent } from 'h3-js';
import type { RedisCluster } from '../../kit/redis-cluster.js';
import type { RedisServer } from '../../kit/redis-server.js';
import type { BenchEngine } from '../lib/bench-backend.js';
import { boxCells } from '../lib/box-cells.js';
import type { Progress } from '../lib/clock.js';
import type { Area } from '../lib/driver-sim.js';
import type { Histogram } from '../lib/histogram.js';
import type { RunOptions } from '../lib/options.js';

/** Every parameter of a bench:cluster run; the report prints them next to the figures. */
export interface ClusterOptions extends RunOptions {
  /** Measured windows per configuration; round 2 runs the configurations in reverse order, so a drift of the machine weighs on all. */
  rounds: number;
  /** bench:ingest's ceiling shape, from `writers` processes with drivers of their own. */
  ingest: { writers: number; driversPerWriter: number; batchPings: number; batchesPerCall: number; inflight: number };
  /** bench:match's fleet and query, from `readers` processes. */
  nearby: { readers: number; drivers: number; concurrencyPerReader: number; radiusM: number; limit: number };
}

/** One Redis process of the run, named for CPU accounting. */
export interface RedisNode {
  /** "one Redis", "shard 1 primary", "shard 1 replica" … */
  name: string;
  role: 'standalone' | 'primary' | 'replica';
  /** 1-based shard (the order of the slot ranges); 0 for the standalone server. */
  shard: number;
  server: RedisServer;
}

/** A configuration under test: an engine and its settings. */
export interface Target {
  key: 'one' | 'c3' | 'c6' | 'c3ack1';
  /** Column heading, e.g. "Cluster, area res 6". */
  label: string;
  /** One line for the parameters row. */
  description: string;
  cluster: boolean;
  redisUrl: string;
  engine: BenchEngine;
  /** Measured by ingest only (durability does not change a read). */
  ingestOnly: boolean;
}

/** What a set of windows cost: wall time, CPU by process, Redis commands by node. */
export interface Usage {
  seconds: number;
  /** CPU-seconds by process name (Redis nodes, workers, "bench"). */
  cpuS: Map<string, number>;
  /** CPU-seconds processes outside the benchmark used. */
  othersS: number;
  /** Busy core-seconds of the whole machine. */
  busyS: number;
  /** Lua script calls (EVALSHA, EVAL) served by each primary and the standalone server, from INFO commandstats. */
  scripts: Map<string, number>;
  /** WAIT calls served by each of them. */
  waits: Map<string, number>;
}

export interface IngestMeasure {
  usage: Usage;
  pings: number;
  calls: number;
  duplicates: number;
  failedBatches: number;
  moves: number;
  errors: Record<string, number>;
  latency: Histogram;
  /** Per-window pings/s, in run order. */
  perWindow: number[];
  /** Per window: other processes' CPU and ours per 1,000 operations (windowNote). */
  windowNotes: string[];
}

export interface NearbyMeasure {
  usage: Usage;
  queries: number;
  returned: number;
  errors: Record<string, number>;
  latency: Histogram;
  perWindow: number[];
  windowNotes: string[];
  /** Redis used_memory added by the parked fleet, summed over the primaries. */
  fleetBytes: number;
  loadS: number;
}

/** What every bench:cluster scenario gets from its suite (bench/suites/cluster.ts). */
export interface ClusterContext {
  options: ClusterOptions;
  /** The standalone server (the baseline; quiet-machine and the machine line read it). */
  redis: RedisServer;
  cluster: RedisCluster;
  /** Every Redis process of the run: the standalone server, then each shard's primary and replica. */
  nodes: RedisNode[];
  /** Ingest measures every target; nearby skips the ones with `ingestOnly`. */
  targets: Target[];
  progress: Progress;
  tmpDir: string;
  /** Cores of the machine (every process of the run shares them). */
  cpus: number;
  /** Filled by the scenarios, read by the model (cluster-model.ts). */
  measured: { ingest: Map<Target['key'], IngestMeasure>; nearby: Map<Target['key'], NearbyMeasure> };
}

/** One slot range of the cluster and the ports serving it. */
interface SlotRange {
  from: number;
  to: number;
  primaryPort: number;
}

/** CLUSTER SLOTS, in slot order. */
async function slotTable(cluster: RedisCluster): Promise<SlotRange[]> {
  const slots = await cluster.nodes[0]!.client.cluster('SLOTS');
  return slots
    .map(([from, to, primary]) => ({ from, to, primaryPort: Number(primary?.[1]) }))
    .sort((a, b) => a.from - b.from);
}

/**
 * Names every node by its shard (the slot-range order of its primary) and
 * role, from each node's INFO replication: CLUSTER SLOTS leaves out a
 * replica until its replication offset is above 0, i.e. on a fresh cluster
 * until the first write.
 */
export async function nameNodes(standalone: RedisServer, cluster: RedisCluster): Promise<RedisNode[]> {
  const primaries = [...new Set((await slotTable(cluster)).map((r) => r.primaryPort))];
  const out: RedisNode[] = [{ name: 'one Redis', role: 'standalone', shard: 0, server: standalone }];
  const replicas: RedisNode[] = [];
  for (const server of cluster.nodes) {
    const repl = await server.info('replication');
    if (repl.role === 'master') {
      const shard = primaries.indexOf(server.port) + 1;
      out.push({ name: `shard ${shard} primary`, role: 'primary', shard, server });
    } else {
      const shard = primaries.indexOf(Number(repl.master_port)) + 1;
      if (shard === 0) throw new Error(`replica ${server.port} follows ${repl.master_port}, which serves no slots`);
      replicas.push({ name: `shard ${shard} replica`, role: 'replica', shard, server });
    }
  }
  const byShard = (a: RedisNode, b: RedisNode): number => a.shard - b.shard;
  return [out[0]!, ...out.slice(1).sort(byShard), ...replicas.sort(byShard)];
}

/** The slot ranges of each shard, "0-5460", for the parameters row. */
export async function slotRanges(cluster: RedisCluster): Promise<string[]> {
  return (await slotTable(cluster)).map(({ from, to }) => `${from}-${to}`);
}

/**
 * How an area resolution spreads `box` over the shards: its areas, and the
 * share of its H3 cells (res 9) on each shard, asked of the cluster
 * (CLUSTER KEYSLOT of the area's hash tag, `{a<area>}` as in
 * src/backend/redis/cluster/cluster-layout.ts).
 */
export async function boxSpread(cluster: RedisCluster, box: Area, areaResolution: number): Promise<{ areas: number; shareByShard: number[] }> {
  const cells = boxCells(box, 9);
  const ranges = await slotTable(cluster);
  const shardOfPort = new Map<number, number>();
  for (const { primaryPort } of ranges) if (!shardOfPort.has(primaryPort)) shardOfPort.set(primaryPort, shardOfPort.size);
  const counts = new Array<number>(shardOfPort.size).fill(0);
  const shardOfArea = new Map<string, number>();
  for (const cell of cells) {
    const area = cellToParent(cell, areaResolution);
    let shard = shardOfArea.get(area);
    if (shard === undefined) {
      const slot = Number(await cluster.nodes[0]!.client.cluster('KEYSLOT', `{a${area}}`));
      shard = shardOfPort.get(ranges.find((r) => slot >= r.from && slot <= r.to)!.primaryPort)!;
      shardOfArea.set(area, shard);
    }
    counts[shard]! += 1;
  }
  return { areas: shardOfArea.size, shareByShard: counts.map((n) => n / cells.length) };
}
