import { type IncomingHttpHeaders, request } from 'node:http';
import { checkApiResponse, describedAt } from './api-response-check.js';

/** A gateway's answer to one HTTP request. */
export interface ApiResult {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** The body parsed as JSON (undefined when it is not JSON). */
  json: any;
}

/**
 * One request to the gateway on `port` on loopback, on its own connection (no
 * keep-alive socket outlives a gateway that a test stops or kills): the tests'
 * one HTTP client. `body` is sent as JSON unless it is a string; `token` as
 * `Authorization: Bearer …`. Every answer to a route /openapi.json describes
 * must be one it documents (status, media type, body schema: see
 * api-response-check.ts); one that is not rejects with what disagrees.
 */
export function httpRequest(
  port: number,
  method: 'GET' | 'POST',
  path: string,
  { token, body, headers = {} }: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<ApiResult> {
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  const all: Record<string, string | number> = { ...headers };
  if (token !== undefined) all.authorization = `Bearer ${token}`;
  if (payload !== undefined) {
    all['content-type'] = 'application/json';
    all['content-length'] = Buffer.byteLength(payload);
  }
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, agent: false, headers: all }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        try {
          if (describedAt(port, path)) checkApiResponse(method, path, res.statusCode ?? 0, res.headers['content-type'], text);
        } catch (err) {
          reject(err);
          return;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}
