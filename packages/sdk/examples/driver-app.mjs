// A courier app: streams a GPS fix every second and accepts every offer.
//   HEXFLEET_URL=http://localhost:8080 \
//   DRIVER_TOKEN=$(npx hexfleet token --role driver --sub d1 --vehicle bike) \
//   node driver-app.mjs
import { DriverClient } from '@hexfleet/sdk';

const base = new URL(process.env.HEXFLEET_URL ?? 'http://localhost:8080');
base.protocol = base.protocol === 'https:' ? 'wss:' : 'ws:';
// Where this demo courier starts; a real app reads the device's GPS.
const [startLat, startLng] = (process.env.START ?? '52.5200,13.4050').split(',').map(Number);

const driver = new DriverClient({
  urls: [new URL('/v1/driver', base).href],
  token: process.env.DRIVER_TOKEN, // or a function returning a fresh token
});

driver.on('state', (state) => console.log(`state ${state}`));
driver.on('ack', (seq) => console.log(`acked up to ${seq}`));
// err.retry: the SDK resends by itself; otherwise the ping or answer was refused for good.
driver.on('error', (err) => console.error(`error ${err.code}: ${err.message}`));

driver.onOffer(async (offer) => {
  console.log(`offer ${offer.orderId}: pickup ${offer.pickup.lat},${offer.pickup.lng}`);
  try {
    const outcome = await driver.accept(offer.orderId); // 'accepted', or 'rejected' when the gateway turned it down
    console.log(`offer ${offer.orderId} ${outcome}`);
  } catch (err) {
    console.error(`offer ${offer.orderId} not answered: ${err.code}`); // offer_expired, a timeout, …
  }
});

let step = 0;
const timer = setInterval(() => {
  step++; // walk north, about 11 m a second
  driver.ping({ lat: startLat + step * 0.0001, lng: startLng, status: 'available' });
}, 1000);
driver.ping({ lat: startLat, lng: startLng, status: 'available' });

async function stop() {
  clearInterval(timer);
  await driver.close(); // pings not acked yet stay unsent: persist driver.lastSeq to go on from it
  console.log('stopped');
}
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
