import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { unusedFixedPort } from '../../kit/free-port.js';
import { metricSum, scrapeMetrics } from '../../kit/metrics-scrape.js';
import { scriptSource } from '../../src/backend/redis/load-scripts.js';
import type { WirePing } from '../../src/protocol/wire-frames.js';
import type { RawDriverClient, Reply } from '../support/raw-driver-client.js';
import {
  adminRedis,
  Cleanup,
  connectDriver,
  deleteKeys,
  freshPrefix,
  getDriver,
  nearbyIds,
  startRedisGateway,
  storedRecord,
  uniquePrefix,
  waitForReady,
} from '../support/redis-gateway.js';
import { RedisServer } from '../support/redis-server.js';
import { waitFor } from '../support/wait-for.js';

/**
 * The "Failure behaviour" of issue 2, end to end: a gateway in this process,
 * a real redis-server that the tests stop, kill, pause and flush, and real
 * WebSocket clients. The one rule every case checks: an ack means the pings
 * are in Redis; a failure is a retryable error, and resending heals it.
 */

/** Fix times well inside the accepted window (24 h old .. 30 s ahead), one ms apart per seq. */
const T0 = Date.now() - 10 * 60_000;
const round7 = (x: number): number => Math.round(x * 1e7) / 1e7;

/** Each driver and seq has its own position, so a stored position tells which ping won. */
function ping(driver: number, seq: number): WirePing {
  return { seq, lat: round7(52.5 + driver * 0.01 + seq * 1e-5), lng: round7(13.4 + seq * 1e-5), ts: T0 + seq };
}
function pings(driver: number, from: number, to: number): WirePing[] {
  const out: WirePing[] = [];
  for (let s = from; s <= to; s++) out.push(ping(driver, s));
  return out;
}
function expectAt(rec: { seq: number; lat: number; lng: number } | null, driver: number, seq: number): void {
  expect(rec).not.toBeNull();
  const want = ping(driver, seq);
  expect({ seq: rec!.seq, lat: rec!.lat, lng: rec!.lng }).toEqual({ seq: want.seq, lat: want.lat, lng: want.lng });
}

/** Redis knows the script by the SHA1 of the text it ran: the file with its includes expanded. */
const APPLY_PINGS_SHA = createHash('sha1').update(scriptSource('applyPings')).digest('hex');

/**
 * Redis writes its AOF before replying only with `appendfsync always`; with
 * the default `everysec` it may postpone the write while a background fsync
 * runs and reply anyway, so a SIGKILL in that window loses replied writes.
 * A test that kills Redis and demands "no acked ping lost" needs the former.
 */
async function writeAofBeforeReplying(admin: Redis): Promise<void> {
  await admin.config('SET', 'appendfsync', 'always');
}

