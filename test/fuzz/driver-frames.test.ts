import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stopAllGateways, TestGateway, uniqueDriverId } from '../support/gateway-harness.js';
import type { Encoding, RawDriverClient } from '../support/raw-driver-client.js';
import { checkStoredDriver, driverFrameArb, fcParams, frameBytes, progress, rawFrameArb, runsFor, watchReplies } from './fuzz-support.js';

/**
 * Property-based fuzzing of /v1/driver frames, JSON and msgpack, against a
 * real gateway: whatever a driver sends, the gateway stays up, answers only
 * with frames of the protocol and codes of the table (never `internal`),
 * closes a connection only with a close code of the table, and stores only
 * values valid pings carried (read back through GET /v1/drivers/:id).
 *
 * Each case is followed by a marker frame (an unknown type, answered at
 * once), so a case's immediate replies are in before the next one.
 */

afterAll(stopAllGateways);

/** Limits high enough that the fuzz connection is rarely closed (it reconnects when it is). */
const ENV = {
  HEXFLEET_FRAME_RATE_PER_SEC: '100000',
  HEXFLEET_FRAME_BURST: '1000000',
  HEXFLEET_BAD_FRAME_LIMIT: '10000',
  HEXFLEET_RATE_PINGS_PER_SEC: '1000000',
  HEXFLEET_RATE_BURST: '10000000',
};
const REPLY_TYPES = ['ack', 'error', 'offer_result', 'offer'];
/** How a fuzz connection may end: the bad-frame budget (4400). */
const ALLOWED_CLOSES = [4400];

describe('fuzz: /v1/driver frames', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await TestGateway.start(ENV);
  });

  it.each(['json', 'msgpack'] as const)('holds every invariant for hostile %s frames', async (encoding: Encoding) => {
    // A new driver for each connection: budgets are per driver, so one closed by 4400 stays closed for the minute.
    let driverId = uniqueDriverId('fuzz');
    const violations: string[] = [];
    /** Every position sent with a numeric seq, by driver and seq: what a stored record may hold. */
    const sentBy = new Map<string, Map<number, [number, number][]>>([[driverId, new Map()]]);
    let reconnects = 0;
    const watch = (c: RawDriverClient): RawDriverClient => watchReplies(c, REPLY_TYPES, violations);
    let client = watch(await gw.connectDriver(driverId, encoding));
    let marker = 0;
    /** The last case was larger than the endpoint takes: uWS drops the connection (1006), as documented. */
    let oversize = false;
    const runs = runsFor(150, 0.25);
    const tick = progress(`driver/${encoding}`, runs);
    const now = Date.now();

    await fc.assert(
      fc.asyncProperty(fc.oneof({ weight: 9, arbitrary: driverFrameArb(now).map((frame) => ({ frame })) }, { weight: 1, arbitrary: rawFrameArb.map((raw) => ({ raw })) }), async (c) => {
        if (client.closeEvent) {
          if (!ALLOWED_CLOSES.includes(client.closeEvent.code) && !(oversize && client.closeEvent.code === 1006)) violations.push(`closed with ${client.closeEvent.code} ${client.closeEvent.reason}`);
          driverId = uniqueDriverId('fuzz');
          sentBy.set(driverId, new Map());
          client = watch(await gw.connectDriver(driverId, encoding));
          reconnects++;
        }
        if ('raw' in c) client.sendRaw(c.raw.data, c.raw.binary);
        else {
          remember(sentBy.get(driverId)!, c.frame, encoding);
          oversize = frameBytes(c.frame, encoding) > gw.config.maxFrameBytes;
          client.send(c.frame);
        }
        const m = `__fuzz_marker_${++marker}`;
        const from = client.replies.length;
        client.send({ type: m });
        await client.waitForReply((r) => r.code === 'unknown_type' && (r.message ?? '').includes(`"${m}"`), `the marker ${m}`, from).catch((err: Error) => {
          // Closed by the budget between the case and its marker: the next case reconnects.
          if (!client.closeEvent) throw err;
        });
        tick();
        if (violations.length > 0) throw new Error(violations.join('\n'));
      }),
      fcParams(runs),
    );

    // The gateway is still up and still stores: a valid ping from another driver is acked.
    const probe = await gw.connectDriver(uniqueDriverId('probe'), encoding);
    probe.sendPings([{ seq: 1, lat: 1, lng: 1, ts: Date.now() }]);
    await probe.waitForAck(1);
    // Nothing invalid stored: what the gateway holds is a storable value some ping carried with that seq.
    for (const [id, sent] of sentBy) {
      const res = await gw.driver(id);
      if (res.status === 200) {
        const d = res.json as Record<string, unknown> & { seq: number; lat: number; lng: number };
        checkStoredDriver(d);
        // The seq is one sent; the position one sent with a seq up to it (a ping with an older ts advances seq, not position).
        expect(sent.has(d.seq), `stored seq ${d.seq} was sent`).toBe(true);
        const candidates = [...sent].filter(([seq]) => seq <= d.seq).flatMap(([, positions]) => positions);
        expect(candidates.some(([lat, lng]) => Math.abs(lat - d.lat) <= 1e-7 && Math.abs(lng - d.lng) <= 1e-7), `stored ${JSON.stringify(d)} is a position sent with a seq up to ${d.seq}`).toBe(true);
      } else {
        expect(res.status).toBe(404);
      }
    }
    expect(violations).toEqual([]);
    if (process.env.FUZZ_RUNS) process.stderr.write(`fuzz driver/${encoding}: ${reconnects} reconnects after 4400\n`);
  });
});

/** Records the numeric positions of a pings frame by seq (as they travel: JSON turns NaN into null). */
function remember(sent: Map<number, [number, number][]>, frame: unknown, encoding: Encoding): void {
  const f = (encoding === 'json' ? JSON.parse(JSON.stringify(frame) ?? 'null') : frame) as { type?: unknown; pings?: unknown } | null;
  if (!f || f.type !== 'pings' || !Array.isArray(f.pings)) return;
  for (const p of f.pings as { seq?: unknown; lat?: unknown; lng?: unknown }[]) {
    if (p && typeof p.seq === 'number' && typeof p.lat === 'number' && typeof p.lng === 'number') {
      const list = sent.get(p.seq) ?? [];
      list.push([p.lat, p.lng]);
      sent.set(p.seq, list);
    }
  }
}
