import { type IncomingMessage, request } from 'node:http';
import { request as httpsRequest } from 'node:https';

/**
 * GET http://127.0.0.1:<port><path> on a connection of its own (no agent, so
 * no pooled socket outlives a gateway that is then killed). Rejects only
 * when nothing answers. `tls`: https://, trusting `tls.ca` (PEM).
 */
export function httpGet(port: number, path: string, tls?: { ca: string }): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const options = { host: '127.0.0.1', port, path, method: 'GET', agent: false as const };
    const onResponse = (res: IncomingMessage): void => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    };
    const req = tls ? httpsRequest({ ...options, ca: tls.ca, servername: 'localhost' }, onResponse) : request(options, onResponse);
    req.on('error', reject);
    req.end();
  });
}
