import { requireId } from '../protocol/id-limits.js';
import { createHash } from 'node:crypto';
import { HexfleetError } from '../protocol/error-codes.js';
import type { OrderRequest, Point } from './order.js';
import { isVehicleType, type VehicleType } from '../domain/vehicle.js';


function bad(field: string, why: string): HexfleetError {
  return new HexfleetError('invalid_body', `${field} ${why}`);
}

function point(v: unknown, field: string): Point {
  if (typeof v !== 'object' || v === null) throw bad(field, 'must be an object {"lat":…,"lng":…}');
  const { lat, lng } = v as Record<string, unknown>;
  if (typeof lat !== 'number' || !Number.isFinite(lat) || lat < -90 || lat > 90) throw bad(`${field}.lat`, 'must be a number in [-90, 90]');
  if (typeof lng !== 'number' || !Number.isFinite(lng) || lng < -180 || lng > 180) throw bad(`${field}.lng`, 'must be a number in [-180, 180]');
  return { lat, lng };
}

/**
 * Validates a `POST /v1/match` body; every failure names the field. Unknown
 * fields are ignored, so older gateways accept newer clients.
 */
export function parseMatchRequest(body: unknown, limits: { defaultRadiusM: number; maxRadiusM: number }): OrderRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw bad('body', 'must be a JSON object');
  const b = body as Record<string, unknown>;
  const orderId = requireId('orderId', b.orderId, 'invalid_body');
  const request: OrderRequest = { orderId, pickup: point(b.pickup, 'pickup'), radiusM: limits.defaultRadiusM, mode: 'immediate' };
  if (b.dropoff !== undefined) request.dropoff = point(b.dropoff, 'dropoff');
  if (b.radiusM !== undefined) {
    if (typeof b.radiusM !== 'number' || !Number.isFinite(b.radiusM) || b.radiusM <= 0 || b.radiusM > limits.maxRadiusM) {
      throw bad('radiusM', `must be a number in (0, ${limits.maxRadiusM}]`);
    }
    request.radiusM = b.radiusM;
  }
  if (b.requirements !== undefined) {
    if (typeof b.requirements !== 'object' || b.requirements === null || Array.isArray(b.requirements)) throw bad('requirements', 'must be an object');
    const vehicle = (b.requirements as Record<string, unknown>).vehicle;
    if (vehicle !== undefined) {
      if (!Array.isArray(vehicle) || !vehicle.every(isVehicleType)) throw bad('requirements.vehicle', 'must be an array of walk, bike, scooter, car');
      // An empty list requires nothing: the same request as no list (and the same hash).
      if (vehicle.length > 0) request.requirements = { vehicle: [...new Set(vehicle as VehicleType[])].sort() };
    }
  }
  if (b.mode !== undefined) {
    if (b.mode !== 'immediate' && b.mode !== 'batch') throw bad('mode', 'must be "immediate" or "batch"');
    request.mode = b.mode;
  }
  return request;
}

/** SHA-256 of the request in a canonical form: equal requests hash equal whatever their key order. */
export function requestHash(r: OrderRequest): string {
  const canonical = JSON.stringify([r.orderId, r.pickup.lat, r.pickup.lng, r.dropoff?.lat ?? null, r.dropoff?.lng ?? null, r.radiusM, r.requirements?.vehicle ?? null, r.mode]);
  return createHash('sha256').update(canonical).digest('hex');
}
