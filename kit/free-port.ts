import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** A free TCP port on loopback, chosen by the OS (from the ephemeral range). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/**
 * A free loopback port BELOW the ephemeral range, for a server that clients
 * reconnect to (a gateway restarted on its port). A client retrying an
 * ephemeral port can, now and then, get that very port as its own source
 * port and connect to itself (TCP simultaneous open); and no outgoing socket
 * of another process can take a port outside that range meanwhile.
 */
export async function unusedFixedPort(): Promise<number> {
  let low = 32768;
  try {
    low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  } catch {
    // Not Linux: the usual default bound is good enough.
  }
  // 12,000 ports under the range (at least 1,000), never the privileged ones.
  const from = Math.max(1024, Math.min(low, 32768) - 12_000);
  const to = Math.max(from + 1000, low - 1);
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = from + Math.floor(Math.random() * (to - from));
    const free = await new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error(`no free port in [${from}, ${to})`);
}

/**
 * A loopback port p below the ephemeral range whose cluster bus port
 * p + 10000 is free too, and also below it: a Redis Cluster node listens on both.
 */
export async function clusterNodePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 2700);
    if ((await portIsFree(port)) && (await portIsFree(port + 10_000))) return port;
  }
  throw new Error('no free port pair (p, p + 10000) in [20000, 22700)');
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}
