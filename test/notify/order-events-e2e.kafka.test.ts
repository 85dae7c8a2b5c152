import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { TokenService } from '../../src/auth/tokens.js';
import { BackendHosts, TEST_BACKENDS } from '../support/backends.js';
import { MatchApi, OfferDriver } from '../support/dispatch-client.js';
import { startTestGateway, stopAllGateways, TEST_JWT_SECRET } from '../support/gateway-harness.js';
import { waitFor } from '../support/wait-for.js';
import { WebhookReceiver } from './webhook-receiver.js';

/**
 * The whole path of an order transition, on every backend: a match through
 * the real API commits it, the commit records its event in the store's
 * outbox in the same step, the gateway's relay publishes it to Kafka, the
 * gateway's notifier delivers it — signed — to the order service's webhook.
 */

const SECRET = 'order-service-webhook-secret-0123456789';
const tokens = new TokenService(TEST_JWT_SECRET);
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await stopAllGateways();
  for (const c of closers.splice(0).reverse()) await c();
});

/**
 * The receiver's outage in the chaos case: long enough for the breaker to
 * open and events to pile up (CI); `CHAOS_RECEIVER_DOWN_S=60` gives the
 * minute the README reports.
 */
const RECEIVER_DOWN_MS = Number(process.env.CHAOS_RECEIVER_DOWN_S ?? '0') * 1000;
/** Orders (three transitions each) started per second during the outage. */
const ORDERS_PER_S = 10;

async function gatewayWithLog(kind: (typeof TEST_BACKENDS)[number], receiverUrl: string) {
  const brokers = inject('kafkaBrokers');
  if (!brokers) throw new Error('no Kafka broker in this run: test/support/kafka-global-setup.ts starts one for *.kafka.test.ts files');
  const hosts = new BackendHosts();
  closers.push(() => hosts.stop());
  return startTestGateway(kind, {
    target: await hosts.target(kind),
    env: {
      HEXFLEET_KAFKA_BROKERS: brokers,
      HEXFLEET_KAFKA_TOPIC_PREFIX: `test-${randomUUID().slice(0, 8)}`,
      HEXFLEET_WEBHOOK_URL: receiverUrl,
      HEXFLEET_WEBHOOK_SECRET: SECRET,
      HEXFLEET_OUTBOX_RELAY_INTERVAL_MS: '20',
      // Short waits, so the outage case sees the breaker open and close within seconds.
      HEXFLEET_WEBHOOK_BACKOFF_MS: '50',
      HEXFLEET_WEBHOOK_BACKOFF_MAX_MS: '500',
      HEXFLEET_WEBHOOK_HALF_OPEN_AFTER_MS: '500',
      HEXFLEET_WEBHOOK_TIMEOUT_MS: '500',
      HEXFLEET_WEBHOOK_MAX_ATTEMPTS: '1000',
      // The drivers ping once: they must stay fresh through a long outage run.
      HEXFLEET_STALE_MS: '600000',
      HEXFLEET_OFFLINE_MS: '900000',
    },
  });
}

