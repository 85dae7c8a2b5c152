import { TokenService } from '../auth/tokens.js';
import type { VehicleType } from '../domain/vehicle.js';

/**
 * Signs the tokens the simulator's actors present, with the gateways'
 * HEXFLEET_JWT_SECRET, each with exp, iat and a jti: driver tokens per driver
 * (with its vehicle claim, minted again as they near expiry),
 * one service token for the match API, a customer token per tracked order.
 * Minting locally (rather than taking tokens on the command line) is what
 * lets one command drive thousands of distinct drivers.
 */
export class TokenMinter {
  private readonly tokens: TokenService;
  /** Service and customer tokens: short enough that a leaked demo token is soon useless, long enough for a day-long soak (and within every role's default longest lifetime). */
  private readonly ttlS = 24 * 3600;
  /** Driver tokens are minted again by the SDK's token function before they expire (an auth frame extends the socket): an hour each. */
  private readonly driverTtlS = 3600;

  constructor(secret: string) {
    this.tokens = new TokenService(secret);
  }

  driver(driverId: string, vehicle: VehicleType): Promise<string> {
    return this.tokens.sign({ role: 'driver', sub: driverId, vehicle, ttlS: this.driverTtlS });
  }

  service(): Promise<string> {
    return this.tokens.sign({ role: 'service', sub: 'hexfleet-simulator', ttlS: this.ttlS });
  }

  /** A customer who may watch exactly this order on /v1/track. */
  customer(customerId: string, orderId: string): Promise<string> {
    return this.tokens.sign({ role: 'customer', sub: customerId, orders: [orderId], ttlS: this.ttlS });
  }
}
