import type { Topics } from '../eventlog/topics.js';

/**
 * The topics of region `source` as MirrorMaker 2 mirrors them into another
 * region's Kafka: DefaultReplicationPolicy names a mirrored topic
 * `<source cluster alias>.<topic>`, and the cluster aliases are the region
 * names (kit/mirror-maker.ts, the `regions` compose profile).
 *
 *   region a's Kafka: hexfleet.positions ──MM2 a->b──▶ region b's Kafka: a.hexfleet.positions
 */
export function mirroredTopicsOf(source: string, topics: Topics): Topics {
  return { positions: `${source}.${topics.positions}`, orders: `${source}.${topics.orders}`, ownership: `${source}.${topics.ownership}` };
}

/** The consumer group of the replication applier of one region: one per region, shared by its gateways (partitions spread over them). */
export function replicationGroupOf(prefix: string, region: string): string {
  return `${prefix}.replication.${region}`;
}
