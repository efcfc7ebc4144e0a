import { readFileSync } from 'node:fs'
import t from 'tap'
import fc from 'fast-check'
import { sql } from 'drizzle-orm'
import { auth, build, KEYS, registryOf, requestBody } from '../helper.js'
import { fromRoot } from '../paths.js'

/**
 * A fuzz test over every operation of the OpenAPI document: path parameters, query strings, headers
 * and bodies are generated from the operation's schemas (mostly well-formed, often hostile: values
 * outside the schema, random JSON, bodies that are not JSON, deep nesting, other charsets and media
 * types, other keys), with a fixed seed and a bounded number of runs. Every answer must be below
 * 500; every 4xx must carry a `DSR_` code; and a refused call must have stored nothing (no new row
 * in the tables a call can add to).
 */

const SEED = 20261206
const RUNS_PER_OPERATION = Number(process.env.FUZZ_RUNS ?? 50)

type Schema = Record<string, any>
interface Operation { method: string, path: string, op: Schema }

const spec = JSON.parse(readFileSync(fromRoot('openapi/openapi.json'), 'utf8')) as Schema
const components = (spec.components?.schemas ?? {}) as Record<string, Schema>
const METHODS = ['get', 'post', 'put', 'patch', 'delete']
const operations: Operation[] = Object.entries(spec.paths as Record<string, Schema>).flatMap(([path, ops]) =>
  Object.entries(ops).filter(([m]) => METHODS.includes(m)).map(([method, op]) => ({ method: method.toUpperCase(), path, op: op as Schema })))

/** Printable ASCII text, as a header or a query value may carry. */
const printable = (max = 40) => fc.stringMatching(new RegExp(`^[\\x20-\\x7e]{0,${max}}$`))

/** An arbitrary of values a schema describes (within bounds kept small), falling back to any JSON. */
function fromSchema (schema: Schema | undefined, depth = 0): fc.Arbitrary<unknown> {
  if (!schema || depth > 6) return fc.jsonValue({ maxDepth: 1 })
  if (schema.$ref) return fromSchema(components[String(schema.$ref).split('/').pop()!], depth + 1)
  const alternatives = schema.anyOf ?? schema.oneOf
  if (alternatives) return fc.oneof(...(alternatives as Schema[]).map((s) => fromSchema(s, depth + 1)))
  if (schema.allOf) return fromSchema(schema.allOf[0], depth + 1)
  if (schema.enum) return fc.constantFrom(...(schema.enum as unknown[]))
  if ('const' in schema) return fc.constant(schema.const)
  const base = byType(schema, depth)
  return schema.nullable ? fc.option(base, { nil: null }) : base
}

function byType (schema: Schema, depth: number): fc.Arbitrary<unknown> {
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type
  switch (type) {
    case 'string': return stringFor(schema)
    case 'integer': return fc.integer({ min: schema.minimum ?? -1_000_000, max: schema.maximum ?? 1_000_000 })
    case 'number': return fc.double({ min: schema.minimum ?? -1e9, max: schema.maximum ?? 1e9, noNaN: true })
    case 'boolean': return fc.boolean()
    case 'null': return fc.constant(null)
    case 'array': return fc.array(fromSchema(schema.items, depth + 1), { minLength: schema.minItems ?? 0, maxLength: Math.min(schema.maxItems ?? 4, 4) })
    case 'object': {
      const props = (schema.properties ?? {}) as Record<string, Schema>
      const required = ((schema.required ?? []) as string[]).filter((k) => k in props)
      const model = Object.fromEntries(Object.entries(props).map(([k, s]) => [k, fromSchema(s, depth + 1)]))
      // Often only what is required (or one field, when nothing is): each optional field is one more chance to be refused.
      const least = required.length > 0 ? required : Object.keys(props).slice(0, 1)
      const lean = Object.fromEntries(least.map((k) => [k, model[k]!]))
      return fc.oneof(fc.record(model, { requiredKeys: required }), fc.record(lean))
    }
    default: return fc.jsonValue({ maxDepth: 2 })
  }
}

