import { describe, expect, it } from 'vitest';
import { HEADERS } from '../../src/eventlog/topics.js';
import { decodeOrderEvent } from '../../src/orders/order-events.js';
import { decodeOwnershipRecord, OWNERSHIP_SCHEMA, ownershipLogRecord } from '../../src/ownership/ownership-records.js';

/** The `<prefix>.ownership` record: what a region appends, and what an applier refuses (dead-letters) with the reason. */
describe('ownership log records', () => {
  it('round-trips: key driverId, schema header, the record as written', () => {
    const r = ownershipLogRecord({ driverId: 'd-1', region: 'eu-west', epoch: 3, at: 1_700_000_000_000 });
    expect(r.key).toBe('d-1');
    expect(r.timestamp).toBe(1_700_000_000_000);
    expect(decodeOwnershipRecord(r.value, r.headers!)).toEqual({ driverId: 'd-1', region: 'eu-west', epoch: 3, at: 1_700_000_000_000 });
  });

  const schema = { [HEADERS.schema]: OWNERSHIP_SCHEMA };
  const json = (o: unknown) => Buffer.from(JSON.stringify(o));
  it.each<{ what: string; value: Buffer; headers: Record<string, string>; message: RegExp }>([
    { what: 'another schema', value: json({}), headers: { [HEADERS.schema]: 'orders/1' }, message: /^unknown ownership schema "orders\/1"$/ },
    { what: 'no schema', value: json({}), headers: {}, message: /^unknown ownership schema "\(none\)"$/ },
    { what: 'not JSON', value: Buffer.from('{'), headers: schema, message: /^an ownership record is not JSON$/ },
    { what: 'no driverId', value: json({ region: 'a', epoch: 1, at: 1 }), headers: schema, message: /needs driverId, region, epoch and at/ },
    { what: 'epoch 0', value: json({ driverId: 'd', region: 'a', epoch: 0, at: 1 }), headers: schema, message: /epoch must be a positive integer/ },
    { what: 'a region with a space', value: json({ driverId: 'd', region: 'a b', epoch: 1, at: 1 }), headers: schema, message: /region must be a non-empty name/ },
  ])('refuses $what, saying why', ({ value, headers, message }) => {
    expect(() => decodeOwnershipRecord(value, headers)).toThrow(message);
  });

  it('the orders decoder keeps its messages (one JSON-record parser serves both)', () => {
    expect(() => decodeOrderEvent(Buffer.from('{'), { [HEADERS.schema]: 'orders/1' })).toThrow(/^an orders record is not JSON$/);
    expect(() => decodeOrderEvent(json({}), { [HEADERS.schema]: OWNERSHIP_SCHEMA })).toThrow(/^unknown orders schema "ownership\/1"$/);
  });
});
