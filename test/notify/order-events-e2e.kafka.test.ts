import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { TokenService } from '../../src/auth/tokens.js';
import { TEST_BACKENDS } from '../support/backends.js';
import { MatchApi, OfferDriver } from '../support/dispatch-client.js';
import { startTestGateway, stopAllGateways, TEST_JWT_SECRET } from '../support/gateway-harness.js';
import { RedisServer } from '../support/redis-server.js';
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

describe.each(TEST_BACKENDS)('order events end to end on %s', (kind) => {
  it('match, offer, accept, complete: the webhook gets every transition once, signed, versions 1..n in order', async () => {
    const brokers = inject('kafkaBrokers');
    if (!brokers) throw new Error('no Kafka broker in this run: test/support/kafka-global-setup.ts starts one for *.kafka.test.ts files');
    const receiver = await WebhookReceiver.start(SECRET);
    closers.push(() => receiver.close());
    let redisUrl: string | undefined;
    if (kind !== 'memory') {
      const redis = await RedisServer.start();
      closers.push(() => redis.stop());
      redisUrl = redis.url;
    }
    const tg = await startTestGateway(kind, {
      ...(redisUrl ? { redisUrl } : {}),
      env: {
        HEXFLEET_KAFKA_BROKERS: brokers,
        HEXFLEET_KAFKA_TOPIC_PREFIX: `test-${randomUUID().slice(0, 8)}`,
        HEXFLEET_WEBHOOK_URL: receiver.url,
        HEXFLEET_WEBHOOK_SECRET: SECRET,
        HEXFLEET_OUTBOX_RELAY_INTERVAL_MS: '20',
      },
    });
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
});
