import { Type, type Static, type TSchema } from 'typebox'

/**
 * A typed reference to a shared schema. The route validates and documents `{ $ref: id }`
 * (one named component in the OpenAPI document) while TypeScript still sees the full type.
 */
export function ref<T extends TSchema> (schema: T) {
  const id = (schema as { $id?: unknown }).$id
  if (typeof id !== 'string') throw new Error('ref() needs a schema with an $id')
  return Type.Unsafe<Static<T>>({ $ref: `${id}#` })
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
