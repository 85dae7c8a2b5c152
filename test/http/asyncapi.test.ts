import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACTIONS, rbacRow } from '../../src/auth/rbac-table.js';
import { asyncApiDocument } from '../../src/protocol/asyncapi-document.js';
import { API_VERSION } from '../../src/http/openapi-document.js';
import { ping, startTestGateway, stopAllGateways, type TestGateway, uniqueDriverId } from '../support/gateway-harness.js';
import { checkFrame, messagesOf } from '../support/frame-check.js';
import { httpRequest } from '../support/http-request.js';
import { RawDriverClient, type Reply } from '../support/raw-driver-client.js';

/**
 * The AsyncAPI document (GET /asyncapi.json) against the two WebSocket
 * endpoints it describes: its client messages are the frame rows of
 * RBAC_TABLE (plus `auth`); every operation names messages of its channel;
 * and a real session on each endpoint, in JSON and in msgpack, sends every
 * client message and receives every server message, each frame valid
 * against its message's payload schema.
 */

let tg: TestGateway;
let doc: Record<string, any>;

beforeAll(async () => {
  tg = await startTestGateway('memory', { env: { HEXFLEET_OFFER_TIMEOUT_MS: '600000' } });
  const served = await httpRequest(tg.port, 'GET', '/asyncapi.json');
  expect(served.status).toBe(200);
  doc = served.json;
});
afterAll(stopAllGateways);

describe('one source of truth', () => {
  it('is served as built, AsyncAPI 3.0, with the API version', () => {
    expect(doc).toEqual(JSON.parse(JSON.stringify(asyncApiDocument(API_VERSION))));
    expect(doc.asyncapi).toBe('3.0.0');
    expect(doc.channels.driver.address).toBe('/v1/driver');
    expect(doc.channels.track.address).toBe('/v1/track');
  });

  it("describes every frame row of RBAC_TABLE as a client message of its endpoint's channel, and no client frame without a row but auth", () => {
    const rows = ACTIONS.filter((a) => rbacRow(a).kind === 'frame');
    for (const [channel, address] of [['driver', '/v1/driver'], ['track', '/v1/track']] as const) {
      const client = [...messagesOf(channel, 'client').keys()];
      const ofRows = rows.filter((a) => a.startsWith(`WS ${address} `)).map((a) => a.split(' ')[2]!);
      expect(client.filter((m) => m !== 'auth').sort()).toEqual(ofRows.sort());
      expect(client).toContain('auth');
    }
  });

  it('names in its operations only messages of the channel, and every message in some operation', () => {
    for (const [id, channel] of Object.entries(doc.channels) as [string, any][]) {
      const used = new Set<string>();
      for (const op of Object.values(doc.operations) as any[]) {
        if (op.channel.$ref !== `#/channels/${id}`) continue;
        for (const ref of [...op.messages, ...(op.reply?.messages ?? [])]) {
          expect(ref.$ref.startsWith(`#/channels/${id}/messages/`), ref.$ref).toBe(true);
          const name = ref.$ref.split('/').pop();
          expect(channel.messages[name], ref.$ref).toBeDefined();
          used.add(name);
        }
      }
      expect([...used].sort()).toEqual(Object.keys(channel.messages).sort());
    }
  });
});

/** A socket whose every frame, both ways, is checked against its channel's messages; it counts which messages it used. */
class CheckedSocket {
  readonly failures: string[] = [];
  private constructor(readonly client: RawDriverClient, private readonly channel: 'driver' | 'track', readonly seen: Set<string>) {
    client.onReply((r) => this.check('gateway', r as unknown as Record<string, unknown>));
  }

  static async open(channel: 'driver' | 'track', token: string, encoding: 'json' | 'msgpack', seen: Set<string>): Promise<CheckedSocket> {
    const client = await RawDriverClient.open(`ws://127.0.0.1:${tg.port}${doc.channels[channel].address}`, { queryToken: token, encoding });
    tg.clients.add(client);
    return new CheckedSocket(client, channel, seen);
  }

  send(frame: Record<string, unknown>): void {
    this.check('client', frame);
    this.client.send(frame);
  }

  /** Sends a frame the gateway refuses for its shape: the schema must refuse it too. */
  sendInvalid(frame: Record<string, unknown>): void {
    const accepted = [...messagesOf(this.channel, 'client')].filter(([, validate]) => validate(frame)).map(([name]) => name);
    if (accepted.length > 0) this.failures.push(`${this.channel} client frame ${JSON.stringify(frame)} is refused by the gateway but matches ${accepted.join(', ')}`);
    this.client.send(frame);
  }

