import { afterEach, describe, expect, it } from 'vitest';
import type { DriverClient, SdkError } from '../../src/sdk/index.js';
import { metricSum, metricValue, type Scrape, scrapeMetrics } from '../../kit/metrics-scrape.js';
import { GatewayProcess } from '../support/dispatch-process.js';
import { Cleanup, freshPrefix, startRedisGateway, storedRecord, tokens } from '../support/redis-gateway.js';
import { RedisServer } from '../support/redis-server.js';
import { waitFor } from '../support/wait-for.js';
import { closeAllSdkClients, collectErrors, driverClient } from './sdk-harness.js';

/**
 * The SDK's promise, end to end with real processes: a DriverClient streaming
 * through gateway crashes and Redis outages gets every ping it produced
 * applied exactly once, checked from the store and the gateways' counters.
 */

const cleanup = new Cleanup();
afterEach(async () => {
  await closeAllSdkClients();
  await cleanup.run();
});

/** A distinct position per seq, with the 7 decimals the store keeps: the stored record tells which ping won. */
const at = (seq: number) => ({ lat: Number((52.4 + seq * 1e-5).toFixed(7)), lng: 13.3 });

/** Pings-counter totals of a gateway: received, applied, duplicate, and rejected over every code. */
function counters(s: Scrape): { received: number; applied: number; duplicate: number; rejected: number } {
  return {
    received: metricValue(s, 'hexfleet_pings_received_total'),
    applied: metricValue(s, 'hexfleet_pings_applied_total'),
    duplicate: metricValue(s, 'hexfleet_pings_duplicate_total'),
    rejected: metricSum(s, 'hexfleet_pings_rejected_total'),
  };
}

/** Pings at `perSecond` until `total` were produced (seqs 1..total, positions `at(seq)`). */
function stream(c: DriverClient, total: number, perSecond: number): { done: Promise<void>; produced: () => number } {
  let produced = 0;
  let timer: ReturnType<typeof setInterval> | undefined;
  const done = new Promise<void>((resolve) => {
    timer = setInterval(() => {
      c.ping({ ...at(produced + 1), status: 'available' });
      if (++produced === total) {
        clearInterval(timer);
        resolve();
      }
    }, 1000 / perSecond);
  });
  cleanup.add(() => clearInterval(timer));
  return { done, produced: () => produced };
}