function stringFor (schema: Schema): fc.Arbitrary<string> {
  const max = Math.min(schema.maxLength ?? 40, 80)
  switch (schema.format) {
    case 'uuid': return fc.uuid()
    // Mostly the last year (what intake takes), sometimes far before or after.
    case 'date-time': return fc.oneof(
      { weight: 4, arbitrary: fc.date({ min: new Date(Date.now() - 365 * 86_400_000), max: new Date(Date.now() - 60_000), noInvalidDate: true }) },
      { weight: 1, arbitrary: fc.date({ min: new Date('0001-01-01T00:00:00Z'), max: new Date('9999-12-31T00:00:00Z'), noInvalidDate: true }) }
    ).map((d) => d.toISOString())
    case 'email': return fc.emailAddress()
    case 'uri': return fc.webUrl()
    case 'iana-time-zone': return fc.constantFrom('UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Shanghai', 'Mars/Olympus')
  }
  if (schema.pattern) {
    try {
      return fc.stringMatching(new RegExp(schema.pattern as string)).filter((s) => s.length <= (schema.maxLength ?? Infinity) && s.length >= (schema.minLength ?? 0))
    } catch { /* a pattern fast-check cannot generate from: plain text below */ }
  }
  return fc.string({ minLength: schema.minLength ?? 0, maxLength: Math.max(max, schema.minLength ?? 0) })
}

/** JSON texts put in place of one value of a well-formed body: overflowing numbers, deep nesting, strings the database cannot hold. */
const HOSTILE_VALUES = ['1e400', '-1e400', '1e-400', '['.repeat(20_000) + ']'.repeat(20_000), '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000),
  '"\u0000"', '"\udc00"', '{"__proto__":{}}', '9007199254740993', '-0']
/** Bodies no schema asks for: JSON.parse overflows, deep nesting, NUL, prototype keys, not JSON at all. */
const HOSTILE_BODIES = [
  '{"value":1e400}', '[-1e400]', '['.repeat(20_000) + ']'.repeat(20_000), '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000),
  '{"reason":"a\\u0000b"}', '{"__proto__":{"x":1}}', '{"constructor":{"prototype":{}}}', '"\\ud800"', 'null', '', ' ', '{', 'NaN', '[]', '0'
]

/** The request body of an operation: its schema's values (mostly), other JSON, hostile text. */
function bodyFor (op: Schema): fc.Arbitrary<string | undefined> {
  const schema = op.requestBody?.content?.['application/json']?.schema as Schema | undefined
  const fromSpec = fromSchema(schema).map((v) => JSON.stringify(v))
  return fc.oneof(
    { weight: 5, arbitrary: fromSpec },
    { weight: 3, arbitrary: fc.tuple(fromSchema(schema), fc.nat(), fc.constantFrom(...HOSTILE_VALUES)).map(([v, at, raw]) => withValueReplaced(v, at, raw)) },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)) },
    { weight: 1, arbitrary: fc.constantFrom(...HOSTILE_BODIES) },
    { weight: 1, arbitrary: fc.string({ maxLength: 60 }) },
    { weight: 1, arbitrary: fc.constant(undefined) }
  )
}

/** A body as JSON with its (at % leaves)-th value (a scalar, or the whole body if it has none) written as `raw`. */
function withValueReplaced (value: unknown, at: number, raw: string): string {
  const MARK = '\u0001hostile\u0001'
  let leaves = 0
  JSON.stringify(value, (_k, v: unknown) => { if (v === null || typeof v !== 'object') leaves++; return v })
  if (leaves === 0) return raw
  let seen = 0
  const target = at % leaves
  const text = JSON.stringify(value, (_k, v: unknown) => (v === null || typeof v !== 'object') && seen++ === target ? MARK : v)
  return text.replace(JSON.stringify(MARK), raw)
}

