import { Packr } from 'msgpackr';
import { isVehicleType } from '../domain/vehicle.js';
import { HEADERS } from '../eventlog/topics.js';
import type { LogRecord } from '../eventlog/event-log.js';
import type { DriverBatch, Ping } from '../geo/driver-store.js';

/** Version 1: `{d: driverId, v?: vehicle, p: [[seq, ts, lat, lng, acc, spd, hdg, status], …]}`, absent values null. */
export const POSITIONS_SCHEMA = 'positions/1';

const packr = new Packr({ useRecords: false, mapsAsObjects: true });
const STATUS = ['available', 'busy', 'offline'] as const;

type Row = [number, number, number, number, number | null, number | null, number | null, number | null];

/**
 * One log record for the pings of one driver batch (key driverId): compact
 * rows rather than objects, since this is the record written for every acked
 * ping. Decoding returns exactly the batch that was encoded.
 */
export function positionRecord(batch: DriverBatch): LogRecord {
  const rows: Row[] = batch.pings.map((p) => [
    p.seq, p.ts, p.lat, p.lng, p.acc ?? null, p.spd ?? null, p.hdg ?? null, p.status === undefined ? null : STATUS.indexOf(p.status),
  ]);
  const value = packr.pack(batch.vehicle ? { d: batch.driverId, v: batch.vehicle, p: rows } : { d: batch.driverId, p: rows });
  return { key: batch.driverId, value, headers: { [HEADERS.schema]: POSITIONS_SCHEMA } };
}

/** The batch of a positions record. Throws (with the reason) for a record that is not one: a consumer dead-letters it. */
export function decodePositionRecord(value: Buffer, headers: Record<string, string>): DriverBatch {
  const schema = headers[HEADERS.schema];
  if (schema !== POSITIONS_SCHEMA) throw new Error(`unknown positions schema "${schema ?? '(none)'}"`);
  const raw = packr.unpack(value) as { d?: unknown; v?: unknown; p?: unknown };
  if (typeof raw?.d !== 'string' || !Array.isArray(raw.p)) throw new Error('not a positions record: needs d (driver id) and p (rows)');
  const pings = raw.p.map((r: unknown): Ping => {
    if (!Array.isArray(r) || r.length !== 8 || ![0, 1, 2, 3].every((i) => typeof r[i] === 'number')) throw new Error('a positions row needs seq, ts, lat and lng');
    const [seq, ts, lat, lng, acc, spd, hdg, status] = r as Row;
    const p: Ping = { seq, ts, lat, lng };
    if (acc !== null) p.acc = acc;
    if (spd !== null) p.spd = spd;
    if (hdg !== null) p.hdg = hdg;
    if (status !== null) p.status = STATUS[status] ?? 'offline';
    return p;
  });
  return isVehicleType(raw.v) ? { driverId: raw.d, vehicle: raw.v, pings } : { driverId: raw.d, pings };
}
