import type { HttpRequest, HttpResponse } from 'uWebSockets.js';

/**
 * True when the request carries Content-Length more than once with
 * different values. uWebSockets.js (20.30) accepts such a request, reads the
 * body by the first header and parses the rest of the bytes as the next
 * request on the connection: request smuggling behind any proxy that reads
 * the other header. The caller answers 400 and closes the connection.
 * Costs one header lookup for a request without a body; the headers are
 * walked only when there is a Content-Length.
 */
export function conflictingContentLength(req: HttpRequest): boolean {
  const first = req.getHeader('content-length');
  if (first === '') return false;
  let conflict = false;
  req.forEach((key, value) => {
    if (key === 'content-length' && value !== first) conflict = true;
  });
  return conflict;
}

/**
 * Answers 400 `bad_request` and closes the connection: the bytes after the
 * first body cannot be trusted as a request. The answer is written on the
 * next turn of the event loop, not in the handler: uWS ignores the close
 * asked for inside the handler and goes on parsing what followed in the same
 * packet. Deferred, a request pipelined behind it makes uWS abort the
 * connection instead (nothing after the first body is ever run, the client
 * sees the connection drop), and otherwise the 400 goes out and the
 * connection closes. Call it from the handler, with nothing else answering.
 */
export function refuseConflictingLength(res: HttpResponse): void {
  let aborted = false;
  res.onAborted(() => {
    aborted = true;
  });
  setImmediate(() => {
    if (aborted) return;
    res.cork(() => {
      res.writeStatus('400 Bad Request').writeHeader('content-type', 'application/json')
        .end(JSON.stringify({ code: 'bad_request', message: 'conflicting Content-Length headers; the connection is closed' }), true);
    });
  });
}
