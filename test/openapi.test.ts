import { readFileSync } from 'node:fs'
import t from 'tap'
import type { TSchema } from 'typebox'
import type { FastifySchema } from 'fastify'
import { Validator } from '@seriousme/openapi-schema-validator'
import { CreateRequestSchema, DataSubjectRequestSchema, RequestListSchema } from '../src/schemas/requests.js'
import { ArchiveLinkSchema, ArchiveSummarySchema } from '../src/schemas/archives.js'
import { ErasureReceiptResponseSchema } from '../src/schemas/receipts.js'
import { ErrorSchema, ErrorTypeSchema } from '../src/schemas/common.js'
import { apiSchemas } from '../src/schemas/index.js'
import { createValidatorCompiler } from '../src/validation.js'
import { build } from './helper.js'
import { fromRoot } from './paths.js'

const STALE = 'openapi/openapi.json is out of date with the routes: run `npm run openapi` and commit the result'
const checkedInPath = fromRoot('openapi/openapi.json')

type Operation = {
  tags?: string[]
  operationId?: string
  summary?: string
  security?: unknown[]
  responses?: Record<string, unknown>
}
type Doc = {
  openapi: string
  servers?: Array<{ url: string }>
  paths: Record<string, Record<string, Operation>>
  components: { schemas: Record<string, Record<string, unknown>> }
}

const HTTP_METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'])
const allSchemas: readonly TSchema[] = apiSchemas
const idOf = (s: TSchema) => (s as { $id?: string }).$id!

