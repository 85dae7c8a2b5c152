// A customer app: follows one order, its courier's position and its state.
//   HEXFLEET_URL=http://localhost:8080 ORDER_ID=o-1 \
//   CUSTOMER_TOKEN=$(npx hexfleet token --role customer --sub c1 --orders o-1) \
//   node customer-app.mjs
import { TrackingClient } from '@hexfleet/sdk';

const base = new URL(process.env.HEXFLEET_URL ?? 'http://localhost:8080');
base.protocol = base.protocol === 'https:' ? 'wss:' : 'ws:';
const orderId = process.env.ORDER_ID ?? 'o-1';

const tracking = new TrackingClient({
  urls: [new URL('/v1/track', base).href],
  token: process.env.CUSTOMER_TOKEN, // its `orders` claim must name the order
});

// Sent on every (re)subscribe and on every change: waiting, live, degraded, lost.
tracking.on('status', (s) => console.log(`status ${s.orderId} ${s.state}`));
// offered, accepted, completed, cancelled, …; driverId once a courier has it.
tracking.on('assignment', (a) => console.log(`assignment ${a.orderId} ${a.event} ${a.driverId ?? ''}`.trimEnd()));
// Never older than a position already shown: safe to draw as it comes.
tracking.on('position', (p) => console.log(`position ${p.orderId} ${p.lat},${p.lng}`));
tracking.on('error', (err) => console.error(`error ${err.code}: ${err.message}`));

tracking.subscribe(orderId); // kept across reconnects

async function stop() {
  await tracking.close();
  console.log('stopped');
}
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
