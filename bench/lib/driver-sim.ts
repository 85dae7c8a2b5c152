import { VEHICLE_SPEEDS_MS } from '../../src/domain/vehicle.js';

/**
 * Synthetic drivers: deterministic (seeded, see src/simulator/rng.ts)
 * positions that move plausibly inside a square area, and the pings a driver
 * app would send about them.
 */

/** A square area around a centre, `halfSideM` metres each way. */
export interface Area {
  name: string;
  lat: number;
  lng: number;
  halfSideM: number;
}

/** The city box of the throughput and latency scenarios: 30 × 30 km around central Berlin. */
export const CITY_BOX: Area = { name: 'Berlin', lat: 52.52, lng: 13.405, halfSideM: 15_000 };

/** 50 large metro areas on every inhabited continent (centres), for the memory scenario. */
export const METRO_CENTRES: readonly [string, number, number][] = [
  ['Tokyo', 35.6762, 139.6503], ['Delhi', 28.6139, 77.209], ['Shanghai', 31.2304, 121.4737],
  ['São Paulo', -23.5505, -46.6333], ['Mexico City', 19.4326, -99.1332], ['Cairo', 30.0444, 31.2357],
  ['Mumbai', 19.076, 72.8777], ['Beijing', 39.9042, 116.4074], ['Dhaka', 23.8103, 90.4125],
  ['Osaka', 34.6937, 135.5023], ['New York', 40.7128, -74.006], ['Karachi', 24.8607, 67.0011],
  ['Buenos Aires', -34.6037, -58.3816], ['Istanbul', 41.0082, 28.9784], ['Kolkata', 22.5726, 88.3639],
  ['Manila', 14.5995, 120.9842], ['Lagos', 6.5244, 3.3792], ['Rio de Janeiro', -22.9068, -43.1729],
  ['Guangzhou', 23.1291, 113.2644], ['Los Angeles', 34.0522, -118.2437], ['Moscow', 55.7558, 37.6173],
  ['Paris', 48.8566, 2.3522], ['Bogotá', 4.711, -74.0721], ['Jakarta', -6.2088, 106.8456],
  ['Lima', -12.0464, -77.0428], ['Bangkok', 13.7563, 100.5018], ['Seoul', 37.5665, 126.978],
  ['London', 51.5074, -0.1278], ['Tehran', 35.6892, 51.389], ['Chicago', 41.8781, -87.6298],
  ['Ho Chi Minh City', 10.8231, 106.6297], ['Bengaluru', 12.9716, 77.5946], ['Hong Kong', 22.3193, 114.1694],
  ['Riyadh', 24.7136, 46.6753], ['Singapore', 1.3521, 103.8198], ['Santiago', -33.4489, -70.6693],
  ['Madrid', 40.4168, -3.7038], ['Toronto', 43.6532, -79.3832], ['Berlin', 52.52, 13.405],
  ['Sydney', -33.8688, 151.2093], ['Johannesburg', -26.2041, 28.0473], ['Nairobi', -1.2921, 36.8219],
  ['Dubai', 25.2048, 55.2708], ['Melbourne', -37.8136, 144.9631], ['San Francisco', 37.7749, -122.4194],
  ['Warsaw', 52.2297, 21.0122], ['Rome', 41.9028, 12.4964], ['Amsterdam', 52.3676, 4.9041],
  ['Kuala Lumpur', 3.139, 101.6869], ['Auckland', -36.8485, 174.7633],
];

/** The metro areas of the memory scenario, each `sideKm` × `sideKm`. */
export function metroAreas(sideKm: number): Area[] {
  return METRO_CENTRES.map(([name, lat, lng]) => ({ name, lat, lng, halfSideM: (sideKm * 1000) / 2 }));
}

/** One ping as the driver app sends it (the wire shape of `{type:'pings'}` frames). */
export interface WirePing {
  seq: number;
  lat: number;
  lng: number;
  ts: number;
  acc: number;
  spd: number;
  hdg: number;
}

