import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import type { Logger } from 'pino';
import type { Principal, Role, TokenService } from '../auth/tokens.js';
import { TokenError, tokenFrom } from '../auth/tokens.js';
import { type ErrorCode, ErrorCodes, HexfleetError } from '../errors/error-codes.js';

export interface HttpReply {
  status: number;
  /** JSON-encoded unless `text` is set. */
  body?: unknown;
  text?: string;
  contentType?: string;
  headers?: Record<string, string>;
}

const STATUS_TEXT: Record<number, string> = {
  200: 'OK', 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found',
  429: 'Too Many Requests', 500: 'Internal Server Error', 503: 'Service Unavailable',
};

export function errorReply(code: ErrorCode, message?: string): HttpReply {
  return { status: ErrorCodes[code].http, body: { code, message: message ?? ErrorCodes[code].message } };
}

export function writeReply(res: HttpResponse, reply: HttpReply): void {
  res.writeStatus(`${reply.status} ${STATUS_TEXT[reply.status] ?? ''}`.trim());
  res.writeHeader('content-type', reply.contentType ?? 'application/json');
  for (const [k, v] of Object.entries(reply.headers ?? {})) res.writeHeader(k, v);
  res.end(reply.text ?? JSON.stringify(reply.body));
}

/**
 * Answers a request whose reply needs `await`. The request object is only
 * valid until the handler returns, so `read` copies what the work needs first;
 * `onAborted` guards against writing to a closed response, and the write is
 * corked because it happens after an await.
 */
export function respondAsync<T>(
  res: HttpResponse,
  req: HttpRequest,
  log: Logger,
  read: (req: HttpRequest) => T,
  work: (input: T) => Promise<HttpReply>,
): void {
  let aborted = false;
  res.onAborted(() => {
    aborted = true;
  });
  let input: T;
  try {
    input = read(req);
  } catch (err) {
    writeReply(res, replyForError(err, log));
    return;
  }
  work(input)
    .catch((err: unknown) => replyForError(err, log))
    .then((reply) => {
      if (!aborted) res.cork(() => writeReply(res, reply));
    });
}

function replyForError(err: unknown, log: Logger): HttpReply {
  if (err instanceof TokenError) return errorReply(err.code, err.message);
  if (err instanceof HexfleetError) return errorReply(err.code, err.message);
  log.error({ err }, 'request failed');
  return errorReply('internal');
}

/** Verifies the bearer token of a request against the roles a route allows. */
export function authorize(tokens: TokenService, roles: readonly Role[], authorization: string, queryToken: string | undefined): Principal {
  return tokens.verify(tokenFrom(authorization, queryToken), roles);
}
