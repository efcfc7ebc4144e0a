import t from 'tap'
import { readFileSync } from 'node:fs'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { catalogued, DsrError, ERROR_CATALOGUE, Errors, JobErrors } from '../src/errors.js'
import { withErrorTable } from '../src/cli/docs-errors.js'
import { toApiError } from '../src/plugins/external/errors.js'
import { ConnectorErrorCodes } from '../connectors/types.js'
import { auth, build, testDb } from './helper.js'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { RETRY_AFTER_SECONDS } from '../src/db/unreachable.js'
import { ROOT } from './paths.js'

t.test("the README's table of error codes is the catalogue's", async (t) => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  t.equal(readme, withErrorTable(readme), 'README.md is what `npm run docs:errors` writes (run it after changing src/errors.ts)')
})

t.test('the catalogue: one entry per error class, each code once, each with its status and when', async (t) => {
  const codes = ERROR_CATALOGUE.map((e) => e.code)
  t.equal(new Set(codes).size, codes.length, 'no code twice')
  t.equal(codes.length, Object.keys(Errors).length + Object.keys(JobErrors).length + Object.keys(ConnectorErrorCodes).length,
    'every error class and every connector code is in the catalogue, and nothing else')
  for (const [name, E] of Object.entries(Errors)) {
    const err = new (E as new (...a: unknown[]) => Error & { code: string, statusCode: number })('x', 'y', 1)
    const entry = catalogued(err.code)
    t.ok(entry && entry.status === err.statusCode && entry.when.length > 0, `${name}: ${err.code} ${err.statusCode}`)
    t.ok(err instanceof DsrError && err instanceof E, `${name} is recognised with instanceof`)
    t.equal(E.code, err.code, `${name}.code names its code`)
    t.match(err.code, /^DSR_[A-Z_]+$/)
  }
  for (const [name, E] of Object.entries(JobErrors)) {
    const err = new (E as new (...a: unknown[]) => Error & { code: string })('x')
    const entry = catalogued(err.code)
    t.ok(entry && entry.status === null && entry.on.length > 0 && entry.when.length > 0, `${name}: ${err.code}, recorded on ${entry?.on.join(', ')}`)
    t.ok(err instanceof DsrError && err instanceof E, `${name} is recognised with instanceof`)
  }
  for (const code of Object.values(ConnectorErrorCodes)) {
    const entry = catalogued(code)
    t.ok(entry && entry.on.includes('task') && typeof entry.retryable === 'boolean', `connector code ${code} is catalogued, with whether it is retried`)
  }
})

