import { Ajv, type ErrorObject, type Options, type ValidateFunction } from 'ajv'
import addFormats from 'ajv-formats'
import type { FastifySchema, FastifySchemaCompiler } from 'fastify'
import { isValidTimeZone } from './domain/deadlines.js'
import { fingerprint } from './serialization.js'

/**
 * Request validation with two Ajv instances. Query strings, params and headers arrive as text and
 * are coerced to their declared types; JSON bodies are not, so `"notes": 123` is a 400 rather than
 * silently becoming "123". Unknown properties are refused, never stripped, and every offending
 * field is reported.
 */
export function createValidatorCompiler (sharedSchemas: () => Record<string, unknown>): FastifySchemaCompiler<FastifySchema> {
  const base: Options = { useDefaults: true, removeAdditional: false, allErrors: true, strict: false }
  let instances: { strict: Ajv, coercing: Ajv, shared: string } | undefined

  // Called once per route and part at startup, not per request. Routes repeat schemas (an id
  // parameter, paging): equal schemas for the same part share one validator, and so do apps built
  // in one process with the same shared schemas (a validator depends on nothing else).
  return ({ schema, httpPart }) => {
    const shared = sharedSchemas()
    instances ??= { strict: makeAjv({ ...base, coerceTypes: false }), coercing: makeAjv({ ...base, coerceTypes: 'array' }), shared: fingerprint(shared) }
    const key = `${instances.shared}\n${httpPart === 'body' ? 'body' : 'coerced'} ${JSON.stringify(schema)}`
    const known = validators.get(key)
    if (known) return known
    const ajv = httpPart === 'body' ? instances.strict : instances.coercing
    for (const [id, one] of Object.entries(shared)) {
      if (!ajv.getSchema(id)) ajv.addSchema(one as object, id)
    }
    const id = (schema as { $id?: string }).$id
    const fn: ValidateFunction = (id && ajv.getSchema(id)) || ajv.compile(schema as object)
    const validator = (httpPart === 'body' ? withStorableStrings(fn) : fn) as ReturnType<FastifySchemaCompiler<FastifySchema>>
    validators.set(key, validator)
    return validator
  }
}

/** Every validator compiled in this process, by shared schemas, part and schema: see createValidatorCompiler. */
const validators = new Map<string, ReturnType<FastifySchemaCompiler<FastifySchema>>>()

/** NUL and unpaired UTF-16 surrogates: valid in JSON, but Postgres refuses them in text and jsonb. */
// eslint-disable-next-line no-control-regex -- NUL is the character looked for
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

/**
 * Adds to a body validator a check that no value in the body is one the database cannot store: a
 * string with NUL or an unpaired surrogate, or a number JSON parsed as Infinity (`1e400`), which
 * would be stored as null.
 */
function withStorableStrings (fn: ValidateFunction) {
  const validate = (data: unknown): boolean => {
    const ok = fn(data)
    // Cheap walk first: the happy path builds no paths or places (seen in the intake profile).
    const bad = anyUnstorable(data) ? unstorable(data) : []
    validate.errors = [...(ok ? [] : fn.errors ?? []), ...bad]
    return ok && bad.length === 0
  }
  validate.errors = [] as ErrorObject[]
  return validate
}

/** Whether a value holds anything unstorable: unstorable's walk without places or paths, also by a stack. */
function anyUnstorable (data: unknown): boolean {
  const stack: unknown[] = [data]
  while (stack.length > 0) {
    const value = stack.pop()
    if (typeof value === 'string') {
      if (UNSTORABLE.test(value)) return true
    } else if (typeof value === 'number') {
      if (!Number.isFinite(value)) return true
    } else if (Array.isArray(value)) {
      for (const v of value) stack.push(v)
    } else if (value !== null && typeof value === 'object') {
      for (const k in value) if (Object.hasOwn(value, k)) stack.push((value as Record<string, unknown>)[k])
    }
  }
  return false
}

/** A value met in the walk below, with how to name its place (built only for a bad one). */
interface Place { value: unknown, key: string, parent: Place | undefined }

function pointer (place: Place): string {
  let path = ''
  for (let p: Place | undefined = place; p?.parent; p = p.parent) path = `/${p.key.replace(/~/g, '~0').replace(/\//g, '~1')}${path}`
  return path
}

/**
 * Every unstorable value of a body, by an explicit stack rather than recursion, so no nesting can
 * overflow the call stack (the body parser bounds nesting too; this holds whatever parsed the body).
 */
function unstorable (data: unknown): ErrorObject[] {
  const errors: ErrorObject[] = []
  const stack: Place[] = [{ value: data, key: '', parent: undefined }]
  while (stack.length > 0) {
    const place = stack.pop()!
    const value = place.value
    if (typeof value === 'string') {
      if (UNSTORABLE.test(value)) {
        errors.push({ instancePath: pointer(place), schemaPath: '#', keyword: 'storable', params: {}, message: 'must not contain NUL characters or unpaired surrogates' })
      }
    } else if (typeof value === 'number') {
      if (!Number.isFinite(value)) {
        errors.push({ instancePath: pointer(place), schemaPath: '#', keyword: 'finite', params: {}, message: 'must be a finite number' })
      }
    } else if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], key: String(i), parent: place })
    } else if (value !== null && typeof value === 'object') {
      const keys = Object.keys(value)
      for (let i = keys.length - 1; i >= 0; i--) stack.push({ value: (value as Record<string, unknown>)[keys[i]!], key: keys[i]!, parent: place })
    }
  }
  return errors
}

function makeAjv (options: Options): Ajv {
  const ajv = new Ajv(options)
  addFormats.default(ajv)
  // RFC 3339 allows instants JavaScript and Postgres cannot hold (a leap second 23:59:60, year 0000,
  // an offset pushing 9999-12-31 past year 9999); refuse them here rather than fail with a 500 later.
  const rfc3339 = ajv.formats['date-time'] as { validate: (s: string) => boolean }
  ajv.addFormat('date-time', { type: 'string', validate: (s: string) => rfc3339.validate(s) && storableInstant(s) })
  ajv.addFormat('iana-time-zone', { type: 'string', validate: isValidTimeZone })
  return ajv
}

function storableInstant (s: string): boolean {
  const ms = Date.parse(s)
  if (Number.isNaN(ms)) return false
  const year = new Date(ms).getUTCFullYear()
  return year >= 1 && year <= 9999
}
