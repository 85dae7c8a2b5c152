import { GatewayProcess as KitGatewayProcess } from '../../kit/gateway-process.js';
import { TEST_JWT_SECRET } from './gateway-harness.js';
import type { Cleanup } from './redis-gateway.js';

/**
 * `hexfleet serve` in a child process, as deployed (kit/gateway-process.ts,
 * shared with the benchmarks): several share one Redis in the multi-gateway
 * and crash tests, and `kill9` is a real crash (no shutdown hook runs).
 */
export type GatewayProcess = KitGatewayProcess;

/** The tests' call shape over the kit's launcher: test secret and warn-level logs by default, killed by `cleanup`. */
export const GatewayProcess = {
  /**
   * Starts a gateway with the test JWT secret plus `env`, and resolves once it
   * answers /readyz with 200; `port` restarts one where its clients expect it.
   */
  async start(cleanup: Cleanup, env: Record<string, string>, { port }: { port?: number } = {}): Promise<GatewayProcess> {
    const gw = await KitGatewayProcess.start({
      env: { HEXFLEET_JWT_SECRET: TEST_JWT_SECRET, HEXFLEET_LOG_LEVEL: 'warn', ...env },
      ...(port === undefined ? {} : { port }),
    });
    cleanup.add(() => gw.kill9());
    return gw;
  },
};
