/**
 * JSON Schema (2020-12, the dialect of OpenAPI 3.1 and of AsyncAPI 3's
 * default schema format) for the API descriptions, with one helper that ties
 * an object schema to the TypeScript type the gateway builds or reads: every
 * property of the type must be described, optional ones through `opt()`, so a
 * field added to a wire type fails the typecheck until its schema says what
 * it is. The schemas are checked against the running gateway by the tests
 * (test/http/openapi*.test.ts, test/http/asyncapi*.test.ts).
 */

/** A JSON Schema object. `schema` is no keyword: it marks an `opt()` wrapper, which is not a schema. */
export type JsonSchema = { readonly [keyword: string]: unknown } & { readonly schema?: never };

/** An optional property's schema (see `opt`). */
export interface Optional {
  readonly optional: true;
  readonly schema: JsonSchema;
}

/** Marks a property that the type declares optional (`field?:`). */
export function opt(schema: JsonSchema): Optional {
  return { optional: true, schema };
}

/** For each property of T: its schema, wrapped in `opt()` exactly when T declares it optional. */
export type Fields<T> = { [K in keyof T]-?: {} extends Pick<T, K> ? Optional : JsonSchema };

/**
 * An object schema whose properties are T's, required unless wrapped in
 * `opt()`. `closed` (answers the gateway writes) adds
 * `additionalProperties: false`, so an undescribed field fails validation;
 * requests stay open, since the gateway ignores fields it does not know.
 */
export function objectSchema<T>(fields: Fields<T>, o: { closed?: boolean; description?: string } = {}): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  const required: string[] = [];
  for (const [name, field] of Object.entries(fields) as [string, JsonSchema | Optional][]) {
    if (isOptional(field)) {
      properties[name] = field.schema;
    } else {
      properties[name] = field;
      required.push(name);
    }
  }
  return {
    type: 'object',
    ...(o.description === undefined ? {} : { description: o.description }),
    properties,
    ...(required.length > 0 ? { required } : {}),
    ...(o.closed ? { additionalProperties: false } : {}),
  };
}

function isOptional(field: JsonSchema | Optional): field is Optional {
  return (field as Optional).optional === true && typeof (field as Optional).schema === 'object';
}

/** A string that is one of `values`. */
export function enumOf(values: readonly string[], description?: string): JsonSchema {
  return { type: 'string', enum: [...values], ...(description === undefined ? {} : { description }) };
}

/** A number in [min, max]. */
export function numberIn(min: number, max: number, description?: string): JsonSchema {
  return { type: 'number', minimum: min, maximum: max, ...(description === undefined ? {} : { description }) };
}

/** `schema` or JSON null. */
export function nullable(schema: JsonSchema): JsonSchema {
  return { anyOf: [schema, { type: 'null' }] };
}
