import { TokenService } from '../auth/tokens.js';
import type { VehicleType } from '../domain/vehicle.js';

/**
 * Signs the tokens the simulator's actors present, with the gateways'
 * HEXFLEET_JWT_SECRET: a driver token per driver (with its vehicle claim),
 * one service token for the match API, a customer token per tracked order.
 * Minting locally (rather than taking tokens on the command line) is what
 * lets one command drive thousands of distinct drivers.
 */
export class TokenMinter {
  private readonly tokens: TokenService;
  /** Short enough that a leaked demo token is soon useless, long enough for a day-long soak. */
  private readonly ttlS = 24 * 3600;

  constructor(secret: string) {
    this.tokens = new TokenService(secret);
  }

  driver(driverId: string, vehicle: VehicleType): Promise<string> {
    return this.tokens.sign({ role: 'driver', sub: driverId, vehicle, ttlS: this.ttlS });
  }

  service(): Promise<string> {
    return this.tokens.sign({ role: 'service', sub: 'hexfleet-simulator', ttlS: this.ttlS });
  }

  /** A customer who may watch exactly this order on /v1/track. */
  customer(customerId: string, orderId: string): Promise<string> {
    return this.tokens.sign({ role: 'customer', sub: customerId, orders: [orderId], ttlS: this.ttlS });
  }
}