describe.each(TEST_BACKENDS)('order events end to end on %s', (kind) => {
  it('match, offer, accept, complete: the webhook gets every transition once, signed, versions 1..n in order', async () => {
    const receiver = await WebhookReceiver.start(SECRET);
    closers.push(() => receiver.close());
    const tg = await gatewayWithLog(kind, receiver.url);
    const driver = await OfferDriver.open(tg.driverUrl, tokens, `d-${randomUUID().slice(0, 6)}`);
    closers.push(() => driver.terminate());
    const pickup = { lat: 52.52, lng: 13.405 };
    await driver.ping(pickup);
    const api = new MatchApi(tg.port, await tg.serviceToken());
    const orderId = `o-${randomUUID().slice(0, 8)}`;
    const matched = await api.match({ orderId, pickup, radiusM: 2000 });
    expect(matched.status).toBe(200);
    await driver.answerOffer(orderId, true);
    expect((await api.complete(orderId)).status).toBe(200);
    const final = await api.history(orderId);

    const mine = () => receiver.received.filter((r) => r.body.orderId === orderId);
    await waitFor(() => new Set(mine().map((r) => r.eventId)).size === final.history.length + 1, {
      what: 'every transition of the order at the webhook', timeoutMs: 30_000,
    });
    const firstCopies = [...new Map(mine().map((r) => [r.eventId, r])).values()];
    expect(firstCopies.every((r) => r.signatureOk)).toBe(true);
    expect(firstCopies.map((r) => r.body.version)).toEqual(firstCopies.map((_, i) => i + 1));
    expect(firstCopies.map((r) => r.body.type)).toEqual(['order.created', 'assignment.offered', 'assignment.accepted', 'assignment.completed']);
    expect(firstCopies.map((r) => r.eventId)).toEqual(firstCopies.map((r) => `${orderId}:${r.body.version}`));
    expect(firstCopies.at(-1)!.body.order).toMatchObject({ state: 'completed', driverId: driver.driverId });
  });

  it('the order service down while orders run: nothing is lost, deliveries resume when it is back, duplicates only of ids already seen', async () => {
    const receiver = await WebhookReceiver.start(SECRET);
    closers.push(() => receiver.close());
    const tg = await gatewayWithLog(kind, receiver.url);
    const api = new MatchApi(tg.port, await tg.serviceToken());
    const pickup = { lat: 52.52, lng: 13.405 };
    // Five available drivers: each match offers one; each cancel frees it again.
    await Promise.all(Array.from({ length: 5 }, async () => {
      const d = await OfferDriver.open(tg.driverUrl, tokens, `d-${randomUUID().slice(0, 6)}`);
      closers.push(() => d.terminate());
      await d.ping(pickup);
      return d;
    }));
    /** One order: matched (offered) and cancelled: three transitions. */
    const runOrder = async (): Promise<string> => {
      const orderId = `o-${randomUUID().slice(0, 8)}`;
      expect((await api.match({ orderId, pickup, radiusM: 2000 })).status).toBe(200);
      expect((await api.cancel(orderId)).status).toBe(200);
      return orderId;
    };
    const before = [await runOrder()];
    await waitFor(() => receiver.received.some((r) => r.body.orderId === before[0]), { what: 'the first order at the webhook', timeoutMs: 30_000 });

    await receiver.close();
    const downAt = Date.now();
    const during: string[] = [];
    // Orders keep running while the receiver is down, at most ORDERS_PER_S (the load's shape, not a wait):
    // at least until the breaker opened, and for the configured outage.
    while (during.length < 5 || (await tg.metric('hexfleet_webhook_breaker_state')) === 0 || Date.now() - downAt < RECEIVER_DOWN_MS) {
      const next = downAt + (during.length * 1000) / ORDERS_PER_S;
      if (next > Date.now()) await new Promise((r) => setTimeout(r, next - Date.now()));
      during.push(await runOrder());
    }
    await receiver.listen();
    const upAt = Date.now();

    const orders = [...before, ...during];
    const committed = orders.length * 3;
    const ids = () => new Set(receiver.received.filter((r) => r.status === 200).map((r) => r.eventId));
    await waitFor(() => orders.every((o) => [1, 2, 3].every((v) => ids().has(`${o}:${v}`))), { what: 'every event delivered after the outage', timeoutMs: 60_000 });
    expect(await tg.metric('hexfleet_webhook_dead_letters_total', { reason: 'attempts_exhausted' })).toBe(0);
    const duplicates = receiver.duplicates;
    console.log(`[webhook outage ${kind}] receiver down ${((upAt - downAt) / 1000).toFixed(1)} s, all delivered ${((Date.now() - upAt) / 1000).toFixed(1)} s after it came back; events committed ${committed}, delivered ${ids().size} distinct, duplicates ${duplicates} (all of ids already delivered), dead letters 0`);
  });
});
