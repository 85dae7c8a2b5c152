import type { Logger } from 'pino';
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { TokenError, tokenFrom } from '../auth/tokens.js';
import { ErrorCodes, HexfleetError } from '../protocol/error-codes.js';

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

/** Status lines of the codes an upgrade can be refused with. */
const UPGRADE_STATUS: Record<number, string> = {
  400: '400 Bad Request', 401: '401 Unauthorized', 403: '403 Forbidden', 429: '429 Too Many Requests', 503: '503 Service Unavailable',
};

/**
 * Answers a refused upgrade: 401 (no valid token), 403 (authorize() said
 * no: forbidden, mfa_required), the status of another wire code, or 500,
 * with a JSON `{code, message}`; no socket opens.
 */
export function refuseUpgrade(res: HttpResponse, err: unknown, log: Logger, endpoint: string): void {
  const code = err instanceof TokenError || err instanceof HexfleetError ? err.code : 'internal';
  if (code === 'internal') log.error({ err, endpoint }, 'upgrade failed');
  res.writeStatus(UPGRADE_STATUS[ErrorCodes[code].http] ?? '500 Internal Server Error')
    .writeHeader('content-type', 'application/json')
    .end(JSON.stringify({ code, message: code !== 'internal' && err instanceof Error ? err.message : ErrorCodes.internal.message }));
}
