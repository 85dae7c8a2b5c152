import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import type { Logger } from 'pino';
import type { Authorizer, Resource } from '../auth/authorize.js';
import type { Action } from '../auth/rbac-table.js';
import type { Principal } from '../auth/tokens.js';
import { TokenError, tokenFrom } from '../auth/tokens.js';
import { type ErrorCode, ErrorCodes, HexfleetError } from '../protocol/error-codes.js';
import { RateLimitedError } from './rate-limit.js';
import { conflictingContentLength, refuseConflictingLength } from './request-guard.js';
import type { AccessGuard } from '../audit/access-guard.js';
import { closeCall, type HttpCall, openCall } from './http-audit.js';

export interface HttpReply {
  status: number;
  /** JSON-encoded unless `text` is set. */
  body?: unknown;
  text?: string;
  contentType?: string;
  headers?: Record<string, string>;
}

const STATUS_TEXT: Record<number, string> = {
  200: 'OK', 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 409: 'Conflict', 422: 'Unprocessable Entity',
  429: 'Too Many Requests', 500: 'Internal Server Error', 503: 'Service Unavailable',
};

/** Seconds a client should wait before retrying an `overloaded` answer. */
const RETRY_AFTER_S = '1';

export function errorReply(code: ErrorCode, message?: string): HttpReply {
  const reply: HttpReply = { status: ErrorCodes[code].http, body: { code, message: message ?? ErrorCodes[code].message } };
  if (code === 'overloaded') reply.headers = { 'retry-after': RETRY_AFTER_S };
  return reply;
}

export function writeReply(res: HttpResponse, reply: HttpReply): void {
  res.writeStatus(`${reply.status} ${STATUS_TEXT[reply.status] ?? ''}`.trim());
  res.writeHeader('content-type', reply.contentType ?? 'application/json');
  for (const [k, v] of Object.entries(reply.headers ?? {})) res.writeHeader(k, v);
  res.end(reply.text ?? JSON.stringify(reply.body));
}

/**
 * Answers a request whose reply may need `await`. The request object is only
 * valid until the handler returns, so `read` copies what the work needs first;
 * `onAborted` guards against writing to a closed response, and the write is
 * corked because it happens after an await. A `work` that answers at once
 * (returns a reply, not a promise: a nearby query the read index holds) is
 * written inside the handler, with no promise and no cork: on the hottest
 * read that is a measurable share of the gateway's CPU per request.
 */
export function respondAsync<T>(
  res: HttpResponse,
  req: HttpRequest,
  log: Logger,
  read: (req: HttpRequest, res: HttpResponse) => T,
  work: (input: T, call: HttpCall) => HttpReply | Promise<HttpReply>,
  guard?: AccessGuard,
): void {
  let aborted = false;
  res.onAborted(() => {
    aborted = true;
  });
  // With a guard: an address cooling off is refused before anything is read; the outcome is audited below.
  const call = openCall(res, req, guard);
  if (call.refusedUntil > 0) {
    writeReply(res, cooloffReply(call.refusedUntil));
    return;
  }
  if (conflictingContentLength(req)) return refuseConflictingLength(res);
  let input: T;
  try {
    input = read(req, res);
  } catch (err) {
    writeReply(res, replyForError(err, log));
    return;
  }
  let failure: unknown;
  const finish = (reply: HttpReply, afterAwait: boolean): void => {
    if (guard) closeCall(guard, call, reply.status, (reply.body as { code?: string } | undefined)?.code, failure, input, aborted ? undefined : res);
    if (aborted) return;
    if (afterAwait) res.cork(() => writeReply(res, reply));
    else writeReply(res, reply);
  };
  let answer: HttpReply | Promise<HttpReply>;
  try {
    answer = work(input, call);
  } catch (err) {
    failure = err;
    answer = replyForError(err, log);
  }
  if (!(answer instanceof Promise)) return finish(answer, false);
  answer
    .catch((err: unknown) => {
      failure = err;
      return replyForError(err, log);
    })
    .then((reply) => finish(reply, true));
}

/** 429 `auth_cooloff`, with Retry-After: the seconds left of the address's cool-off. */
export function cooloffReply(until: number): HttpReply {
  const reply = errorReply('auth_cooloff');
  reply.headers = { 'retry-after': String(Math.max(1, Math.ceil((until - Date.now()) / 1000))) };
  return reply;
}

function replyForError(err: unknown, log: Logger): HttpReply {
  if (err instanceof TokenError) return errorReply(err.code, err.message);
  if (err instanceof RateLimitedError) return { ...errorReply(err.code, err.message), headers: { 'retry-after': String(err.retryAfterS) } };
  if (err instanceof HexfleetError) return errorReply(err.code, err.message);
  log.error({ err }, 'request failed');
  return errorReply('internal');
}

/** Verifies the bearer token of a request (401) and authorizes its action by RBAC_TABLE (403). */
export function authorizeRequest(access: Authorizer, action: Action, authorization: string, queryToken: string | undefined, resource?: Resource): Principal {
  return access.verify(tokenFrom(authorization, queryToken), action, resource);
}

/**
 * Reads a request body of at most `maxBytes`. Must be called synchronously in
 * the handler (uWebSockets.js delivers the body through `onData`, and the
 * response must have `onAborted` set, which respondAsync does first).
 * Chunks are copied: uWS frees them when the callback returns.
 */
export function readBody(res: HttpResponse, maxBytes: number): Promise<Buffer> {
  const body = new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.onData((chunk, isLast) => {
      size += chunk.byteLength;
      if (size > maxBytes) {
        reject(new HexfleetError('invalid_body', `the body is larger than ${maxBytes} bytes`));
        return;
      }
      chunks.push(Buffer.from(chunk.slice(0)));
      if (isLast) resolve(Buffer.concat(chunks));
    });
  });
  // A handler that fails before awaiting the body must not leave an unhandled rejection.
  body.catch(() => {});
  return body;
}