describe('gateway against a failing Redis', () => {
  const cleanup = new Cleanup();
  afterEach(() => cleanup.run());

  it('starts without Redis, refuses batches with store_unavailable, and resumes by itself once Redis is up', async () => {
    const port = await unusedFixedPort();
    const url = `redis://127.0.0.1:${port}`;
    const prefix = uniquePrefix();
    let server: RedisServer | undefined;
    let admin: Redis | undefined;
    cleanup.add(() => server?.stop());
    cleanup.add(async () => {
      if (admin) await deleteKeys(admin, prefix);
      admin?.disconnect();
    });

    const gw = await startRedisGateway(cleanup, url, prefix);
    const unready = (await waitForReady(gw.adminPort, 503)) as { failing: string[] };
    expect(unready.failing).toContain('redis');

    const client = await connectDriver(cleanup, gw.port, 'drv-early', 'msgpack');
    const errorsBefore = metricSum(await scrapeMetrics(gw.adminPort), 'hexfleet_store_errors_total', { op: 'apply' });
    const batch = pings(0, 1, 3);
    const refused = await client.sendBatch(batch);
    expect(refused).toMatchObject({ type: 'error', code: 'store_unavailable', seq: 3 });
    // A second try while Redis is still missing fails the same way.
    expect(await client.sendBatch(batch)).toMatchObject({ type: 'error', code: 'store_unavailable', seq: 3 });
    expect(client.replies.filter((r) => r.type === 'ack')).toEqual([]);
    expect(metricSum(await scrapeMetrics(gw.adminPort), 'hexfleet_store_errors_total', { op: 'apply' })).toBeGreaterThan(errorsBefore);

    server = await RedisServer.startOn(port);
    admin = adminRedis(new Cleanup(), url); // disconnected by the cleanup step above, after its keys go
    await waitForReady(gw.adminPort, 200);
    // The client resends what was never acked; exactly the same frame.
    expect(await client.sendBatch(batch)).toEqual({ type: 'ack', seq: 3, binary: true });
    expectAt(await getDriver(gw.port, 'drv-early'), 0, 3);
  });

  it('loses no acked ping when Redis is killed and restarted mid-stream, and survives SCRIPT FLUSH', async () => {
    const server = await RedisServer.start();
    cleanup.add(() => server.stop());
    const { prefix, admin } = freshPrefix(cleanup, server.url);
    await writeAofBeforeReplying(admin);

    const gw = await startRedisGateway(cleanup, server.url, prefix);
    await waitForReady(gw.adminPort, 200);
    const chaos = { down: false };
    const streamers: Streamer[] = [];
    for (let d = 0; d < 5; d++) {
      const client = await connectDriver(cleanup, gw.port, `drv-${d}`, d % 2 === 0 ? 'msgpack' : 'json');
      streamers.push(new Streamer(client, `drv-${d}`, d, chaos));
    }
    cleanup.add(() => streamers.forEach((s) => s.stop()));
    streamers.forEach((s) => s.start());
    const ackedAtLeast = (n: (s: Streamer) => number, what: string) =>
      waitFor(() => streamers.every((s) => s.ackedMax >= n(s)), { what, timeoutMs: 30_000 });

    await ackedAtLeast(() => 30, 'every driver to get 10 batches acked');

    // Crash Redis in the middle of the stream.
    await server.kill();
    chaos.down = true;
    const downErrors = streamers.map((s) => s.errorsWhileDown);
    await waitFor(() => streamers.every((s, i) => s.errorsWhileDown > downErrors[i]!), {
      what: 'store_unavailable for batches sent while Redis is down', timeoutMs: 30_000,
    });
    expect(((await waitForReady(gw.adminPort, 503)) as { failing: string[] }).failing).toContain('redis');

    // Hold the clients, so nothing is written after the restart before the check below.
    streamers.forEach((s) => s.hold());
    await waitFor(() => streamers.every((s) => s.awaiting === 0), { what: 'every outstanding batch to be answered' });
    chaos.down = false;
    await server.launch();
    await writeAofBeforeReplying(admin);
    // Every ack sent before the crash is in the AOF Redis replayed.
    for (const s of streamers) {
      const rec = await storedRecord(admin, prefix, s.driverId);
      expect(rec, `${s.driverId} after the restart`).not.toBeNull();
      expect(rec!.seq).toBeGreaterThanOrEqual(s.ackedMax);
      expectAt(rec, s.driver, rec!.seq);
    }

    // Streaming resumes without anyone touching the gateway; the restart lost the scripts.
    const resumedFrom = streamers.map((s) => s.sentMax);
    streamers.forEach((s) => s.release());
    await ackedAtLeast((s) => resumedFrom[s.driver]! + 15, 'acks for batches sent after the restart');
    await waitForReady(gw.adminPort, 200);

    // Scripts flushed under a live connection: NOSCRIPT is healed inside the store.
    // (No check that the script is gone right after the flush: a batch in flight may already have reloaded it.)
    await admin.script('FLUSH');
    const flushedAt = streamers.map((s) => s.sentMax);
    await ackedAtLeast((s) => flushedAt[s.driver]! + 15, 'acks for batches sent after SCRIPT FLUSH');
    expect(await admin.script('EXISTS', APPLY_PINGS_SHA)).toEqual([1]);

    // Stop sending new pings; keep resending until everything is acked.
    streamers.forEach((s) => s.finish());
    await waitFor(() => streamers.every((s) => s.drained), { what: 'every batch to be acked', timeoutMs: 30_000 });
    streamers.forEach((s) => s.stop());

    for (const s of streamers) {
      expect(s.violations).toEqual([]);
      expect(s.errors.filter((r) => r.type === 'error' && r.message?.includes('NOSCRIPT'))).toEqual([]);
      expect(new Set(s.errors.map((r) => r.type === 'error' && r.code))).toEqual(new Set(['store_unavailable']));
      expect(s.ackedMax).toBe(s.sentMax);
      const rec = await getDriver(gw.port, s.driverId);
      expect(rec!.seq).toBeGreaterThanOrEqual(s.ackedMax);
      expectAt(rec, s.driver, s.ackedMax);
    }
  }, 120_000);

  describe('on a shared Redis', () => {
    let server: RedisServer;
    beforeAll(async () => {
      server = await RedisServer.start();
    });
    afterAll(() => server?.stop());

    /** CLIENT PAUSE … WRITE holds every script call (and the commands queued behind it) while reads go on. */
    async function pauseWrites(admin: Redis): Promise<void> {
      await admin.call('CLIENT', 'PAUSE', '60000', 'WRITE');
      cleanup.add(async () => {
        await admin.call('CLIENT', 'UNPAUSE');
      });
    }

    it('answers store_unavailable for a write that timed out, never an ack, and what Redis holds agrees with the acks', async () => {
      const { prefix, admin } = freshPrefix(cleanup, server.url);
      const gw = await startRedisGateway(cleanup, server.url, prefix, { HEXFLEET_REDIS_COMMAND_TIMEOUT_MS: '300' });
      await waitForReady(gw.adminPort, 200);
      const clients = await Promise.all([0, 1, 2].map((d) => connectDriver(cleanup, gw.port, `drv-${d}`, d === 1 ? 'msgpack' : 'json')));

      for (const [d, c] of clients.entries()) expect(await c.sendBatch(pings(d, 1, 2))).toEqual({ type: 'ack', seq: 2, binary: d === 1 });

      await pauseWrites(admin);
      const refused = await Promise.all(clients.map((c, d) => c.sendBatch(pings(d, 3, 4))));
      for (const r of refused) expect(r).toMatchObject({ type: 'error', code: 'store_unavailable', seq: 4 });
      for (const [d, c] of clients.entries()) {
        expect(c.replies.filter((r) => r.type === 'ack')).toEqual([{ type: 'ack', seq: 2, binary: d === 1 }]);
        // What was acked is there; what was refused is not (yet).
        expectAt(await storedRecord(admin, prefix, `drv-${d}`), d, 2);
      }

      await admin.call('CLIENT', 'UNPAUSE');
      // The timed-out script call was already sent, so Redis runs it now: a refused
      // batch may end up stored (its outcome was unknown), never the reverse.
      for (const d of clients.keys()) {
        await waitFor(async () => (await storedRecord(admin, prefix, `drv-${d}`))?.seq === 4, { what: `drv-${d} seq 4` });
        expectAt(await storedRecord(admin, prefix, `drv-${d}`), d, 4);
      }
      await waitForReady(gw.adminPort, 200);
      const duplicatesBefore = metricSum(await scrapeMetrics(gw.adminPort), 'hexfleet_pings_duplicate_total');
      // So resending is safe: the same batch is acked as duplicates and changes nothing.
      for (const [d, c] of clients.entries()) {
        expect(await c.sendBatch(pings(d, 3, 4))).toEqual({ type: 'ack', seq: 4, binary: d === 1 });
        expectAt(await getDriver(gw.port, `drv-${d}`), d, 4);
      }
      expect(metricSum(await scrapeMetrics(gw.adminPort), 'hexfleet_pings_duplicate_total')).toBe(duplicatesBefore + 6);
    });

    it('sheds load with overloaded instead of hanging when Redis stalls, and recovers after', async () => {
      const { prefix, admin } = freshPrefix(cleanup, server.url);
      const gw = await startRedisGateway(cleanup, server.url, prefix, { HEXFLEET_INGEST_MAX_PENDING: '100' });
      await waitForReady(gw.adminPort, 200);
      const clients = await Promise.all([0, 1, 2, 3].map((d) => connectDriver(cleanup, gw.port, `drv-${d}`, d % 2 === 0 ? 'msgpack' : 'json')));

      await pauseWrites(admin);
      const BATCHES = 30;
      const SIZE = 10;
      for (let b = 0; b < BATCHES; b++) {
        for (const [d, c] of clients.entries()) c.sendPings(pings(d, b * SIZE + 1, (b + 1) * SIZE));
      }
      const all = (): Reply[] => clients.flatMap((c) => c.replies);
      // Answers come while Redis is still stalled: shed at once, or failed by the command timeout.
      await waitFor(() => all().some((r) => r.type === 'error' && r.code === 'overloaded'), { what: 'an overloaded error' });
      await waitFor(() => clients.every((c) => c.replies.length === BATCHES), { what: 'a reply to every batch' });
      expect(all().filter((r) => r.type === 'ack')).toEqual([]);
      expect(new Set(all().map((r) => r.type === 'error' && r.code))).toEqual(new Set(['overloaded', 'store_unavailable']));
      for (const c of clients) {
        // One reply per batch, each carrying the highest seq of its batch.
        expect(c.replies.map((r) => r.seq).sort((a, b) => a! - b!)).toEqual(Array.from({ length: BATCHES }, (_, b) => (b + 1) * SIZE));
      }
      expect(metricSum(await scrapeMetrics(gw.adminPort), 'hexfleet_pings_rejected_total', { code: 'overloaded' })).toBeGreaterThan(0);

      await admin.call('CLIENT', 'UNPAUSE');
      await waitFor(async () => metricSum(await scrapeMetrics(gw.adminPort), 'hexfleet_ingest_pending_pings') === 0, { what: 'no pending pings' });
      await waitForReady(gw.adminPort, 200);
      const last = BATCHES * SIZE + 5;
      for (const [d, c] of clients.entries()) {
        expect(await c.sendBatch(pings(d, BATCHES * SIZE + 1, last))).toEqual({ type: 'ack', seq: last, binary: d % 2 === 0 });
        expectAt(await getDriver(gw.port, `drv-${d}`), d, last);
      }
    });

    it('serves a silent driver as stale, drops it from nearby, then from the index, then forgets it', async () => {
      const { prefix } = freshPrefix(cleanup, server.url);
      const gw = await startRedisGateway(cleanup, server.url, prefix, {
        HEXFLEET_STALE_MS: '100',
        HEXFLEET_OFFLINE_MS: '200',
        HEXFLEET_RETENTION_MS: '400',
        HEXFLEET_SWEEP_INTERVAL_MS: '50',
      });
      await waitForReady(gw.adminPort, 200);
      const client = await connectDriver(cleanup, gw.port, 'drv-silent');
      const at = { lat: 52.52, lng: 13.405 };
      const near = (extra = '') => nearbyIds(gw.port, at.lat, at.lng, 500, extra);

      // The stages last 100 to 300 ms each; a stalled machine can sleep through one.
      // Then the driver is simply seen again (a fresh ping) and the lifecycle watched anew.
      let seen = { stale: false, unindexed: false };
      let seq = 0;
      for (let attempt = 0; attempt < 5 && !seen.unindexed; attempt++) {
        seen = { stale: false, unindexed: false };
        seq++;
        expect(await client.sendBatch([{ seq, ...at, ts: Date.now() - 10 }])).toEqual({ type: 'ack', seq, binary: false });
        await waitFor(
          async () => {
            const [rec, fresh, withStale] = await Promise.all([getDriver(gw.port, 'drv-silent'), near(), near('&includeStale=true')]);
            if (rec === null) return true; // forgotten before every stage was seen: try again
            expect(rec.seq).toBe(seq);
            if (rec.stale && !fresh.includes('drv-silent')) seen.stale = true;
            if (seen.stale && !rec.indexed && !withStale.includes('drv-silent')) seen.unindexed = true;
            return seen.unindexed;
          },
          { what: 'the stale and offline stages', intervalMs: 5 },
        );
      }
      expect(seen).toEqual({ stale: true, unindexed: true });
      await waitFor(async () => (await getDriver(gw.port, 'drv-silent')) === null, { what: 'the driver to be forgotten' });
      expect(await near('&includeStale=true')).toEqual([]);
      // Counted once the whole sweep run (every bucket) is over, a little after the record went.
      await waitFor(async () => metricSum(await scrapeMetrics(gw.adminPort), 'hexfleet_swept_drivers_total', { outcome: 'removed' }) >= 1, {
        what: 'the sweep to count the removal',
      });
    });
  });
});

