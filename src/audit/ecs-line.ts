import type { AuditEntry } from './audit-log.js';

/** The ECS version the field names follow (https://www.elastic.co/guide/en/ecs/8.11). */
export const ECS_VERSION = '8.11.0';

/** Longest id, path or reason kept: client-chosen values are cut, so an entry stays small whatever a client sends. */
const MAX_VALUE = 256;

const cut = (s: string): string => (s.length > MAX_VALUE ? s.slice(0, MAX_VALUE) : s);

/**
 * One audit entry as one line of JSON (ECS style, nested objects), ending in
 * a newline:
 *
 *   {"@timestamp":"2026-12-01T17:02:19.123Z","ecs":{"version":"8.11.0"},
 *    "event":{"kind":"event","action":"order.cancel","outcome":"success"},
 *    "user":{"id":"order-service","roles":["service"]},"source":{"ip":"10.0.0.7"},
 *    "url":{"path":"/v1/orders/o-1/cancel"},"http":{"request":{"method":"post"},"response":{"status_code":200}},
 *    "order":{"id":"o-1"},"gateway":{"id":"gw-a:4242"}}
 */
export function ecsLine(entry: AuditEntry, gatewayId: string, now: number): string {
  const event: Record<string, unknown> = { kind: 'event', action: entry.action, outcome: entry.outcome };
  if (entry.reason !== undefined) event.reason = cut(entry.reason);
  const doc: Record<string, unknown> = { '@timestamp': new Date(now).toISOString(), ecs: { version: ECS_VERSION }, event };
  if (entry.user) doc.user = { id: cut(entry.user.id), roles: entry.user.roles.map(cut) };
  if (entry.sourceIp !== undefined) doc.source = { ip: entry.sourceIp };
  if (entry.path !== undefined) doc.url = { path: cut(entry.path) };
  if (entry.method !== undefined || entry.status !== undefined) {
    const http: Record<string, unknown> = {};
    if (entry.method !== undefined) http.request = { method: entry.method.toLowerCase() };
    if (entry.status !== undefined) http.response = { status_code: entry.status };
    doc.http = http;
  }
  if (entry.frameType !== undefined) doc.frame = { type: cut(entry.frameType) };
  if (entry.orderId !== undefined) doc.order = { id: cut(entry.orderId) };
  if (entry.target) doc.target = { type: entry.target.type, id: cut(entry.target.id) };
  if (entry.details) doc.hexfleet = entry.details;
  doc.gateway = { id: gatewayId };
  return JSON.stringify(doc) + '\n';
}