const M_PER_DEG_LAT = 111_320;
/** The benchmark's drivers drive cars: anywhere from standing still to a car's top city speed (20 m/s, 72 km/h). */
const MAX_SPEED = VEHICLE_SPEEDS_MS.car.top;

const round7 = (v: number): number => Math.round(v * 1e7) / 1e7;

/**
 * One driver moving in an area: heading wanders by up to ±15° per step, speed
 * by up to ±1 m/s, and it bounces off the edges of the box. Local metres from
 * the centre keep the arithmetic flat (a 30 km box is small enough).
 */
export class DriverSim {
  private x: number;
  private y: number;
  private hdg: number;
  private spd: number;
  private seq = 0;
  private lastTs = 0;
  private readonly mPerDegLng: number;

  constructor(
    readonly id: string,
    private readonly area: Area,
    private readonly rand: () => number,
  ) {
    this.x = (rand() * 2 - 1) * area.halfSideM;
    this.y = (rand() * 2 - 1) * area.halfSideM;
    this.hdg = rand() * 360;
    this.spd = rand() * MAX_SPEED;
    this.mPerDegLng = M_PER_DEG_LAT * Math.cos((area.lat * Math.PI) / 180);
  }

  /**
   * The next `n` pings: each one `dtS` seconds of driving after the previous,
   * with `ts` ending at `now` and `tsStepMs` apart, always strictly after the
   * previous ping's ts (so each ping is applied and the last one is stored).
   */
  nextPings(n: number, dtS: number, tsStepMs: number, now: number): WirePing[] {
    const out: WirePing[] = new Array(n);
    for (let k = 0; k < n; k++) {
      this.step(dtS);
      const ts = Math.max(this.lastTs + 1, Math.round(now - (n - 1 - k) * tsStepMs));
      this.lastTs = ts;
      out[k] = {
        seq: ++this.seq,
        lat: round7(this.area.lat + this.y / M_PER_DEG_LAT),
        lng: round7(this.area.lng + this.x / this.mPerDegLng),
        ts,
        acc: 3 + Math.floor(this.rand() * 18),
        spd: Math.round(this.spd * 10) / 10,
        hdg: Math.floor(this.hdg),
      };
    }
    return out;
  }

  private step(dtS: number): void {
    this.hdg = (this.hdg + (this.rand() - 0.5) * 30 + 360) % 360;
    this.spd = Math.min(MAX_SPEED, Math.max(0, this.spd + (this.rand() - 0.5) * 2));
    const d = this.spd * dtS;
    const rad = (this.hdg * Math.PI) / 180;
    this.x += d * Math.sin(rad);
    this.y += d * Math.cos(rad);
    const h = this.area.halfSideM;
    if (Math.abs(this.x) > h) {
      this.x = Math.sign(this.x) * (2 * h - Math.abs(this.x));
      this.hdg = 360 - this.hdg;
    }
    if (Math.abs(this.y) > h) {
      this.y = Math.sign(this.y) * (2 * h - Math.abs(this.y));
      this.hdg = (540 - this.hdg) % 360;
    }
    if (this.hdg >= 360) this.hdg -= 360;
  }
}

/** Driver ids as a backend would issue them: a short tag and a 7-digit number (`drv0001234`, 10 ASCII chars with a 3-letter tag). */
export function driverId(tag: string, index: number): string {
  return tag + String(index).padStart(7, '0');
}

/** A single parked position uniformly inside an area (memory scenario: one ping per driver). */
export function pointIn(area: Area, rand: () => number): { lat: number; lng: number } {
  const x = (rand() * 2 - 1) * area.halfSideM;
  const y = (rand() * 2 - 1) * area.halfSideM;
  return {
    lat: round7(area.lat + y / M_PER_DEG_LAT),
    lng: round7(area.lng + x / (M_PER_DEG_LAT * Math.cos((area.lat * Math.PI) / 180))),
  };
}