  private check(direction: 'client' | 'gateway', frame: Record<string, unknown>): void {
    const { binary: _, ...payload } = frame;
    try {
      for (const name of checkFrame(this.channel, direction, payload)) this.seen.add(`${this.channel} ${direction} ${name}`);
    } catch (err) {
      this.failures.push((err as Error).message);
    }
  }
}

describe('a real session on each endpoint sends and receives only described frames', () => {
  it('every message of both channels, in JSON and msgpack, each frame valid against its payload schema', async () => {
    const seen = new Set<string>();
    const driverId = uniqueDriverId('asyncapi');
    const orderId = 'o-asyncapi-1';
    const site = { lat: 35.0001, lng: 139.0001 };
    const driver = await CheckedSocket.open('driver', await tg.tokens.sign({ role: 'driver', sub: driverId }), 'json', seen);
    const customer = await CheckedSocket.open('track', await tg.tokens.sign({ role: 'customer', sub: 'asyncapi-customer', orders: [orderId] }), 'msgpack', seen);
    const admin = await CheckedSocket.open('track', await tg.token('admin', 'asyncapi-ops'), 'json', seen);
    const bbox = [138.9, 34.9, 139.1, 35.1];

    admin.send({ type: 'subscribe_area', bbox });
    await admin.client.waitForReply((r) => r.type === 'area_subscribed', 'area_subscribed');
    customer.send({ type: 'subscribe', orderId });
    await customer.client.waitForReply((r) => r.type === 'status', 'status');

    let seq = 0;
    driver.send({ type: 'pings', pings: [ping(++seq, { ...site, status: 'available', hdg: 90, spd: 3 })] });
    await driver.client.waitForAck(seq);
    await admin.client.waitForReply((r) => r.type === 'position', 'an area position');

    const matched = await httpRequest(tg.port, 'POST', '/v1/match', { token: await tg.serviceToken(), body: { orderId, pickup: site } });
    expect(matched.status).toBe(200);
    await driver.client.waitForReply((r) => r.type === 'offer', 'the offer');
    driver.send({ type: 'offer_reply', orderId, accept: true });
    await driver.client.waitForReply((r) => r.type === 'offer_result', 'the offer result');
    await customer.client.waitForReply((r) => r.type === 'assignment' && (r as Reply & { state?: string }).state === 'accepted', 'the accepted assignment');
    driver.send({ type: 'pings', pings: [ping(++seq, { lat: site.lat + 0.0001, lng: site.lng })] });
    await customer.client.waitForReply((r) => r.type === 'position', "the courier's position");

    // Refusals: one bad ping, two bad pings, an offer never made, another's order, a bad box, an unknown type.
    driver.sendInvalid({ type: 'pings', pings: [ping(++seq, { lat: 100 })] });
    await driver.client.waitForError('invalid_lat', seq);
    driver.sendInvalid({ type: 'pings', pings: [ping(++seq, { lat: 100 }), ping(++seq, { lng: 500 })] });
    await driver.client.waitForError('pings_rejected');
    driver.send({ type: 'offer_reply', orderId: 'o-asyncapi-never', accept: false });
    await driver.client.waitForError('not_offered');
    customer.send({ type: 'subscribe', orderId: 'o-asyncapi-other' });
    await customer.client.waitForError('not_allowed');
    admin.send({ type: 'subscribe_area', bbox: [0, 10, 1, 5] });
    await admin.client.waitForError('invalid_bbox');

    // A fresh token on each socket.
    driver.send({ type: 'auth', token: await tg.tokens.sign({ role: 'driver', sub: driverId }) });
    await driver.client.waitForReply((r) => r.type === 'auth_ok', 'auth_ok');
    customer.send({ type: 'auth', token: await tg.tokens.sign({ role: 'customer', sub: 'asyncapi-customer', orders: [orderId] }) });
    await customer.client.waitForReply((r) => r.type === 'auth_ok', 'auth_ok');

    customer.send({ type: 'unsubscribe', orderId });
    await customer.client.waitForReply((r) => r.type === 'unsubscribed', 'unsubscribed');
    admin.send({ type: 'unsubscribe_area', bbox });
    await admin.client.waitForReply((r) => r.type === 'area_unsubscribed', 'area_unsubscribed');

    expect([...driver.failures, ...customer.failures, ...admin.failures]).toEqual([]);
    const all = (['driver', 'track'] as const).flatMap((ch) => (['client', 'gateway'] as const).flatMap((d) => [...messagesOf(ch, d).keys()].map((m) => `${ch} ${d} ${m}`)));
    expect(all.filter((m) => !seen.has(m)), 'messages no frame of the session matched').toEqual([]);
  });
});