const CONTENT_TYPES = ['application/json', 'application/json; charset=utf-8', 'application/json; charset=utf-16', 'application/json;charset=latin1',
  'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/merge-patch+json', '', '*/*']

interface Case {
  params: Record<string, string>
  query: Array<[string, string]>
  headers: Record<string, string>
  body: string | undefined
}

/** One call of an operation: its parameters, query, headers and body. */
function caseFor (o: Operation, ids: Record<string, string[]>): fc.Arbitrary<Case> {
  const parameters = (o.op.parameters ?? []) as Schema[]
  const pathParams = parameters.filter((p) => p.in === 'path')
  const queryParams = parameters.filter((p) => p.in === 'query')
  const headerParams = parameters.filter((p) => p.in === 'header')
  const param = (p: Schema) => fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...(ids[p.name] ?? ids.id!)) },
    { weight: 2, arbitrary: fromSchema(p.schema).map(String) },
    { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 40 }) }
  )
  const queryValue = (p: Schema): fc.Arbitrary<string[]> => fc.oneof(
    { weight: 4, arbitrary: fromSchema(p.schema).map((v) => (Array.isArray(v) ? v.map(String) : [String(v)])) },
    { weight: 1, arbitrary: printable().map((s) => [s]) }
  )
  const query = fc.tuple(
    ...queryParams.map((p) => fc.option(queryValue(p), { nil: undefined }).map((vs) => (vs ?? []).map((v) => [p.name, v] as [string, string]))),
    fc.option(fc.tuple(fc.constantFrom('foo', 'limit', 'cursor', '__proto__'), printable(20)), { nil: undefined, freq: 8 })
  ).map(([...parts]) => {
    const extra = parts.pop() as [string, string] | undefined
    return [...(parts as Array<Array<[string, string]>>).flat(), ...(extra ? [extra] : [])]
  })
  const authorization = fc.oneof(
    { weight: 12, arbitrary: fc.constant(`Bearer ${KEYS.admin}`) },
    { weight: 1, arbitrary: fc.constantFrom(`Bearer ${KEYS.writer}`, `Bearer ${KEYS.reader}`, `Bearer ${KEYS.outsider}`, 'Bearer nope', 'Basic eDp5', '') }
  )
  const headers = fc.record({
    authorization,
    contentType: fc.oneof({ weight: 10, arbitrary: fc.constant('application/json') }, { weight: 3, arbitrary: fc.constantFrom(...CONTENT_TYPES) }),
    named: fc.tuple(...headerParams.map((p) => fc.option(fc.oneof(fromSchema(p.schema).map(String), printable()), { nil: undefined })))
  }).map(({ authorization, contentType, named }) => {
    const out: Record<string, string> = {}
    if (authorization) out.authorization = authorization
    if (contentType) out['content-type'] = contentType
    headerParams.forEach((p, i) => {
      const v = named[i]
      // Header values are sent as written: keep them to what HTTP can carry.
      if (v !== undefined && /^[\x20-\x7e]*$/.test(v)) out[String(p.name)] = v
    })
    return out
  })
  return fc.record({
    params: fc.record(Object.fromEntries(pathParams.map((p) => [String(p.name), param(p)]))) as fc.Arbitrary<Record<string, string>>,
    query,
    headers,
    body: o.method === 'GET' || o.method === 'DELETE' ? fc.constant(undefined) : bodyFor(o.op)
  })
}

function urlOf (o: Operation, c: Case): string {
  const path = o.path.replace(/\{([^}]+)\}/g, (_m, name: string) => encodeURIComponent(c.params[name] ?? ''))
  const qs = c.query.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&')
  return qs ? `${path}?${qs}` : path
}

/** The tables a call can add rows to: a refused call must add none. */
const STORED = ['requests', 'transfers', 'archive_links', 'backup_restores', 'callback_deliveries']

