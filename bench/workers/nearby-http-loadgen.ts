/**
 * Load generator of bench:nearby-http, in its own process: N connections to
 * one side (hexfleet over HTTP, Tile38 or Redis over RESP), each with one
 * query in flight (closed loop), for a warm-up window and then a measured
 * one. Forked by bench/scenarios/nearby-http-rounds.ts; the messages are in
 * nearby-http-messages.ts.
 *
 * Query points come from one seeded generator shared by the connections, in
 * the order queries are sent, so every side answers the same sequence of
 * points in a window of the same seed. Latency is send → whole answer
 * received, per query, in µs; the window's clock stops at the last answer,
 * so no query in flight is left out.
 *
 *   HTTP  one socket per connection (nearby-http-client.ts)
 *   RESP  one socket per connection (nearby-http-resp-client.ts), or with
 *         `respClient: 'ioredis'` one ioredis connection each, `call`
 *         without auto-pipelining
 */
import { Redis } from 'ioredis';
import { type Area, pointIn } from '../lib/driver-sim.js';
import { Histogram } from '../lib/histogram.js';
import type { Message } from '../lib/worker.js';
import { serveParent, toParent } from '../lib/worker-ipc.js';
import { mulberry32 } from '../../src/simulator/rng.js';
import { HttpConnection } from './nearby-http-client.js';
import type { LoadConfig, LoadResult, LoadRun, LoadTarget, RespClientKind } from './nearby-http-messages.js';
import { arrayLength, errorText, RespConnection } from './nearby-http-resp-client.js';

/** How one connection asks one query: `done` gets an error kind, or the number of drivers in the answer. */
interface Asker {
  ask(lat: number, lng: number, done: (error: string | undefined, returned: number) => void): void;
  close(): void;
}

/** The JSON key every driver of a hexfleet answer carries once: counting it counts drivers without parsing. */
const DRIVER_KEY = Buffer.from('"driverId"');
/** A warm-up window's points: another stretch of the same kind of sequence, not the measured one. */
const WARMUP_SEED_XOR = 0x5eed;

let config: LoadConfig;

serveParent(async (m: Message) => {
  if (m.type === 'config') {
    config = m as LoadConfig;
    toParent({ type: 'ready' });
  } else if (m.type === 'run') {
    const run = m as LoadRun;
    const askers = await Promise.all(Array.from({ length: run.connections }, (_, i) => openAsker(run.target, run.respClient, i)));
    try {
      if (run.warmupS > 0) await runWindow(askers, run.warmupS, run.seed ^ WARMUP_SEED_XOR);
      toParent({ type: 'measuring' });
      const result = await runWindow(askers, run.durationS, run.seed);
      toParent({ type: 'measured' });
      toParent(result);
    } finally {
      for (const a of askers) a.close();
    }
  } else if (m.type === 'exit') {
    process.exit(0);
  }
});

