import WebSocket from 'ws';
import { DriverClient, type DriverClientOptions, SdkError, TrackingClient, type TrackingClientOptions } from '../../src/sdk/index.js';

/**
 * SDK clients for tests: the `ws` package as the WebSocket (Node 20 has no
 * global one), short backoffs, seqs from 0, and a registry so `closeAll`
 * in `afterEach` closes whatever a test opened, even when it failed.
 */

const open = new Set<DriverClient | TrackingClient>();

/** Short enough that reconnect tests finish quickly, long enough not to spin. */
export const FAST_BACKOFF = { initialMs: 20, maxMs: 250 };

export function driverClient(options: Partial<DriverClientOptions> & Pick<DriverClientOptions, 'urls' | 'token'>): DriverClient {
  const c = new DriverClient({ WebSocket, backoff: FAST_BACKOFF, initialSeq: 0, encoding: 'msgpack', ...options });
  open.add(c);
  return c;
}

export function trackingClient(options: Partial<TrackingClientOptions> & Pick<TrackingClientOptions, 'urls' | 'token'>): TrackingClient {
  const c = new TrackingClient({ WebSocket, backoff: FAST_BACKOFF, ...options });
  open.add(c);
  return c;
}

export async function closeAllSdkClients(): Promise<void> {
  const all = [...open];
  open.clear();
  await Promise.all(all.map((c) => c.close()));
}

/** Every `error` event of a client, in order. */
export function collectErrors(c: DriverClient | TrackingClient): SdkError[] {
  const errors: SdkError[] = [];
  const push = (e: SdkError): void => void errors.push(e);
  if (c instanceof DriverClient) c.on('error', push);
  else c.on('error', push);
  return errors;
}
