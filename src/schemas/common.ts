import { Type, type Static, type TSchema, type TSchemaOptions } from 'typebox'
import { ERROR_CATALOGUE } from '../errors.js'

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

/** The codes an API answer can carry: the catalogue's entries that have an HTTP status. */
const answeredCodes = ERROR_CATALOGUE.filter((e) => e.status !== null).map((e) => e.code)

/**
 * Every error answer, as `application/problem+json` (RFC 9457): `type` (a URI naming the code,
 * whose page describes it), `title`, `status` and `detail`, alongside the service's own `code`,
 * `message`, `statusCode` and `details`, which callers written before the problem format still read.
 */
export const ErrorSchema = Type.Object({
  type: Type.String({ format: 'uri-reference', description: 'The problem type: /errors/{code}, relative to the service, which describes the code' }),
  title: Type.String({ description: 'A short summary of the problem type, the same for every occurrence of the code' }),
  status: Type.Integer({ minimum: 400, maximum: 599, description: 'The HTTP status code' }),
  detail: Type.String({ description: 'What went wrong this time (the same text as `message`)' }),
  statusCode: Type.Integer({ minimum: 400, maximum: 599, description: 'The HTTP status code (as `status`)' }),
  code: Type.Enum(answeredCodes, { description: 'Stable machine-readable error code (the README\'s table of error codes); switch on this, never on the text' }),
  message: Type.String({ description: 'What went wrong (as `detail`)' }),
  details: Type.Optional(Type.Array(ref(ErrorDetailSchema)))
}, {
  $id: 'Error',
  additionalProperties: false,
  examples: [{
    type: '/errors/DSR_VALIDATION_FAILED',
    title: 'Validation failed',
    status: 400,
    detail: 'body/subject/email must match format "email"',
    statusCode: 400,
    code: 'DSR_VALIDATION_FAILED',
    message: 'body/subject/email must match format "email"',
    details: [{ in: 'body', field: '/subject/email', message: 'must match format "email"' }]
  }]
})

/** The media type of every error answer (RFC 9457). */
export const PROBLEM_JSON = 'application/problem+json'

/** A response header as the OpenAPI document describes it (`description` goes on the header, the rest is its schema). */
export interface HeaderSpec { type: 'string' | 'integer', description: string, [k: string]: unknown }

export const RetryAfterHeader: HeaderSpec = { type: 'integer', minimum: 0, description: 'Seconds to wait before trying again' }
export const IdempotentReplayedHeader: HeaderSpec = {
  type: 'string',
  enum: ['true'],
  description: 'Sent ("true") only when this answer repeats an earlier call (same Idempotency-Key and body, or the same call): nothing was written'
}
export const LocationHeader: HeaderSpec = { type: 'string', description: 'The path of the resource' }

/** A JSON response of a route with the headers sent with it (the body still goes through the route's serializer). */
export function json<T extends TSchema> (schema: T, opts: { description?: string, headers: Record<string, HeaderSpec> }) {
  return {
    ...(opts.description ? { description: opts.description } : {}),
    headers: opts.headers,
    content: { 'application/json': { schema } }
  }
}

/**
 * An error response of a route: an `Error` served as `application/problem+json`, with the headers
 * sent with it. Without a description the OpenAPI document gives the meaning of the status code.
 */
export function problem (opts: { description?: string, headers?: Record<string, HeaderSpec> } = {}) {
  return {
    ...(opts.description ? { description: opts.description } : {}),
    ...(opts.headers ? { headers: opts.headers } : {}),
    content: { [PROBLEM_JSON]: { schema: ref(ErrorSchema) } }
  }
}

export const IdParamsSchema = Type.Object({
  id: Type.String({ format: 'uuid', description: 'Request id' })
}, { additionalProperties: false })

/** Responses every authenticated route can give, in one place. */
export const authErrorResponses = {
  400: problem(),
  401: problem(),
  403: problem(),
  500: problem(),
  503: problem({
    description: 'Unavailable (DSR_UNAVAILABLE): the service cannot reach its database, or is starting or stopping; retry after Retry-After',
    headers: { 'Retry-After': RetryAfterHeader }
  })
} as const

/** What a problem `type` (/errors/{code}) describes: the catalogue's entry of the code. */
export const ErrorTypeSchema = Type.Object({
  type: Type.String({ description: 'The problem type URI, as error answers carry it' }),
  title: Type.String(),
  code: Type.String({ pattern: '^DSR_[A-Z0-9_]+$' }),
  status: Nullable(Type.Integer({ minimum: 400, maximum: 599 }), { description: 'The HTTP status it is answered with; null for a code the API never answers' }),
  recorded_on: Type.Array(Type.Enum(['task', 'archive', 'transfer', 'job', 'callback', 'audit_report']), { description: 'Where the code is kept besides an answer' }),
  retryable: Nullable(Type.Boolean(), { description: 'Whether the work is tried again after it; null where that does not apply' }),
  when: Type.String({ description: 'When it happens' })
}, {
  $id: 'ErrorType',
  additionalProperties: false,
  examples: [{
    type: '/errors/DSR_REQUEST_NOT_FOUND',
    title: 'Request not found',
    code: 'DSR_REQUEST_NOT_FOUND',
    status: 404,
    recorded_on: [],
    retryable: null,
    when: 'no request has this id'
  }]
})

export const sharedSchemas: readonly TSchema[] = [ErrorDetailSchema, ErrorSchema, ErrorTypeSchema]

/** The OpenAPI security requirement of every route that needs an API key: as a Bearer token or in X-API-Key. */
export const apiKeySecurity: Array<Record<string, string[]>> = [{ bearerAuth: [] }, { apiKeyHeader: [] }]
