import { Type, type Static, type TSchema, type TSchemaOptions } from 'typebox'

/**
 * A typed reference to a shared schema. The route validates and documents `{ $ref: id }`
 * (one named component in the OpenAPI document) while TypeScript still sees the full type.
 */
export function ref<T extends TSchema> (schema: T) {
  const id = (schema as { $id?: unknown }).$id
  if (typeof id !== 'string') throw new Error('ref() needs a schema with an $id')
  return Type.Unsafe<Static<T>>({ $ref: `${id}#` })
}

/**
 * A value of `schema`, or null. A schema with a `type` gets `null` added to its type list (and to
 * its `enum`), which Ajv and fast-json-stringify check with `typeof`. A union would make
 * fast-json-stringify run a validator for each branch of each field on every response: a format
 * check of every date, a whole object validated to learn it is not null. @fastify/swagger writes
 * the type list as `nullable: true` in the OpenAPI 3.0 document. A schema without a type (a
 * `$ref`) stays a union, null first.
 */
export function Nullable<T extends TSchema> (schema: T, options: TSchemaOptions = {}) {
  const { type, enum: values, ...rest } = schema as { type?: unknown, enum?: unknown[] }
  if (typeof type === 'string') {
    return Type.Unsafe<Static<T> | null>({ type: [type, 'null'], ...rest, ...(values ? { enum: [...values, null] } : {}), ...options })
  }
  if (values && values.every((v) => typeof v === 'string')) {
    return Type.Unsafe<Static<T> | null>({ type: ['string', 'null'], ...rest, enum: [...values, null], ...options })
  }
  return Type.Unsafe<Static<T> | null>({ ...options, anyOf: [{ type: 'null' }, schema] })
}

/**
 * A field with a default: optional for the caller (not `required` in the document, so a generated
 * client may leave it out), yet always present once validated (Ajv fills the default in), which is
 * the type the handler sees.
 */
export function Defaulted<T extends TSchema> (schema: T): T {
  if ((schema as { default?: unknown }).default === undefined) throw new Error('Defaulted() needs a schema with a default')
  return Type.Optional(schema) as unknown as T
}

export const ErrorDetailSchema = Type.Object({
  in: Type.Enum(['body', 'querystring', 'params', 'headers']),
  field: Type.String({ description: 'JSON pointer to the offending value, e.g. /subject/email' }),
  message: Type.String()
}, { $id: 'ErrorDetail', additionalProperties: false })

export const ErrorSchema = Type.Object({
  statusCode: Type.Integer({ minimum: 400, maximum: 599 }),
  code: Type.String({ pattern: '^DSR_[A-Z_]+$', description: 'Stable machine-readable error code' }),
  message: Type.String(),
  details: Type.Optional(Type.Array(ref(ErrorDetailSchema)))
}, {
  $id: 'Error',
  additionalProperties: false,
  examples: [{
    statusCode: 400,
    code: 'DSR_VALIDATION_FAILED',
    message: '/subject/email must match format "email"',
    details: [{ in: 'body', field: '/subject/email', message: 'must match format "email"' }]
  }]
})

export const IdParamsSchema = Type.Object({
  id: Type.String({ format: 'uuid', description: 'Request id' })
}, { additionalProperties: false })

/** Responses every authenticated route can give, in one place. */
export const authErrorResponses = {
  400: ref(ErrorSchema),
  401: ref(ErrorSchema),
  403: ref(ErrorSchema),
  500: ref(ErrorSchema)
} as const

export const sharedSchemas: readonly TSchema[] = [ErrorDetailSchema, ErrorSchema]

/** The OpenAPI security requirement of every route that needs an API key: as a Bearer token or in X-API-Key. */
export const apiKeySecurity: Array<Record<string, string[]>> = [{ bearerAuth: [] }, { apiKeyHeader: [] }]
