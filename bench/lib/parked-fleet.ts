import type { DriverBatch, DriverStore } from '../../src/geo/driver-store.js';
import { type Area, driverId, pointIn } from './driver-sim.js';
import { mulberry32 } from '../../src/simulator/rng.js';

/** Drivers per applyBatches call while loading: one Lua call of a few hundred kB. */
const LOAD_CHUNK = 2000;

/**
 * A fleet parked uniformly over an area: the same ids and positions every
 * run (seeded), so the geo store and the GEO key of the GEOSEARCH baseline
 * hold exactly the same drivers.
 */
export class ParkedFleet {
  readonly ids: string[];
  /** Degrees, already rounded to 1e-7 as the store keeps them. */
  readonly lat: Float64Array;
  readonly lng: Float64Array;

  constructor(
    readonly area: Area,
    readonly size: number,
    seed: number,
    tag = 'drm',
  ) {
    const rand = mulberry32(seed);
    this.ids = new Array<string>(size);
    this.lat = new Float64Array(size);
    this.lng = new Float64Array(size);
    for (let i = 0; i < size; i++) {
      const p = pointIn(area, rand);
      this.ids[i] = driverId(tag, i);
      this.lat[i] = p.lat;
      this.lng[i] = p.lng;
    }
  }

  /**
   * Writes every driver through the store's own write path (one ping each,
   * status available, ts = now), as the gateway would have after each
   * driver's first ping. Returns the drivers applied.
   */
  async load(store: DriverStore, now: number): Promise<number> {
    let applied = 0;
    for (let first = 0; first < this.size; first += LOAD_CHUNK) {
      const batches: DriverBatch[] = [];
      for (let i = first; i < Math.min(this.size, first + LOAD_CHUNK); i++) {
        batches.push({ driverId: this.ids[i]!, pings: [{ seq: 1, lat: this.lat[i]!, lng: this.lng[i]!, ts: now, status: 'available' }] });
      }
      for (const o of await store.applyBatches(batches, now)) applied += o.applied;
    }
    return applied;
  }
}
