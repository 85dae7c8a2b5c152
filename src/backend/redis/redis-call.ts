import { ReplyError } from 'ioredis';
import { HexfleetError } from '../../protocol/error-codes.js';

/** Error replies of a Redis that is starting, failing over or blocked: worth a retry. */
const TRANSIENT_REPLY = /^(LOADING|BUSY|READONLY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN|NOREPLICAS|OOM)\b/;

/**
 * What ioredis answers every call while its connection is down (the offline
 * queue is off): a client-library internal that says nothing of the cause.
 */
const NOT_CONNECTED = /^Stream isn't writeable/;

/**
 * Runs one Redis operation and turns its failure into a HexfleetError:
 * connection failures, timeouts and the replies of a Redis that cannot serve
 * right now become `store_unavailable` (retry); any other error reply, such
 * as a failing script, would fail the same way again and becomes `internal`.
 * The client gets the table's message; the Redis detail stays in `cause`.
 */
export async function redisCall<T>(op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    const transient = !(err instanceof ReplyError) || TRANSIENT_REPLY.test((err as Error).message);
    const cause = err instanceof Error && NOT_CONNECTED.test(err.message)
      ? new Error('not connected to Redis, reconnecting (why: /readyz on the admin port, or the "redis unreachable" log line)', { cause: err })
      : err;
    throw new HexfleetError(transient ? 'store_unavailable' : 'internal', undefined, { cause });
  }
}
