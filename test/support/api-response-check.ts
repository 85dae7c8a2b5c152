import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { loadConfig } from '../../src/config/load-config.js';
import { openApiDocument } from '../../src/http/openapi-document.js';

/**
 * Holds a gateway's HTTP answers to the OpenAPI document it serves
 * (src/http/openapi-document.ts): every answer the tests' HTTP client gets
 * (test/support/http-request.ts) to a documented route must have a
 * documented status, its media type, and a body that validates against the
 * schema of that status. Answers to paths the document does not describe
 * (the catch-all 404, the admin port's own 404) are not checked here.
 * Response schemas do not depend on the gateway's limits, so one document
 * (the default configuration's) serves every test gateway.
 */

interface OperationResponses {
  pattern: RegExp;
  method: string;
  path: string;
  responses: Record<string, { content: Record<string, { schema: object }> }>;
}

let operations: OperationResponses[] | undefined;
const ajv = new Ajv2020({ strict: false, allErrors: true });
const compiled = new Map<string, ValidateFunction>();

function documentOperations(): OperationResponses[] {
  if (operations) return operations;
  const doc = openApiDocument(loadConfig({ HEXFLEET_JWT_SECRET: 'x'.repeat(40) })) as { paths: Record<string, Record<string, { responses: OperationResponses['responses'] }>> };
  operations = [];
  // Static paths first: /v1/drivers/nearby is its own route, not /v1/drivers/{id} (uWebSockets.js prefers static segments too).
  const paths = Object.keys(doc.paths).sort((a, b) => Number(a.includes('{')) - Number(b.includes('{')));
  for (const path of paths) {
    const pattern = new RegExp(`^${path.replace(/[.]/g, '\\.').replace(/\{[^}]+\}/g, '[^/]+')}$`);
    for (const [method, op] of Object.entries(doc.paths[path]!)) operations.push({ pattern, method: method.toUpperCase(), path, responses: op.responses });
  }
  return operations;
}

/**
 * Ports of admin listeners (test gateways register theirs while they run):
 * the document describes the public port; an admin listener serves only
 * /healthz, /readyz and /metrics (the same handlers, so the same answers) and
 * 404 to everything else, which is not checked.
 */
const adminPorts = new Set<number>();
const ADMIN_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);

/** Marks `port` as an admin listener's until the returned function is called. */
export function registerAdminPort(port: number): () => void {
  adminPorts.add(port);
  return () => adminPorts.delete(port);
}

/** Is the answer of `port` to `url` one the document describes? */
export function describedAt(port: number, url: string): boolean {
  return !adminPorts.has(port) || ADMIN_ROUTES.has(url.split('?')[0]!);
}

/** The documented operation a request goes to, or undefined (a path the document does not describe). */
export function documentedOperation(method: string, url: string): OperationResponses | undefined {
  const path = url.split('?')[0]!;
  return documentOperations().find((o) => o.method === method && o.pattern.test(path));
}

/**
 * Throws, naming the operation and what disagrees, unless the answer
 * (`status`, `contentType`, the body as text) is one its operation documents.
 * Returns false for an undocumented route (nothing checked), true otherwise.
 */
export function checkApiResponse(method: string, url: string, status: number, contentType: string | undefined, text: string): boolean {
  const op = documentedOperation(method, url);
  if (!op) return false;
  const where = `${method} ${url.slice(0, 120)} → ${status} (OpenAPI ${op.method} ${op.path})`;
  const response = op.responses[String(status)];
  if (!response) throw new Error(`${where}: status ${status} is not documented (documented: ${Object.keys(op.responses).join(', ')}); body ${text.slice(0, 300)}`);
  const actual = (contentType ?? '').split(';')[0]!.trim();
  const media = response.content[actual];
  if (!media) throw new Error(`${where}: content type ${actual || '(none)'}, documented ${Object.keys(response.content).join(' or ')}`);
  if (actual !== 'application/json') return true;
  const { schema } = media;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`${where}: the body is not JSON: ${text.slice(0, 200)}`);
  }
  const key = `${op.method} ${op.path} ${status}`;
  let validate = compiled.get(key);
  if (!validate) compiled.set(key, (validate = ajv.compile(schema)));
  if (!validate(body)) throw new Error(`${where}: the body does not match its description: ${ajv.errorsText(validate.errors)}; body ${text.slice(0, 400)}`);
  return true;
}