t.test('OpenAPI document', async (t) => {
  const app = await build(t)
  const res = await app.inject({ url: '/openapi.json' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^application\/json/)
  const served = res.json() as Doc
  const checkedInText = readFileSync(checkedInPath, 'utf8')

  t.test('the served document is the checked-in openapi/openapi.json', async (t) => {
    t.strictSame(served, JSON.parse(checkedInText), STALE)
    // Byte for byte too, as src/cli/openapi.ts writes it, so regenerating yields no diff.
    t.equal(checkedInText, `${JSON.stringify(served, null, 2)}\n`, STALE)
  })

  t.test('it is a valid OpenAPI document', async (t) => {
    const result = await new Validator().validate(structuredClone(served) as Record<string, unknown>)
    t.ok(result.valid, 'valid per @seriousme/openapi-schema-validator')
    if (!result.valid) t.comment(JSON.stringify(result.errors, null, 2))
    t.match(served.openapi, /^3\./)
  })

  t.test('every /v1 operation is fully described', async (t) => {
    const operations = Object.entries(served.paths)
      .filter(([path]) => path.startsWith('/v1/'))
      .flatMap(([path, ops]) => Object.entries(ops)
        .filter(([method]) => HTTP_METHODS.has(method))
        .map(([method, op]) => ({ name: `${method.toUpperCase()} ${path}`, op })))
    t.ok(operations.length >= 5, `${operations.length} operations under /v1`)
    const operationIds = new Set<string>()
    for (const { name, op } of operations) {
      t.ok(Array.isArray(op.tags) && op.tags.length > 0, `${name} has tags`)
      t.type(op.operationId, 'string', `${name} has an operationId`)
      t.ok(op.operationId && !operationIds.has(op.operationId), `${name}: operationId ${op.operationId} is unique`)
      if (op.operationId) operationIds.add(op.operationId)
      t.ok(typeof op.summary === 'string' && op.summary.length > 0, `${name} has a summary`)
      t.ok(Array.isArray(op.security) && op.security.length > 0, `${name} declares security`)
      t.ok(op.responses?.['401'], `${name} documents 401`)
      t.ok(op.responses?.['403'], `${name} documents 403`)
    }
  })

  t.test('what a generated client needs: operation ids everywhere, no trailing slash, nothing with a default required', async (t) => {
    const all = Object.entries(served.paths).flatMap(([path, ops]) => Object.entries(ops)
      .filter(([method]) => HTTP_METHODS.has(method)).map(([method, op]) => ({ path, name: `${method.toUpperCase()} ${path}`, op })))
    t.same(all.filter((o) => typeof o.op.operationId !== 'string').map((o) => o.name), [], 'every operation has an operationId')
    t.same(all.filter((o) => o.path.length > 1 && o.path.endsWith('/')).map((o) => o.name), [], 'no path ends in a slash')
    t.ok((served.servers ?? []).length > 0, 'servers is given')
    const requiredWithDefault: string[] = []
    for (const o of all) {
      for (const p of (o.op as { parameters?: Array<{ name: string, required?: boolean, schema?: { default?: unknown } }> }).parameters ?? []) {
        if (p.required === true && p.schema?.default !== undefined) requiredWithDefault.push(`${o.name} ${p.name}`)
      }
    }
    const walk = (node: unknown, at: string): void => {
      if (Array.isArray(node)) { node.forEach((n, i) => walk(n, `${at}/${i}`)); return }
      if (node === null || typeof node !== 'object') return
      const { properties, required } = node as { properties?: Record<string, { default?: unknown }>, required?: string[] }
      for (const [name, prop] of Object.entries(properties ?? {})) {
        if (required?.includes(name) && prop && typeof prop === 'object' && prop.default !== undefined) requiredWithDefault.push(`${at} ${name}`)
      }
      for (const [k, v] of Object.entries(node)) walk(v, `${at}/${k}`)
    }
    walk(served.components.schemas, '#/components/schemas')
    t.same(requiredWithDefault, [], 'a field with a default is optional to the caller')
    const text = JSON.stringify(served)
    t.notOk(text.includes('"Default Response"'), 'every response says what it means')
    t.notOk(text.includes('"enum":[null]'), 'null is written as nullable, not as an enum of null')
    const untypedEnums: unknown[] = []
    const enums = (node: unknown): void => {
      if (Array.isArray(node)) { node.forEach(enums); return }
      if (node === null || typeof node !== 'object') return
      if ('enum' in node && !('type' in node)) untypedEnums.push(node)
      Object.values(node).forEach(enums)
    }
    enums(served)
    t.same(untypedEnums, [], 'every enum has a type')
  })

  t.test('shared schemas are components named by their $id', async (t) => {
    const components = served.components.schemas
    for (const schema of allSchemas) {
      const id = idOf(schema)
      t.type(id, 'string', 'every shared schema has an $id')
      t.ok(components[id], `components.schemas.${id} exists`)
    }
    t.strictSame(Object.keys(components).sort(), allSchemas.map(idOf).sort(), 'no component under a generated (def-N) name')
    for (const name of ['Error', 'DataSubjectRequest', 'CreateRequest', 'RequestList', 'RequestEvent', 'CancelRequest']) {
      t.ok(components[name], `${name} is a component`)
    }
    // Every $ref in the document points at a component that exists.
    const refs = new Set<string>()
    JSON.stringify(served, (key, value) => {
      if (key === '$ref' && typeof value === 'string') refs.add(value)
      return value
    })
    for (const ref of refs) {
      const name = ref.replace('#/components/schemas/', '')
      t.ok(ref.startsWith('#/components/schemas/') && components[name], `${ref} resolves`)
    }
  })

  t.test('the main schemas carry examples that are valid', async (t) => {
    const compile = createValidatorCompiler(() => Object.fromEntries(allSchemas.map((s) => [idOf(s), s])))
    const receipt = { ...ErasureReceiptResponseSchema, $id: 'ErasureReceiptResponse' }
    const receiptDoc = served.paths['/v1/requests/{id}/receipt']!.get!.responses!['200'] as { content: Record<string, { schema: Record<string, unknown>, example?: unknown }> }
    // Inline in the document, where @fastify/swagger puts the example beside the schema.
    const media = receiptDoc.content['application/json']!
    served.components.schemas.ErasureReceiptResponse = { ...media.schema, example: media.example }
    for (const schema of [CreateRequestSchema, DataSubjectRequestSchema, RequestListSchema, ArchiveSummarySchema, ArchiveLinkSchema, ErrorSchema, ErrorTypeSchema, receipt]) {
      const id = idOf(schema)
      const examples = (schema as { examples?: unknown[] }).examples
      t.ok(Array.isArray(examples) && examples.length > 0, `${id} has examples`)
      // OpenAPI 3.0 schemas hold a single `example`; @fastify/swagger takes the first of `examples`.
      const component = served.components.schemas[id]!
      const documented = component.examples ?? component.example
      t.ok(documented, `${id} has an example in the document`)
      if (Array.isArray(component.examples)) t.strictSame(component.examples, examples)
      else t.strictSame(component.example, examples?.[0])
      const validate = compile({ schema: schema as unknown as FastifySchema, httpPart: 'body', method: 'POST', url: '/' }) as unknown as ((v: unknown) => boolean) & { errors?: unknown }
      for (const [i, example] of (examples ?? []).entries()) {
        t.ok(validate(structuredClone(example)), `${id} example ${i} validates against ${id}`)
        if (validate.errors && (validate.errors as unknown[]).length) t.comment(JSON.stringify(validate.errors))
      }
    }
    delete served.components.schemas.ErasureReceiptResponse
  })

  t.test('the main operations show an example of what they take and answer', async (t) => {
    const schemas = served.components.schemas
    const exampleOf = (media: { schema?: Record<string, unknown>, example?: unknown } | undefined) => {
      const schema = media?.schema ?? {}
      const target = typeof schema.$ref === 'string' ? schemas[schema.$ref.replace('#/components/schemas/', '')] : schema
      return media?.example ?? target?.example
    }
    type Media = Record<string, { schema?: Record<string, unknown>, example?: unknown }>
    const op = (path: string, method: string) => served.paths[path]![method] as Operation & { requestBody?: { content: Media } }
    const answer = (path: string, method: string, status: string) => (op(path, method).responses![status] as { content: Media }).content
    t.ok(exampleOf(op('/v1/requests', 'post').requestBody?.content['application/json']), 'createRequest: the body')
    t.ok(exampleOf(answer('/v1/requests', 'post', '202')['application/json']), 'createRequest: the answer')
    t.ok(exampleOf(answer('/v1/requests/{id}', 'get', '200')['application/json']), 'getRequest')
    t.ok(exampleOf(answer('/v1/requests', 'get', '200')['application/json']), 'listRequests')
    t.ok(exampleOf(answer('/v1/requests/{id}/archive/links', 'post', '201')['application/json']), 'createArchiveLink')
    t.ok(exampleOf(answer('/v1/requests/{id}/archive/rebuild', 'post', '202')['application/json']), 'rebuildArchive (the archive summary)')
    t.ok(exampleOf(answer('/v1/requests/{id}/receipt', 'get', '200')['application/json']), 'getErasureReceipt')
    t.ok(exampleOf(answer('/v1/requests/{id}', 'get', '404')['application/problem+json']), 'an error')
  })

  t.test('errors are problem documents, and responses name the headers they send', async (t) => {
    type Response = { headers?: Record<string, unknown>, content?: Record<string, unknown> }
    const all = Object.entries(served.paths).flatMap(([path, ops]) => Object.entries(ops)
      .filter(([method]) => HTTP_METHODS.has(method))
      .flatMap(([method, op]) => Object.entries(op.responses ?? {}).map(([status, r]) => ({ name: `${method.toUpperCase()} ${path} ${status}`, status, r: r as Response }))))
    const errors = all.filter((x) => Number(x.status) >= 400 && !(x.name.startsWith('GET /health/ready')))
    t.ok(errors.length > 100, `${errors.length} error responses`)
    t.same(errors.filter((x) => Object.keys(x.r.content ?? {}).join() !== 'application/problem+json').map((x) => x.name), [],
      'every error response is application/problem+json, and only that')
    const error = served.components.schemas.Error as { properties: Record<string, { enum?: string[] }>, required: string[] }
    t.ok(['type', 'title', 'status', 'detail', 'code', 'message', 'statusCode'].every((k) => error.required.includes(k)), 'RFC 9457 members beside the old ones')
    t.ok(error.properties.code!.enum!.includes('DSR_REQUEST_NOT_FOUND') && !error.properties.code!.enum!.includes('DSR_CONNECTOR_NOT_CONFIGURED'),
      'code is an enum of the codes the API answers')
    const headersOf = (name: string) => Object.keys(all.find((x) => x.name === name)?.r.headers ?? {})
    t.same(headersOf('POST /v1/requests 202'), ['Location', 'Idempotent-Replayed'])
    t.same(headersOf('POST /v1/requests/{id}/extension 200'), ['Idempotent-Replayed'])
    t.same(headersOf('POST /v1/backups/restores 200'), ['Idempotent-Replayed'])
    t.same(headersOf('POST /v1/requests/{id}/transfers 202'), ['Location'])
    const download = ['Content-Disposition', 'Content-Length', 'ETag', 'Accept-Ranges', 'Last-Modified', 'Cache-Control', 'X-Content-Type-Options']
    for (const method of ['GET', 'HEAD']) {
      t.same(headersOf(`${method} /v1/requests/{id}/archive 200`), download, `${method} archive 200`)
      t.same(headersOf(`${method} /v1/requests/{id}/archive 206`), [...download, 'Content-Range'], `${method} archive 206`)
      t.same(headersOf(`${method} /v1/requests/{id}/archive 409`), ['Retry-After'])
      t.same(headersOf(`${method} /v1/requests/{id}/archive 416`), ['Content-Range'])
    }
    t.same(headersOf('GET /v1/archive-links/{linkId} 206'), [...download, 'Content-Range', 'Referrer-Policy'])
    t.same(headersOf('GET /v1/requests/{id} 503'), ['Retry-After'])
    t.same(headersOf('GET /.well-known/jwks.json 200'), ['Cache-Control'])
    t.ok(served.paths['/metrics']?.get, 'GET /metrics is documented')
  })

  t.test('Swagger UI is served at /docs', async (t) => {
    let docs = await app.inject({ url: '/docs' })
    if (docs.statusCode >= 300 && docs.statusCode < 400) {
      t.ok(docs.headers.location, 'a redirect names its target')
      docs = await app.inject({ url: new URL(String(docs.headers.location), 'http://localhost/docs').pathname })
    }
    t.equal(docs.statusCode, 200)
    t.match(docs.headers['content-type'], /^text\/html/)
    t.match(docs.body, /swagger/i)
    t.equal((await app.inject({ url: '/docs/' })).statusCode, 200, '/docs/ answers directly')
  })
})
