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

/** Answers 400 `bad_request` and closes the connection: the bytes after the first body cannot be trusted as a request. */
export function refuseConflictingLength(res: HttpResponse): void {
  res.writeStatus('400 Bad Request').writeHeader('content-type', 'application/json')
    .end(JSON.stringify({ code: 'bad_request', message: 'conflicting Content-Length headers; the connection is closed' }), true);
}
