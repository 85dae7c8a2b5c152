import type { LogRecord } from '../eventlog/event-log.js';
import { HEADERS } from '../eventlog/topics.js';
import { parseJsonRecord } from '../eventlog/json-record.js';
import { checkOwnership, type Ownership } from './ownership.js';

/** Version 1: the JSON of an OwnershipRecord. */
export const OWNERSHIP_SCHEMA = 'ownership/1';

/**
 * One ownership record a region wrote (a first claim or a move), as it goes
 * to `<prefix>.ownership` (key driverId, so a driver's records stay in
 * order) and, mirrored by MirrorMaker 2, to the other regions, which apply
 * it through OwnershipStore.apply (a higher epoch wins, so order and
 * duplicates do not matter).
 */
export interface OwnershipRecord extends Ownership {
  driverId: string;
  /** When the region wrote it, ms since the epoch. */
  at: number;
}

export function ownershipLogRecord(r: OwnershipRecord): LogRecord {
  return { key: r.driverId, value: Buffer.from(JSON.stringify(r)), headers: { [HEADERS.schema]: OWNERSHIP_SCHEMA }, timestamp: r.at };
}

/** The record of an ownership log record. Throws (with the reason) for one that is not: a consumer dead-letters it. */
export function decodeOwnershipRecord(value: Buffer, headers: Readonly<Record<string, string>>): OwnershipRecord {
  const r = parseJsonRecord<OwnershipRecord>(value, headers, OWNERSHIP_SCHEMA, 'ownership');
  if (typeof r?.driverId !== 'string' || r.driverId === '' || typeof r.at !== 'number') throw new Error('not an ownership record: needs driverId, region, epoch and at');
  checkOwnership(r as OwnershipRecord);
  return { driverId: r.driverId, region: r.region!, epoch: r.epoch!, at: r.at };
}
