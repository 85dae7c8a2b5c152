/**
 * The load generator's ceiling in bench:nearby-http: a uWebSockets.js server
 * (the gateway's HTTP stack) that answers every GET at once with one fixed
 * body, a real nearby answer captured from the gateway. Driven like a
 * hexfleet side, it shows what the load generator sustains when the server
 * costs next to nothing, and what one request costs the load generator.
 *
 *   config { body } ─▶ listens on a free port ─▶ "listening" { port }
 *   exit            ─▶ exit
 */
import type { Message } from '../lib/worker.js';
import { serveParent, toParent } from '../lib/worker-ipc.js';
import { loadUws } from '../../src/runtime/load-uws.js';

serveParent((m: Message) => {
  if (m.type === 'config') {
    const body = (m as Message & { body: string }).body;
    const { uws } = loadUws(false);
    uws
      .App()
      .get('/*', (res) => {
        res.cork(() => {
          res.writeHeader('content-type', 'application/json');
          res.end(body);
        });
      })
      .listen('127.0.0.1', 0, (socket) => {
        if (!socket) throw new Error('echo server: cannot listen');
        toParent({ type: 'listening', port: uws.us_socket_local_port(socket) } as Message);
      });
  } else if (m.type === 'exit') {
    process.exit(0);
  }
});