describe('DriverClient end to end', () => {
  it('two gateway processes, one Redis: kill -9 the connected gateway mid-stream, restart it; every ping is applied exactly once', async () => {
    const redis = await RedisServer.start();
    cleanup.add(() => redis.stop());
    const { prefix, admin } = freshPrefix(cleanup, redis.url);
    const env = { REDIS_URL: redis.url, HEXFLEET_REDIS_PREFIX: prefix, HEXFLEET_RATE_PINGS_PER_SEC: '100000', HEXFLEET_RATE_BURST: '1000000' };
    const a = await GatewayProcess.start(cleanup, env);
    const b = await GatewayProcess.start(cleanup, env);

    const driverId = `e2e-${prefix}`;
    const TOTAL = 100;
    const c = driverClient({
      urls: [a.driverUrl, b.driverUrl],
      token: await tokens.sign({ role: 'driver', sub: driverId }),
      batchMaxPings: 10,
      batchMaxDelayMs: 100,
      bufferMaxPings: 1000,
    });
    const errors = collectErrors(c);
    // Captured the moment the client sees its gateway die: what it had acked and what it had on the wire.
    let atKill: { acked: number | undefined; sent: number | undefined; url: string | undefined; code: number | undefined } | undefined;
    c.on('state', (s, info) => {
      if (s === 'connecting' && info.code !== undefined && atKill === undefined) atKill = { acked: c.lastAckedSeq, sent: c.lastSentSeq, url: info.url, code: info.code };
    });
    await waitFor(() => c.state === 'open', { what: 'the client to connect' });
    expect(c.url).toBe(a.driverUrl);

    const s = stream(c, TOTAL, 20);
    await waitFor(() => (c.lastAckedSeq ?? 0) >= 30, { what: 'a third of the stream acked by gateway A', timeoutMs: 30_000 });
    const ackedBeforeScrape = c.lastAckedSeq!;
    const aBefore = counters(await scrapeMetrics(a.adminPort));
    await a.kill9();
    await waitFor(() => atKill !== undefined, { what: 'the client to notice the crash' });
    const restarted = await GatewayProcess.start(cleanup, env, { port: a.port });
    await s.done;
    await waitFor(() => c.lastAckedSeq === TOTAL && c.bufferDepth === 0, { what: `every ping acked (last acked ${c.lastAckedSeq}, buffer ${c.bufferDepth})`, timeoutMs: 30_000 });

    // Nothing dropped or rejected on the client; it moved to B when A died.
    expect(c.dropped).toBe(0);
    expect(c.rejected).toBe(0);
    expect(errors.map((e: SdkError) => e.code)).toEqual([]);
    expect(atKill!.url).toBe(a.driverUrl);
    expect(atKill!.code).toBe(1006);
    expect(c.url).toBe(b.driverUrl);

    // The store holds the last ping produced: its own seq (never renumbered) and its position.
    const record = await storedRecord(admin, prefix, driverId);
    expect(record).toMatchObject({ seq: TOTAL, ...at(TOTAL), status: 'available' });

    // Before the crash A had applied a prefix of the stream, each ping once (acks follow applies).
    expect(aBefore.applied).toBeGreaterThanOrEqual(ackedBeforeScrape);
    expect(aBefore.applied).toBeLessThanOrEqual(atKill!.sent!);
    expect(aBefore.duplicate).toBe(0);
    // A's counters died with it. Everything after its last ack went to B (and maybe the restarted A):
    // the batch on the wire when A died was either applied by A (then it comes back as duplicates)
    // or not (then it is applied now), because one Lua call applies a batch atomically; every
    // later ping is applied exactly once. Together: each of seqs 1..TOTAL applied once.
    const acked = atKill!.acked!;
    const sent = atKill!.sent!;
    const after = [counters(await scrapeMetrics(b.adminPort)), counters(await scrapeMetrics(restarted.adminPort))];
    const sum = (k: 'received' | 'applied' | 'duplicate' | 'rejected') => after.reduce((n, x) => n + x[k], 0);
    expect(sum('rejected')).toBe(0);
    expect(sum('received')).toBe(TOTAL - acked);
    expect(sum('applied') + sum('duplicate')).toBe(sum('received'));
    const inflightAppliedByA = sum('duplicate') === sent - acked && sum('applied') === TOTAL - sent;
    const inflightLostWithA = sum('duplicate') === 0 && sum('applied') === TOTAL - acked;
    const detail = JSON.stringify({ acked, sent, applied: sum('applied'), duplicate: sum('duplicate') });
    expect(inflightAppliedByA || inflightLostWithA, `exactly once after the crash: ${detail}`).toBe(true);
  });

  it('keeps batches the store did not confirm (store_unavailable) and resends them until Redis is back', async () => {
    const redis = await RedisServer.start();
    cleanup.add(() => redis.stop());
    const { prefix, admin } = freshPrefix(cleanup, redis.url);
    const g = await startRedisGateway(cleanup, redis.url, prefix);
    const driverId = `outage-${prefix}`;
    const c = driverClient({
      urls: [g.driverUrl],
      token: await tokens.sign({ role: 'driver', sub: driverId }),
      batchMaxPings: 5,
      batchMaxDelayMs: 0,
      backoff: { initialMs: 50, maxMs: 500 },
    });
    const errors = collectErrors(c);
    await waitFor(() => c.state === 'open', { what: 'the client to connect' });
    for (let i = 1; i <= 5; i++) c.ping(at(i));
    await waitFor(() => c.lastAckedSeq === 5 && c.bufferDepth === 0, { what: 'the first batch acked' });

    await redis.kill();
    for (let i = 6; i <= 12; i++) c.ping(at(i));
    await waitFor(() => errors.some((e) => e.code === 'store_unavailable'), { what: 'a store_unavailable batch error' });
    expect(c.lastAckedSeq).toBe(5);
    expect(c.bufferDepth).toBe(7);
    expect(errors.every((e) => e.code === 'store_unavailable' && e.retry)).toBe(true);

    await redis.launch();
    await waitFor(() => c.lastAckedSeq === 12 && c.bufferDepth === 0, { what: 'every ping acked once Redis is back', timeoutMs: 30_000 });
    expect(c.rejected).toBe(0);
    expect(c.dropped).toBe(0);
    expect(c.state).toBe('open'); // the socket survived the outage: batch errors are not connection errors
    expect(await storedRecord(admin, prefix, driverId)).toMatchObject({ seq: 12, ...at(12) });
    const m = counters(await scrapeMetrics(g.adminPort));
    expect(m.applied).toBe(12);
  });
});
