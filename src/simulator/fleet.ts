import { VEHICLE_TYPES } from '../domain/vehicle.js';
import type { CityArea } from './city-area.js';
import { DriverSim, VEHICLE_MIX } from './driver-sim.js';
import type { Rng } from './rng.js';
import type { SimGauges, SimStats } from './sim-stats.js';
import type { TokenMinter } from './token-minter.js';

/** Every driver pings once a second (a typical courier app's GPS interval). */
const PING_INTERVAL_MS = 1_000;
/** The fleet clock: drivers are spread over ten slots of each second, so pings arrive evenly, not in a burst. */
const TICK_MS = 100;
/** New connections per second at start-up: 2,000 drivers come online over 4 s instead of one thundering herd. */
const RAMP_PER_SECOND = 500;

export interface FleetOptions {
  drivers: number;
  /** Gateway roots, `ws://host:port`. */
  wsRoots: readonly string[];
  runId: string;
  acceptProbability: number;
  area: CityArea;
  rng: Rng;
  stats: SimStats;
  minter: TokenMinter;
  /** PEM CA trusted for wss:// (`--ca`). */
  ca?: string;
  onAccepted: (orderId: string, driverId: string) => void;
  onDelivered: (orderId: string, driverId: string) => void;
}

/**
 * All simulated drivers and the one timer that moves them: each driver has
 * its slot in the second and is ticked once per second in it. Connections
 * open gradually (RAMP_PER_SECOND), drivers on a break reconnect by
 * themselves.
 */
export class Fleet {
  private readonly drivers: DriverSim[] = [];
  private readonly byId = new Map<string, DriverSim>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private connected = 0;
  private slot = 0;
  private startedAt = 0;

  private constructor() {}

  /** Creates the drivers (and signs their tokens); call `start` to bring them online. */
  static async create(o: FleetOptions): Promise<Fleet> {
    const fleet = new Fleet();
    const n = o.wsRoots.length;
    for (let i = 0; i < o.drivers; i++) {
      const id = `${o.runId}-d${i}`;
      const vehicle = o.rng.weighted(VEHICLE_TYPES, (v) => VEHICLE_MIX[v]);
      // Each driver starts on its own gateway and fails over to the others in turn.
      const urls = Array.from({ length: n }, (_, k) => `${o.wsRoots[(i + k) % n]!}/v1/driver`);
      const driver = new DriverSim(id, vehicle, {
        area: o.area,
        rng: o.rng,
        stats: o.stats,
        urls,
        // A function: the SDK asks it for a fresh token before each one expires and extends the socket in band.
        token: () => o.minter.driver(id, vehicle),
        acceptProbability: o.acceptProbability,
        ...(o.ca === undefined ? {} : { ca: o.ca }),
        onAccepted: o.onAccepted,
        onDelivered: o.onDelivered,
      });
      fleet.drivers.push(driver);
      fleet.byId.set(id, driver);
    }
    return fleet;
  }

  start(): void {
    this.startedAt = Date.now();
    this.timer = setInterval(() => this.tick(), TICK_MS);
  }

  /** The order of `driverId` ended: it is free again. */
  release(driverId: string, orderId: string): void {
    this.byId.get(driverId)?.release(orderId);
  }

  gauges(): Pick<SimGauges, 'driversOpen' | 'driversOffline' | 'bufferDepth' | 'bufferDropped'> {
    let driversOpen = 0;
    let driversOffline = 0;
    let bufferDepth = 0;
    let bufferDropped = 0;
    for (const d of this.drivers) {
      if (d.offline) driversOffline++;
      const c = d.client;
      if (!c) continue;
      if (c.state === 'open') driversOpen++;
      bufferDepth += c.bufferDepth;
      bufferDropped += c.dropped;
    }
    return { driversOpen, driversOffline, bufferDepth, bufferDropped };
  }

  /** Stops the clock and closes every client (their sockets with them). */
  async close(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await Promise.all(this.drivers.map((d) => d.close().catch(() => undefined)));
  }

  private tick(): void {
    const now = Date.now();
    const due = Math.min(this.drivers.length, Math.floor(((now - this.startedAt) / 1000) * RAMP_PER_SECOND) + 1);
    while (this.connected < due) this.drivers[this.connected++]!.connect();
    const slots = PING_INTERVAL_MS / TICK_MS;
    const slot = this.slot++ % slots;
    for (let i = slot; i < this.connected; i += slots) this.drivers[i]!.tick(now);
  }
}
