import type { TokenService } from '../../src/auth/tokens.js';
import type { Point } from '../../src/orders/order.js';
import { driverToken, type DispatchReply } from '../support/dispatch-client.js';
import { DriverClient } from '../support/ws-client.js';

/**
 * A driver app for tracking tests: pings with heading and speed, and answers
 * offers, on a real `/v1/driver` socket.
 */
export class Courier {
  private seq = 0;

  constructor(
    readonly driverId: string,
    readonly client: DriverClient,
  ) {}

  static async open(port: number, tokens: TokenService, driverId: string): Promise<Courier> {
    return new Courier(driverId, await DriverClient.open(`ws://127.0.0.1:${port}/v1/driver`, { queryToken: await driverToken(tokens, driverId) }));
  }

  /** Sends one fix (now, available) and waits for its ack; returns the ping as sent. */
  async ping(at: Point, extra: { hdg?: number; spd?: number } = {}): Promise<{ seq: number; lat: number; lng: number; ts: number }> {
    const seq = ++this.seq;
    const p = { seq, lat: at.lat, lng: at.lng, ts: Date.now(), status: 'available', ...extra };
    const reply = this.client.waitForReply((r) => r.seq === seq && (r.type === 'ack' || r.type === 'error'), `${this.driverId}: reply to ping ${seq}`);
    this.client.sendPings([p]);
    const r = await reply;
    if (r.type !== 'ack') throw new Error(`${this.driverId}: ping ${seq} refused: ${r.code} ${r.message}`);
    return p;
  }

  /** Sends one fix without waiting for its ack; returns the promise of the ack. */
  pingNoWait(at: Point): Promise<unknown> {
    const seq = ++this.seq;
    const reply = this.client.waitForReply((r) => r.seq === seq && (r.type === 'ack' || r.type === 'error'), `${this.driverId}: reply to ping ${seq}`);
    this.client.sendPings([{ seq, lat: at.lat, lng: at.lng, ts: Date.now() }]);
    return reply;
  }

  /** Waits for the offer of `orderId` and answers it; resolves with the gateway's answer. */
  async answerOffer(orderId: string, accept: boolean): Promise<DispatchReply> {
    await this.client.waitForReply((r) => r.type === 'offer' && (r as DispatchReply).orderId === orderId, `${this.driverId}: offer of ${orderId}`);
    const from = this.client.replies.length;
    const answer = this.client.waitForReply(
      (r) => (r.type === 'offer_result' || r.type === 'error') && (r as DispatchReply).orderId === orderId && this.client.replies.indexOf(r) >= from,
      `${this.driverId}: answer to offer_reply ${orderId}`,
    );
    this.client.send({ type: 'offer_reply', orderId, accept });
    return (await answer) as DispatchReply;
  }
}
