import { join } from 'node:path';
import { GatewayProcess } from '../../kit/gateway-process.js';

/**
 * A gateway process for a benchmark (kit/gateway-process.ts): its log goes to
 * `<logDir>/<name>.log` (kept with --keep-logs), and BENCH_GATEWAY_NODE_ARGS
 * adds node flags to it, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
 */
export function startBenchGateway(name: string, env: Record<string, string>, logDir: string): Promise<GatewayProcess> {
  const nodeArgs = (process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(' ').filter(Boolean);
  return GatewayProcess.start({ name, env, logFile: join(logDir, `${name}.log`), nodeArgs });
}
