import type { Logger } from 'pino';
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { TokenError, tokenFrom } from '../auth/tokens.js';
import { ErrorCodes } from '../protocol/error-codes.js';

/** What a WebSocket upgrade needs from the request, copied before uWS frees it. */
export interface UpgradeRequest {
  token: string | undefined;
  key: string;
  protocol: string;
  extensions: string;
  remote: string;
}

export function readUpgrade(res: HttpResponse, req: HttpRequest): UpgradeRequest {
  return {
    token: tokenFrom(req.getHeader('authorization'), req.getQuery('token')),
    key: req.getHeader('sec-websocket-key'),
    protocol: req.getHeader('sec-websocket-protocol'),
    extensions: req.getHeader('sec-websocket-extensions'),
    remote: Buffer.from(res.getRemoteAddressAsText()).toString(),
  };
}

/**
 * Answers a refused upgrade: 401 (no valid token), 403 (valid, wrong role) or
 * 500, with a JSON `{code, message}`; no socket opens.
 */
export function refuseUpgrade(res: HttpResponse, err: unknown, log: Logger, endpoint: string): void {
  const code = err instanceof TokenError ? err.code : 'internal';
  if (!(err instanceof TokenError)) log.error({ err, endpoint }, 'upgrade failed');
  res.writeStatus(code === 'forbidden' ? '403 Forbidden' : code === 'unauthorized' ? '401 Unauthorized' : '500 Internal Server Error')
    .writeHeader('content-type', 'application/json')
    .end(JSON.stringify({ code, message: err instanceof Error ? err.message : ErrorCodes.internal.message }));
}
