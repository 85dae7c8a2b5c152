import { rbacRow } from '../auth/rbac-table.js';
import type { Config } from '../config/config-schema.js';
import { type ErrorCode, ErrorCodes } from '../protocol/error-codes.js';
import { ID_SCHEMA } from '../protocol/frame-schemas.js';
import type { JsonSchema } from '../protocol/json-schema.js';
import { type Operation, openApiOperations } from './openapi-operations.js';

/** The version the document states (package.json's, kept by hand: the gateway does not read package.json at run time). */
export const API_VERSION = '0.1.0';

/** Errors every route behind respondAsync can answer: a smuggling attempt and an address cooling off. */
const EVERY_ROUTE: ErrorCode[] = ['bad_request', 'auth_cooloff'];
/** Errors of the token check: a route whose action is in RBAC_TABLE (public rows check a token when one is given). */
const TOKEN_CHECK: ErrorCode[] = ['unauthorized', 'unknown_key', 'token_revoked', 'forbidden', 'mfa_required'];

/** The OpenAPI operation id of an operation: its RBAC action, or its path for the tokenless ones. */
export function operationId(op: Pick<Operation, 'method' | 'path'>): string {
  return `${op.method} ${op.path}`.replace(/[^A-Za-z0-9]+/g, '_').replace(/^_|_$/g, '');
}

/** Every error code `op` can answer with (its own, the token check's, every route's). */
export function errorCodesOf(op: Operation): ErrorCode[] {
  const codes = new Set<ErrorCode>(op.errors);
  if (op.action !== 'public') for (const c of [...EVERY_ROUTE, ...TOKEN_CHECK]) codes.add(c);
  return [...codes];
}

/** The error body, for the codes of one status. `no_driver` also names the order and why. */
function errorSchema(codes: ErrorCode[]): JsonSchema {
  const properties: Record<string, JsonSchema> = { code: { type: 'string', enum: codes }, message: { type: 'string' } };
  if (codes.includes('no_driver')) Object.assign(properties, { orderId: ID_SCHEMA, reason: { type: 'string' } });
  return { type: 'object', properties, required: ['code', 'message'], additionalProperties: false };
}

function errorDescription(codes: ErrorCode[]): string {
  return codes.map((c) => `\`${c}\`${ErrorCodes[c].retry ? ' (retry)' : ''}: ${ErrorCodes[c].message}`).join('\n\n');
}

const JSON_TYPE = 'application/json';

function responsesOf(op: Operation): Record<string, unknown> {
  const responses: Record<string, unknown> = {};
  for (const [status, answer] of Object.entries(op.answers)) {
    const content = answer.text
      ? Object.fromEntries(answer.text.map((media) => [media, { schema: { type: 'string' } }]))
      : { [JSON_TYPE]: { schema: answer.schema ?? {} } };
    responses[status] = { description: answer.description, content };
  }
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of errorCodesOf(op)) {
    const status = ErrorCodes[code].http;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  for (const [status, codes] of [...byStatus].sort(([a], [b]) => a - b)) {
    if (responses[status] !== undefined) throw new Error(`${op.method} ${op.path}: status ${status} is both an answer and an error`);
    const response: Record<string, unknown> = { description: errorDescription(codes), content: { [JSON_TYPE]: { schema: errorSchema(codes) } } };
    // Every 429 of the HTTP API says when to come back; an `overloaded` 503 does too.
    if (status === 429) response.headers = { 'Retry-After': { required: true, description: 'seconds', schema: { type: 'string', pattern: '^[0-9]+$' } } };
    responses[status] = response;
  }
  return responses;
}

/**
 * The OpenAPI 3.1 description of the public port, for a gateway running
 * `config` (its limits are the document's bounds). Served at
 * `GET /openapi.json`; built from openapi-operations.ts and the error-code
 * table, so a route, its validator and its description change together.
 */
export function openApiDocument(config: Config): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of openApiOperations(config)) {
    const operation: Record<string, unknown> = {
      operationId: operationId(op),
      summary: op.summary,
      'x-hexfleet-action': op.action,
      responses: responsesOf(op),
    };
    if (op.parameters) operation.parameters = op.parameters;
    if (op.body) operation.requestBody = { required: true, description: op.body.description, content: { [JSON_TYPE]: { schema: op.body.schema } } };
    // The tokenless routes (GET /healthz) and the public rows of RBAC_TABLE take a token but need none.
    operation.security = op.action === 'public' ? [] : publicAction(op) ? [{}, { bearer: [] }, { queryToken: [] }] : [{ bearer: [] }, { queryToken: [] }];
    (paths[op.path] ??= {})[op.method] = operation;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'hexfleet gateway',
      version: API_VERSION,
      description: 'Real-time location and dispatch engine. Who may call what: RBAC_TABLE (README: who may do what); every error answer is `{"code","message"}` with a code of src/protocol/error-codes.ts. The WebSocket protocols are described at /asyncapi.json.',
    },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    paths,
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
        queryToken: { type: 'apiKey', in: 'query', name: 'token', description: 'the same JWT as ?token= (for clients that cannot set headers)' },
      },
    },
  };
}

/** A public row of RBAC_TABLE: anyone may, and a token, when given, is checked. */
function publicAction(op: Operation): boolean {
  return op.action !== 'public' && rbacRow(op.action).public === true;
}