/** The asker of connection number `i` of a run. */
async function openAsker(target: LoadTarget, respClient: RespClientKind, i: number): Promise<Asker> {
  const { radiusM, limit } = config;
  if (target.kind === 'http') {
    const headers = { authorization: `Bearer ${target.token}` };
    const port = target.ports[i % target.ports.length]!;
    let conn = await HttpConnection.open(port, headers);
    const tail = `&radius=${radiusM}&limit=${limit}`;
    return {
      ask(lat, lng, done) {
        const send = (): void =>
          conn.get(`/v1/drivers/nearby?lat=${lat}&lng=${lng}${tail}`, (err, status, body) => {
            if (err) return done(`socket: ${err.message}`, 0);
            if (status !== 200) return done(`HTTP ${status}`, 0);
            let n = 0;
            for (let at = body.indexOf(DRIVER_KEY); at >= 0; at = body.indexOf(DRIVER_KEY, at + DRIVER_KEY.length)) n++;
            done(undefined, n);
          });
        if (conn.usable) return send();
        // The server closed the previous socket (counted as an error when it happened): a new one.
        HttpConnection.open(port, headers).then(
          (c) => {
            conn = c;
            send();
          },
          (err: Error) => setTimeout(() => done(`connect: ${err.message}`, 0), 100),
        );
      },
      close: () => conn.close(),
    };
  }
  const radius = String(radiusM);
  const count = String(limit);
  const command: (lat: number, lng: number) => string[] =
    target.kind === 'tile38'
      ? (lat, lng) => ['NEARBY', target.key, 'LIMIT', count, 'POINT', String(lat), String(lng), radius]
      : (lat, lng) => ['GEOSEARCH', target.key, 'FROMLONLAT', String(lng), String(lat), 'BYRADIUS', radius, 'm', 'ASC', 'COUNT', count, 'WITHCOORD', 'WITHDIST'];
  // Tile38 answers [cursor, [[id, object], …]]; GEOSEARCH [[id, dist, [lng, lat]], …].
  const itemsAt = target.kind === 'tile38' ? [1] : [];
  if (respClient === 'ioredis') return ioredisAsker(target.port, command, itemsAt);
  let conn = await RespConnection.open(target.port);
  return {
    ask(lat, lng, done) {
      const send = (): void =>
        conn.send(command(lat, lng), (err, reply) => {
          if (err) return done(`socket: ${err.message}`, 0);
          const error = errorText(reply);
          if (error !== undefined) return done(`RESP: ${error.slice(0, 80)}`, 0);
          const n = arrayLength(reply, itemsAt);
          return Number.isNaN(n) ? done('RESP: not the expected array', 0) : done(undefined, n);
        });
      if (conn.usable) return send();
      RespConnection.open(target.port).then(
        (c) => {
          conn = c;
          send();
        },
        (err: Error) => setTimeout(() => done(`connect: ${err.message}`, 0), 100),
      );
    },
    close: () => conn.close(),
  };
}

/** The RESP side through ioredis `call`: what a Node.js application would use. */
async function ioredisAsker(port: number, command: (lat: number, lng: number) => string[], itemsAt: number[]): Promise<Asker> {
  const redis = new Redis({
    host: '127.0.0.1',
    port,
    // Tile38 answers neither INFO nor CLIENT SETINFO the way Redis does; nothing here needs them.
    enableReadyCheck: false,
    enableAutoPipelining: false,
    maxRetriesPerRequest: 0,
    lazyConnect: true,
  });
  redis.on('error', () => undefined); // failures reach the caller through each command's promise
  await redis.connect();
  const itemsOf = (reply: unknown): number => (itemsAt.length === 0 ? (reply as unknown[]).length : ((reply as unknown[])[1] as unknown[]).length);
  return {
    ask(lat, lng, done) {
      const [name, ...args] = command(lat, lng);
      redis.call(name!, ...args).then(
        (reply) => done(undefined, itemsOf(reply)),
        (err: Error) => done(`RESP: ${err.message.slice(0, 80)}`, 0),
      );
    },
    close: () => redis.disconnect(),
  };
}

/** Every connection asks in a closed loop until `seconds` have passed; resolves when the last answer is in. */
function runWindow(askers: Asker[], seconds: number, seed: number): Promise<LoadResult> {
  const rand = mulberry32(seed);
  const area: Area = config.area;
  const latency = new Histogram();
  const errors: Record<string, number> = {};
  let queries = 0;
  let ok = 0;
  let returned = 0;
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const deadline = start + seconds * 1000;
  return new Promise((resolve) => {
    let active = askers.length;
    const finish = (): void => {
      const wallS = (performance.now() - start) / 1000;
      const cpu = process.cpuUsage(cpu0);
      resolve({ type: 'result', queries, seconds: wallS, ok, returned, latency: latency.toJSON(), errors, cpuS: (cpu.user + cpu.system) / 1e6 });
    };
    const loop = (asker: Asker): void => {
      if (performance.now() >= deadline) {
        if (--active === 0) finish();
        return;
      }
      const p = pointIn(area, rand);
      const sentAt = performance.now();
      asker.ask(p.lat, p.lng, (error, n) => {
        queries++;
        if (error === undefined) {
          // Latency of answers only: a failure can be quicker than any answer.
          latency.record(performance.now() - sentAt);
          ok++;
          returned += n;
        } else {
          errors[error] = (errors[error] ?? 0) + 1;
        }
        loop(asker);
      });
    };
    for (const a of askers) loop(a);
  });
}
