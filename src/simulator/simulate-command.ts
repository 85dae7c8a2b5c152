import { ConfigError } from '../config/load-config.js';
import { CityArea } from './city-area.js';
import { Fleet } from './fleet.js';
import { httpRootOf, MatchApi } from './match-api.js';
import { OrderSim } from './order-sim.js';
import { Progress } from './progress.js';
import { Rng } from './rng.js';
import { SIMULATE_HELP, parseSimulateArgs } from './simulate-options.js';
import { SimStats } from './sim-stats.js';
import { TokenMinter } from './token-minter.js';

/** A second Ctrl-C, or a shutdown stuck this long, exits at once. */
const FORCE_EXIT_MS = 15_000;

/**
 * `hexfleet simulate`: runs the fleet and the order simulation until
 * `--duration` or SIGINT/SIGTERM, then cancels open orders, closes every
 * socket and prints the summary. Resolves with the exit status (0, or 1 when
 * no ping was ever acked: nothing was reachable); a usage error throws
 * `ConfigError` (exit 2).
 */
export async function runSimulate(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const o = parseSimulateArgs(args);
  if (o === 'help') {
    process.stdout.write(SIMULATE_HELP);
    return 0;
  }
  const secret = env.HEXFLEET_JWT_SECRET ?? '';
  if (secret.length < 32) throw new ConfigError('HEXFLEET_JWT_SECRET (the gateways\' secret, at least 32 characters) is required: the simulator signs its drivers\', service and customer tokens with it');
  const minter = new TokenMinter(secret);
  const rng = new Rng(o.seed);
  const stats = new SimStats();
  const area = new CityArea(o.bbox);
  // One id per run: a second run against the same gateways gets new drivers and orders.
  const runId = `sim${o.seed.toString(36)}${Date.now().toString(36).slice(-4)}`;
  const api = new MatchApi(o.urls.map(httpRootOf), await minter.service(), o.ca);
  const ca = o.ca === undefined ? {} : { ca: o.ca };

  let fleet: Fleet | undefined;
  const orders: OrderSim = new OrderSim({
    ordersPerMinute: o.ordersPerMinute,
    maxOpenOrders: o.maxOpenOrders,
    maxTracked: o.maxTracked,
    wsRoots: o.urls,
    runId,
    area,
    rng,
    stats,
    api,
    minter,
    ...ca,
    release: (driverId, orderId) => fleet?.release(driverId, orderId),
  });
  fleet = await Fleet.create({
    drivers: o.drivers,
    wsRoots: o.urls,
    runId,
    acceptProbability: o.acceptProbability,
    area,
    rng,
    stats,
    minter,
    ...ca,
    onAccepted: (orderId, driverId) => orders.onAccepted(orderId, driverId),
    onDelivered: (orderId) => orders.onDelivered(orderId),
  });
  const theFleet = fleet;
  const progress = new Progress(stats, () => ({ ...theFleet.gauges(), openOrders: orders.openOrders, openSubscriptions: orders.openSubscriptions }));

  process.stderr.write(
    `[sim] ${o.drivers} drivers, ${o.ordersPerMinute} orders/min against ${o.urls.join(', ')}; bbox ${o.bbox.join(',')}; seed ${o.seed}; ` +
      `${o.durationS === undefined ? 'until Ctrl-C' : `for ${o.durationS} s`}\n`,
  );
  const startedAt = Date.now();
  theFleet.start();
  orders.start();
  const progressTimer = setInterval(() => process.stderr.write(progress.line() + '\n'), o.progressIntervalS * 1000);

  await new Promise<void>((resolve) => {
    const durationTimer = o.durationS === undefined ? undefined : setTimeout(stop, o.durationS * 1000);
    let stopping = false;
    function stop(): void {
      if (stopping) {
        process.stderr.write('[sim] forced exit\n');
        process.exit(130);
      }
      stopping = true;
      clearTimeout(durationTimer);
      resolve();
    }
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });

  const elapsedS = (Date.now() - startedAt) / 1000;
  clearInterval(progressTimer);
  process.stderr.write('[sim] stopping: cancelling open orders, closing sockets\n');
  // The SDK buffers as they were at the end (closing the clients empties them).
  const gauges = { ...theFleet.gauges(), openOrders: orders.openOrders, openSubscriptions: orders.openSubscriptions };
  const force = setTimeout(() => {
    process.stderr.write('[sim] shutdown took too long, exiting\n');
    process.stdout.write(progress.summary(elapsedS, gauges));
    process.exit(1);
  }, FORCE_EXIT_MS);
  force.unref();
  // Orders first: their cancellations free drivers while the drivers are still connected.
  await orders.close();
  await theFleet.close();
  api.close();
  clearTimeout(force);
  process.stdout.write(progress.summary(elapsedS, gauges));
  return stats.pingsAcked > 0 ? 0 : 1;
}