t.test('every DSR_ code written in the source is one of the catalogue', async (t) => {
  const found = new Set<string>()
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name)
      if (e.isDirectory()) walk(path)
      else if (e.name.endsWith('.ts')) for (const m of readFileSync(path, 'utf8').matchAll(/['`"](DSR_[A-Z0-9_]+)['`"]/g)) found.add(m[1]!)
    }
  }
  for (const dir of ['src', 'connectors', 'routes']) walk(join(ROOT, dir))
  t.ok(found.size > 30, `${found.size} codes written in src/, connectors/ and routes/`)
  t.same([...found].filter((code) => !catalogued(code)), [], 'none outside the catalogue')
})

t.test('the API answers the code of one of our errors, never a code an error of another kind happens to carry', async (t) => {
  t.match(toApiError(new Errors.RequestNotFound('x') as never), { statusCode: 404, code: 'DSR_REQUEST_NOT_FOUND' })
  const foreign = Object.assign(new Error('a library error that looks like ours'), { code: 'DSR_REQUEST_NOT_FOUND', statusCode: 404 })
  t.match(toApiError(foreign as never), { statusCode: 404, code: 'DSR_BAD_REQUEST' }, 'recognised by class, not by the prefix of its code')
  t.match(toApiError(new JobErrors.ArchiveUnreadable('x') as never), { statusCode: 500, code: 'DSR_INTERNAL', message: 'Internal error' }, 'a job error reaching the API is internal')
})

t.test('errors are answered as application/problem+json (RFC 9457), with the fields callers read before', async (t) => {
  const app = await build(t)
  const id = '00000000-0000-4000-8000-000000000000'
  const notFound = await app.inject({ url: `/v1/requests/${id}`, headers: auth() })
  t.equal(notFound.statusCode, 404)
  t.match(notFound.headers['content-type'], /^application\/problem\+json; charset=utf-8$/)
  t.strictSame(notFound.json(), {
    type: '/errors/DSR_REQUEST_NOT_FOUND',
    title: 'Request not found',
    status: 404,
    detail: `No request with id ${id}`,
    statusCode: 404,
    code: 'DSR_REQUEST_NOT_FOUND',
    message: `No request with id ${id}`
  }, 'served through the route\'s response schema, every member kept')

  const invalid = await app.inject({ method: 'POST', url: '/v1/requests', headers: auth(), payload: { type: 'nonsense' } })
  t.equal(invalid.statusCode, 400)
  t.match(invalid.headers['content-type'], /^application\/problem\+json/)
  t.match(invalid.json(), { type: '/errors/DSR_VALIDATION_FAILED', title: 'Validation failed', status: 400, code: 'DSR_VALIDATION_FAILED', details: Array })

  const noRoute = await app.inject({ url: '/v1/nothing-here' })
  t.match(noRoute.headers['content-type'], /^application\/problem\+json/)
  t.match(noRoute.json(), { type: '/errors/DSR_ROUTE_NOT_FOUND', status: 404, statusCode: 404 })

  t.test('the problem type names a page that describes the code, without an API key', async (t) => {
    const page = await app.inject({ url: (notFound.json() as { type: string }).type })
    t.equal(page.statusCode, 200)
    t.strictSame(page.json(), {
      type: '/errors/DSR_REQUEST_NOT_FOUND', title: 'Request not found', code: 'DSR_REQUEST_NOT_FOUND', status: 404, recorded_on: [], retryable: null, when: catalogued('DSR_REQUEST_NOT_FOUND')!.when
    })
    const recordedOnly = await app.inject({ url: '/errors/DSR_CONNECTOR_NOT_CONFIGURED' })
    t.match(recordedOnly.json(), { code: 'DSR_CONNECTOR_NOT_CONFIGURED', status: null, recorded_on: ['task'], retryable: false }, 'a code only recorded on a task has its page too')
    const unknown = await app.inject({ url: '/errors/DSR_NO_SUCH_CODE' })
    t.equal(unknown.statusCode, 404)
    t.match(unknown.json(), { code: 'DSR_ROUTE_NOT_FOUND', type: '/errors/DSR_ROUTE_NOT_FOUND' })
  })
})

t.test('a request that arrives while the service closes is answered 503 with Retry-After, as a problem', async (t) => {
  const dbh = await testDb(t)
  const app = await buildApp({ config: loadConfig({ LOG_LEVEL: 'silent' }), dbh, apiKeys: new Map(), startEngine: false })
  // preClose runs before the server stops listening: a request made then is one arriving during close.
  let during: { status: number, retryAfter: string | null, type: string | null, body: unknown } | undefined
  app.addHook('preClose', async () => {
    const res = await fetch(`${base}/health/live`)
    during = { status: res.status, retryAfter: res.headers.get('retry-after'), type: res.headers.get('content-type'), body: await res.json() }
  })
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  t.equal((await fetch(`${base}/health/live`)).status, 200, 'answered before')
  await app.close()
  t.equal(during?.status, 503)
  t.equal(during?.retryAfter, String(RETRY_AFTER_SECONDS))
  t.match(during?.type, /^application\/problem\+json/)
  t.match(during?.body, { type: '/errors/DSR_UNAVAILABLE', status: 503, code: 'DSR_UNAVAILABLE' })
})
