import { type Encoding, RawDriverClient, type Reply } from '../support/raw-driver-client.js';

/**
 * A tracking client on a real WebSocket (`/v1/track`): the raw client
 * speaks any frame, keeps every frame received in order and waits for the
 * first that matches, so it serves here too.
 */
export type TrackClient = RawDriverClient;

/** A frame of /v1/track, decoded (fields by frame type, see docs/tracking-protocol.md). */
export type TrackFrame = Reply & {
  orderId?: string;
  driverId?: string;
  state?: string;
  event?: string;
  lat?: number;
  lng?: number;
  ts?: number;
  ageMs?: number | null;
  lastTs?: number | null;
  hdg?: number | null;
  spd?: number | null;
  bbox?: number[];
  /** Only on a position another region accepted: that region, and applied here minus its append time there. */
  region?: string;
  replicationAgeMs?: number;
};

export function trackUrl(port: number): string {
  return `ws://127.0.0.1:${port}/v1/track`;
}

export function openTrack(port: number, token: string, encoding: Encoding = 'json'): Promise<TrackClient> {
  return RawDriverClient.open(trackUrl(port), { queryToken: token, encoding });
}

/** Frames of one type (and order) received so far. */
export function framesOf(c: TrackClient, type: string, orderId?: string): TrackFrame[] {
  return (c.replies as TrackFrame[]).filter((r) => r.type === type && (orderId === undefined || r.orderId === orderId));
}

/** The first frame from index `from` on (already received or still to come) that matches. */
export async function frameAfter(c: TrackClient, from: number, match: (f: TrackFrame) => boolean, what: string): Promise<TrackFrame> {
  return (await c.waitForReply((r) => match(r as TrackFrame), what, from)) as TrackFrame;
}

/** Waits for the status of `orderId` with `state`, received at or after index `from`. */
export function statusOf(c: TrackClient, orderId: string, state: string, from = 0): Promise<TrackFrame> {
  return frameAfter(c, from, (f) => f.type === 'status' && f.orderId === orderId && f.state === state, `status ${state} of ${orderId}`);
}

/** Subscribes and waits for the first status (the snapshot) of the order. */
export async function subscribe(c: TrackClient, orderId: string): Promise<TrackFrame> {
  const from = c.replies.length;
  c.send({ type: 'subscribe', orderId });
  return frameAfter(c, from, (f) => (f.type === 'status' || f.type === 'error') && f.orderId === orderId, `first answer to subscribe ${orderId}`);
}