/** How long a driver app waits before resending a refused batch (its retry backoff). */
const RESEND_BACKOFF_MS = 25;
/** A driver app sends a batch about this often. */
const SEND_EVERY_MS = 10;
const BATCH = 3;
/** Batches a driver has sent and not yet seen acked, at most. */
const WINDOW = 2;

interface Outstanding {
  pings: WirePing[];
  last: number;
  /** Sent (or resent) after Redis was killed and before it was started again. */
  sentWhileDown: boolean;
}

/**
 * A driver app as the real one behaves: sends a batch every few ms, keeps
 * every batch until it is acked, and resends refused batches after a backoff.
 * It records anything that breaks the contract in `violations`.
 */
class Streamer {
  ackedMax = 0;
  sentMax = 0;
  errorsWhileDown = 0;
  readonly errors: Reply[] = [];
  readonly violations: string[] = [];
  private readonly inflight = new Map<number, Outstanding>();
  private readonly refused: Outstanding[] = [];
  private ticker: NodeJS.Timeout | undefined;
  private backoff: NodeJS.Timeout | undefined;
  private held = false;
  private finishing = false;

  constructor(
    readonly client: RawDriverClient,
    readonly driverId: string,
    readonly driver: number,
    private readonly chaos: { down: boolean },
  ) {
    client.onReply((r) => this.onReply(r));
  }