t.test('fuzzing every operation from its OpenAPI schemas: no 5xx, coded 4xx, nothing stored by a refusal', async (t) => {
  const registry = await registryOf([{
    id: 'crm',
    driver: 'memory',
    settings: { streams: [{ name: 'contacts', match: { email: 'email' }, records: [{ id: 1, email: 'ada@example.com' }] }] }
  }])
  const app = await build(t, { registry, env: { TRANSFER_ALLOWLIST: 'https://partner.example', CALLBACK_ALLOWLIST: 'https://receiver.example', CALLBACK_SIGNING_KEYS: `k1:${'s'.repeat(32)}` } })
  const counts = async () => {
    const [row] = await app.dbh.rows<Record<string, number>>(sql.raw(`select ${STORED.map((s) => `(select count(*)::int from ${s}) as ${s}`).join(', ')}`))
    return row!
  }

  // Ids that exist, so that generated calls reach the services as well as their refusals.
  const created = await app.inject({ method: 'POST', url: '/v1/requests', headers: auth(), payload: requestBody({ subject: { email: 'ada@example.com' }, verification: { method: 'account_login' } }) })
  t.equal(created.statusCode, 202)
  const request = created.json() as { id: string, tasks: Array<{ id: string }> }
  const plain = (await app.inject({ method: 'POST', url: '/v1/requests', headers: auth(), payload: requestBody() })).json() as { id: string }
  const ids: Record<string, string[]> = {
    id: [request.id, plain.id, 'crm', '00000000-0000-4000-8000-000000000000'],
    taskId: [...request.tasks.map((x) => x.id), '00000000-0000-4000-8000-000000000000'],
    linkId: ['00000000-0000-4000-8000-000000000000'],
    transferId: ['00000000-0000-4000-8000-000000000000'],
    deliveryId: ['00000000-0000-4000-8000-000000000000']
  }

  const statuses = new Map<number, number>()
  const failures: string[] = []
  let cases = 0
  const started = Date.now()
  for (const o of operations) {
    const result = await fc.check(fc.asyncProperty(caseFor(o, ids), async (c) => {
      const before = await counts()
      const res = await app.inject({
        method: o.method as 'GET',
        url: urlOf(o, c),
        headers: c.headers,
        ...(c.body === undefined ? {} : { payload: c.body })
      })
      cases++
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
      const what = `${o.method} ${urlOf(o, c).slice(0, 120)} → ${res.statusCode}`
      if (res.statusCode >= 500) throw new Error(`${what}: ${res.body.slice(0, 300)}`)
      if (res.statusCode >= 400) {
        let code: unknown
        try { code = (JSON.parse(res.body) as { code?: unknown }).code } catch {}
        if (typeof code !== 'string' || !/^DSR_[A-Z_]+$/.test(code)) throw new Error(`${what} without a DSR_ code: ${res.body.slice(0, 200)}`)
        const after = await counts()
        const grown = STORED.filter((s) => after[s] !== before[s])
        if (grown.length > 0) throw new Error(`${what} (${String(code)}) stored rows in ${grown.join(', ')}`)
      }
    }), { seed: SEED, numRuns: RUNS_PER_OPERATION, endOnFailure: true })
    if (result.failed) failures.push(`${o.method} ${o.path}: ${String((result.errorInstance as Error | undefined)?.message ?? result.counterexample)}`)
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1)
  const by = (lo: number, hi: number) => [...statuses].filter(([s]) => s >= lo && s < hi).reduce((n, [, c]) => n + c, 0)
  t.comment(`${operations.length} operations, ${cases} cases in ${seconds} s (seed ${SEED}): ${by(200, 300)} × 2xx, ${by(400, 500)} × 4xx, ${by(500, 600)} × 5xx; ` +
    `statuses ${JSON.stringify(Object.fromEntries([...statuses].sort(([a], [b]) => a - b)))}`)
  t.strictSame(failures, [], 'no 5xx, every 4xx coded, nothing stored by a refusal')
  t.equal(by(500, 600), 0, '0 × 5xx')
  t.ok(operations.length >= 38, `${operations.length} operations covered`)
  t.ok(cases >= operations.length * RUNS_PER_OPERATION, `${cases} cases run`)
})
