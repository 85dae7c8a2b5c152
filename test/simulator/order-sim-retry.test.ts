import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { BERLIN_BBOX, CityArea } from '../../src/simulator/city-area.js';
import { MatchApi } from '../../src/simulator/match-api.js';
import { OrderSim } from '../../src/simulator/order-sim.js';
import { Rng } from '../../src/simulator/rng.js';
import { SimStats } from '../../src/simulator/sim-stats.js';
import { TokenMinter } from '../../src/simulator/token-minter.js';
import { waitFor } from '../support/wait-for.js';

/**
 * The simulator's order service when a match is refused with a retryable
 * answer (503 store_unavailable: the gateway's write may have been stored all
 * the same, see docs/dispatch.md "Retry with the same order id"). The peer is
 * an HTTP server that answers as the gateway does in a Redis failover, which
 * no healthy gateway can be made to do on cue; the gateway's side of it (the
 * retry returns the stored offer, matches come back) is tested under a real
 * Sentinel failover in test/backend/sentinel-failover.sentinel.test.ts.
 */

interface Call {
  method: string;
  path: string;
  orderId: string | undefined;
}

const STORE_UNAVAILABLE = { code: 'store_unavailable', message: 'the location store did not confirm the write' };

let server: Server | undefined;
let sim: OrderSim | undefined;

afterEach(async () => {
  await sim?.close();
  sim = undefined;
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

/** A peer answering each POST /v1/match by `answer(n)` (n: the how-many-th call for that order id, from 1); cancels get 200. */
async function peer(answer: (n: number) => { status: number; body: unknown }): Promise<{ calls: Call[]; root: string }> {
  const calls: Call[] = [];
  const perOrder = new Map<string, number>();
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '';
      let orderId: string | undefined;
      let reply = { status: 200, body: {} as unknown };
      if (path === '/v1/match') {
        orderId = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { orderId: string }).orderId;
        const n = (perOrder.get(orderId) ?? 0) + 1;
        perOrder.set(orderId, n);
        reply = answer(n);
      } else {
        orderId = decodeURIComponent(/^\/v1\/orders\/([^/]+)\//.exec(path)?.[1] ?? '');
      }
      calls.push({ method: req.method ?? '', path, orderId });
      res.writeHead(reply.status, { 'content-type': 'application/json' }).end(JSON.stringify(reply.body));
    });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return { calls, root: `http://127.0.0.1:${(server!.address() as AddressInfo).port}` };
}

function startSim(root: string, stats: SimStats): OrderSim {
  const s = new OrderSim({
    ordersPerMinute: 60, maxOpenOrders: 10, maxTracked: 0, wsRoots: [], runId: 'retry', area: new CityArea(BERLIN_BBOX),
    rng: new Rng(7), stats, api: new MatchApi([root], 'not-checked-by-this-peer'), minter: new TokenMinter('x'.repeat(32)), release: () => {},
  });
  s.start();
  return s;
}

describe('the simulator\'s order service asks a refused match again with the same order id', () => {
  it('a 503 then a 200: the same order id twice, and the order is matched', async () => {
    const { calls, root } = await peer((n) => (n === 1 ? { status: 503, body: STORE_UNAVAILABLE } : { status: 200, body: { state: 'offered', driverId: 'd1' } }));
    const stats = new SimStats();
    sim = startSim(root, stats);
    await waitFor(() => stats.matchOk >= 1, { what: 'an order matched' });
    const first = calls.find((c) => c.path === '/v1/match')!.orderId;
    expect(calls.filter((c) => c.orderId === first).map((c) => c.path)).toEqual(['/v1/match', '/v1/match']);
    expect(stats.matchRetryable).toBe(0);
  });

  it('refused every time: asked three times with the same id, then given up and cancelled', async () => {
    const { calls, root } = await peer(() => ({ status: 503, body: STORE_UNAVAILABLE }));
    const stats = new SimStats();
    sim = startSim(root, stats);
    await waitFor(() => stats.matchRetryable >= 1, { what: 'an order given up' });
    const first = calls.find((c) => c.path === '/v1/match')!.orderId!;
    await waitFor(() => calls.some((c) => c.orderId === first && c.path.endsWith('/cancel')), { what: 'the given-up order cancelled' });
    expect(calls.filter((c) => c.orderId === first).map((c) => c.path))
      .toEqual(['/v1/match', '/v1/match', '/v1/match', `/v1/orders/${encodeURIComponent(first)}/cancel`]);
    expect(stats.matchOk).toBe(0);
  });
});
