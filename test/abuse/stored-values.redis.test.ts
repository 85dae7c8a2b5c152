import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { closeAllClients, ping, startTestGateway, stopAllGateways, uniqueDriverId } from '../support/gateway-harness.js';
import { redisSuite } from '../support/redis-suite.js';

/**
 * What the Redis store keeps (RECORD's float32 acc/spd/hdg) is what a driver
 * sent, or the ping is refused: nothing is acked and read back changed.
 */

afterEach(closeAllClients);
afterAll(stopAllGateways);

describe('stored values on Redis', () => {
  const suite = redisSuite();

  it('reads back the largest acc and spd it accepts exactly, and refuses larger ones', async () => {
    const gw = await startTestGateway('redis', { redisUrl: suite.server.url });
    // Stopped before the suite's redis-server is (its afterAll runs before this file's).
    suite.cleanup.add(() => gw.stop());
    const id = uniqueDriverId();
    const c = await gw.connectDriver(id, 'msgpack');
    for (const [seq, over] of [[1, { acc: 1e308 }], [2, { spd: 1e308 }], [3, { acc: 131072 }], [4, { spd: 3.5e38 }]] as const) {
      c.sendPings([ping(seq, over)]);
      expect(await c.waitForError('value_out_of_range', seq)).toMatchObject({ seq });
    }
    c.sendPings([ping(5, { acc: 131071.99, spd: 65536.01, hdg: 359.99 })]);
    await c.waitForAck(5);
    expect((await gw.driver(id)).json).toMatchObject({ seq: 5, acc: 131071.99, spd: 65536.01, hdg: 359.99 });
  });
});
