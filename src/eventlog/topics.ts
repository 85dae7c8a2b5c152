/** The topics of one deployment, from `HEXFLEET_KAFKA_TOPIC_PREFIX`. */
export interface Topics {
  /** Key driverId: one record per driver batch the store applied (see src/ingest/position-records.ts). */
  positions: string;
  /** Key orderId: one record per order transition (see src/orders/order-events.ts). */
  orders: string;
  /** Key driverId: one record per ownership record a region wrote (a claim or a move; see src/ownership/ownership-records.ts). */
  ownership: string;
}

export function topicsOf(prefix: string): Topics {
  return { positions: `${prefix}.positions`, orders: `${prefix}.orders`, ownership: `${prefix}.ownership` };
}

/** The dead-letter topic of a consumed topic. */
export function dlqOf(topic: string): string {
  return `${topic}.dlq`;
}

/** Header names every hexfleet record may carry. */
export const HEADERS = {
  /** `<record kind>/<version>`, e.g. `positions/1`: a reader refuses a kind or version it does not know. */
  schema: 'hexfleet-schema',
  /** Dead letters: why, how often it was tried, and where it came from. */
  error: 'hexfleet-error',
  attempts: 'hexfleet-attempts',
  originTopic: 'hexfleet-origin-topic',
  originPartition: 'hexfleet-origin-partition',
  originOffset: 'hexfleet-origin-offset',
  /**
   * The region whose gateway wrote the record (HEXFLEET_REGION; see
   * origin-region.ts). A record without it was written before regions
   * existed: it belongs to the region of the log it was written to.
   */
  originRegion: 'hexfleet-origin-region',
} as const;
