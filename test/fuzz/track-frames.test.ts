import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stopAllGateways, TestGateway } from '../support/gateway-harness.js';
import { type Encoding, RawDriverClient, type Reply } from '../support/raw-driver-client.js';
import { fcParams, frameBytes, progress, rawFrameArb, runsFor, trackFrameArb, watchReplies } from './fuzz-support.js';

/**
 * Property-based fuzzing of /v1/track frames, JSON and msgpack, against a
 * real gateway (a tracker token): only protocol frames and table codes come
 * back, never `internal`; the connection ends only by the bad-frame budget;
 * the gateway keeps serving. Each case is followed by a marker
 * `unsubscribe` of an order of its own, answered at once.
 */

afterAll(stopAllGateways);

const ENV = { HEXFLEET_FRAME_RATE_PER_SEC: '100000', HEXFLEET_FRAME_BURST: '1000000', HEXFLEET_BAD_FRAME_LIMIT: '10000' };
/** track-endpoint.ts's maxPayloadLength. */
const MAX_TRACK_FRAME_BYTES = 4096;
const REPLY_TYPES = ['error', 'status', 'position', 'assignment', 'unsubscribed', 'area_subscribed', 'area_unsubscribed'];

describe('fuzz: /v1/track frames', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await TestGateway.start(ENV);
  });

  it.each(['json', 'msgpack'] as const)('holds every invariant for hostile %s frames', async (encoding: Encoding) => {
    const violations: string[] = [];
    let connections = 0;
    // A new tracker token (subject) for each connection: budgets are per principal, so one closed by 4400 stays closed for the minute.
    const open = async (): Promise<RawDriverClient> => {
      const token = await gw.tokens.sign({ role: 'tracker', sub: `fuzz-order-${encoding}-${++connections}`, ttlS: 3600 });
      const c = await RawDriverClient.open(`ws://127.0.0.1:${gw.port}/v1/track`, { queryToken: token, encoding });
      gw.clients.add(c);
      return watchReplies(c, REPLY_TYPES, violations);
    };
    let client = await open();
    let marker = 0;
    /** The last case was larger than the endpoint takes: uWS drops the connection (1006), as documented. */
    let oversize = false;
    const runs = runsFor(150, 0.1);
    const tick = progress(`track/${encoding}`, runs);

    await fc.assert(
      fc.asyncProperty(fc.oneof({ weight: 9, arbitrary: trackFrameArb.map((frame) => ({ frame })) }, { weight: 1, arbitrary: rawFrameArb.map((raw) => ({ raw })) }), async (c) => {
        if (client.closeEvent) {
          if (client.closeEvent.code !== 4400 && !(oversize && client.closeEvent.code === 1006)) violations.push(`closed with ${client.closeEvent.code} ${client.closeEvent.reason}`);
          client = await open();
        }
        if ('raw' in c) client.sendRaw(c.raw.data, c.raw.binary);
        else {
          oversize = frameBytes(c.frame, encoding) > MAX_TRACK_FRAME_BYTES;
          client.send(c.frame);
        }
        const m = `fuzz-marker-${++marker}`;
        const from = client.replies.length;
        client.send({ type: 'unsubscribe', orderId: m });
        await client.waitForReply((r) => (r as Reply & { orderId?: string }).orderId === m, `the marker ${m}`, from).catch((err: Error) => {
          if (!client.closeEvent) throw err;
        });
        tick();
        if (violations.length > 0) throw new Error(violations.join('\n'));
      }),
      fcParams(runs),
    );
    // Still serving: its own order can be watched.
    const probe = await open();
    probe.send({ type: 'subscribe', orderId: `fuzz-order-${encoding}-${connections}` });
    await probe.waitForReply((r) => r.type === 'status', 'the status of its order');
    expect(violations).toEqual([]);
  });
});