  /** Batches sent and not answered yet. */
  get awaiting(): number {
    return this.inflight.size;
  }

  get drained(): boolean {
    return this.inflight.size === 0 && this.refused.length === 0;
  }

  start(): void {
    this.ticker = setInterval(() => this.tick(), SEND_EVERY_MS);
  }

  /** Sends nothing (neither new batches nor resends) until released. */
  hold(): void {
    this.held = true;
  }

  release(): void {
    this.held = false;
    this.resend();
  }

  /** No new batches; resends go on until everything is acked. */
  finish(): void {
    this.finishing = true;
  }

  stop(): void {
    clearInterval(this.ticker);
    clearTimeout(this.backoff);
    this.held = true;
  }

  private tick(): void {
    if (this.held || this.finishing || this.inflight.size + this.refused.length >= WINDOW) return;
    const batch = pings(this.driver, this.sentMax + 1, this.sentMax + BATCH);
    this.sentMax += BATCH;
    this.send({ pings: batch, last: this.sentMax, sentWhileDown: false });
  }

  private resend(): void {
    if (this.held || this.backoff) return;
    for (const b of this.refused.splice(0)) this.send(b);
  }

  private send(b: Outstanding): void {
    b.sentWhileDown = this.chaos.down;
    this.inflight.set(b.last, b);
    this.client.sendPings(b.pings);
  }

  private onReply(r: Reply): void {
    const b = r.seq === undefined ? undefined : this.inflight.get(r.seq);
    if (!b) {
      this.violations.push(`a reply that answers no outstanding batch: ${JSON.stringify(r)}`);
      return;
    }
    this.inflight.delete(b.last);
    if (r.type === 'ack') {
      if (b.sentWhileDown) this.violations.push(`ack for seq ${b.last}, sent while Redis was down`);
      this.ackedMax = Math.max(this.ackedMax, b.last);
      return;
    }
    this.errors.push(r);
    if (b.sentWhileDown) this.errorsWhileDown++;
    if (r.code !== 'store_unavailable' && r.code !== 'overloaded') this.violations.push(`non-retryable ${r.code} for seq ${b.last}`);
    this.refused.push(b);
    this.backoff ??= setTimeout(() => {
      this.backoff = undefined;
      this.resend();
    }, RESEND_BACKOFF_MS);
  }
}
