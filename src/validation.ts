import { Ajv, type Options, type ValidateFunction } from 'ajv'
import addFormats from 'ajv-formats'
import type { FastifySchema, FastifySchemaCompiler } from 'fastify'
import { isValidTimeZone } from './domain/deadlines.js'

/**
 * Request validation with two Ajv instances. Query strings, params and headers arrive as text and
 * are coerced to their declared types; JSON bodies are not, so `"notes": 123` is a 400 rather than
 * silently becoming "123". Unknown properties are refused, never stripped, and every offending
 * field is reported.
 */
export function createValidatorCompiler (sharedSchemas: () => Record<string, unknown>): FastifySchemaCompiler<FastifySchema> {
  const base: Options = { useDefaults: true, removeAdditional: false, allErrors: true, strict: false }
  const strict = makeAjv({ ...base, coerceTypes: false })
  const coercing = makeAjv({ ...base, coerceTypes: 'array' })

  // Called once per route and part at startup, not per request.
  return ({ schema, httpPart }) => {
    const ajv = httpPart === 'body' ? strict : coercing
    for (const [id, shared] of Object.entries(sharedSchemas())) {
      if (!ajv.getSchema(id)) ajv.addSchema(shared as object, id)
    }
    const id = (schema as { $id?: string }).$id
    const fn: ValidateFunction = (id && ajv.getSchema(id)) || ajv.compile(schema as object)
    return fn as ReturnType<FastifySchemaCompiler<FastifySchema>>
  }
}

function makeAjv (options: Options): Ajv {
  const ajv = new Ajv(options)
  addFormats.default(ajv)
  ajv.addFormat('iana-time-zone', { type: 'string', validate: isValidTimeZone })
  return ajv
}
