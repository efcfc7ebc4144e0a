import { spawn, type ChildProcess } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { compactVerify, importJWK } from 'jose'
import postgres from 'postgres'
import t from 'tap'
import { createDsarClient, isProblem, type DataSubjectRequest, type DsarClient } from '../../clients/typescript/src/index.js'
import { EnvSchema } from '../../src/config.js'
import { hashKey } from '../../src/services/api-keys.js'
import { NO_CHILD_COVERAGE } from '../child-env.js'
import { ROOT, nodeArgs } from '../paths.js'

/**
 * The README's walkthrough through the typed client (clients/typescript), against the service
 * started as a process on real Postgres with the sample systems: an access request (idempotent),
 * its archive (HEAD, whole, a range, a signed link), an erasure, and its signed receipt, verified
 * with the published keys. Needs DATABASE_URL (a Postgres server where databases can be created).
 */
t.setTimeout(300_000)
const adminUrl = process.env.DATABASE_URL

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function until<T> (what: string, read: () => Promise<T>, done: (v: T) => boolean, ms = 60_000): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const value = await read()
    if (done(value)) return value
    if (Date.now() > end) throw new Error(`${what}: not reached in ${ms} ms (last: ${JSON.stringify(value).slice(0, 500)})`)
    await sleep(250)
  }
}

async function startService (t: { teardown: (fn: () => unknown) => void }, databaseUrl: string, apiKeys: string): Promise<string> {
  const env: NodeJS.ProcessEnv = { ...process.env }
  for (const key of Object.keys(EnvSchema.properties)) delete env[key]
  for (const key of Object.keys(env)) {
    if (key === 'NODE_OPTIONS' || key === 'TAP' || key.startsWith('TAP_') || key.startsWith('_TAPJS_')) delete env[key]
  }
  const server: ChildProcess = spawn(process.execPath, nodeArgs('src/server.ts'), {
    cwd: ROOT,
    env: {
      ...env,
      ...NO_CHILD_COVERAGE,
      DATABASE_URL: databaseUrl,
      MIGRATE_ON_START: 'true',
      API_KEYS: apiKeys,
      PORT: '0',
      HOST: '127.0.0.1',
      SCHEDULER_ENABLED: 'false'
    },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  t.teardown(() => { server.kill('SIGKILL') })
  let out = ''
  server.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d })
  server.stderr!.setEncoding('utf8').on('data', (d: string) => { out += d })
  const port = await new Promise<string>((resolve, reject) => {
    const timer = setInterval(() => {
      const found = /listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(out)?.[1]
      if (found) { clearInterval(timer); resolve(found) }
    }, 100)
    server.on('exit', (code) => { clearInterval(timer); reject(new Error(`the service exited (${code}): ${out}`)) })
  })
  return `http://127.0.0.1:${port}`
}

async function readRequest (dsar: DsarClient, id: string): Promise<DataSubjectRequest> {
  const { data, error } = await dsar.GET('/v1/requests/{id}', { params: { path: { id } } })
  if (!data) throw new Error(`GET /v1/requests/${id}: ${JSON.stringify(error)}`)
  return data
}

t.test('the walkthrough through the typed client, against the service on Postgres', { skip: adminUrl ? false : 'needs DATABASE_URL' }, async (t) => {
  const admin = postgres(adminUrl!, { max: 1, onnotice: () => {} })
  const name = `dsr_client_${randomBytes(6).toString('hex')}`
  await admin.unsafe(`create database ${name}`)
  t.teardown(async () => {
    await admin.unsafe(`drop database if exists ${name} with (force)`)
    await admin.end()
  })
  const url = new URL(adminUrl!)
  url.pathname = `/${name}`
  const apiKey = `dsr_${randomBytes(24).toString('hex')}`
  const baseUrl = await startService(t, url.toString(), JSON.stringify([{ name: 'walkthrough', scopes: ['admin'], sha256: hashKey(apiKey) }]))
  const dsar = createDsarClient({ baseUrl, apiKey })

  // An access request for Ada, verified at intake: retried with the same Idempotency-Key, the same request.
  const body = {
    type: 'access' as const,
    regime: 'gdpr' as const,
    channel: 'web_form' as const,
    subject: { email: 'ada@example.com' },
    verification: { method: 'account_login' as const }
  }
  const first = await dsar.POST('/v1/requests', { body, params: { header: { 'idempotency-key': 'ticket-4711' } } })
  t.equal(first.response.status, 202)
  const id = first.data!.id
  t.equal(first.response.headers.get('location'), `/v1/requests/${id}`, 'Location names the request')
  t.equal(first.response.headers.get('idempotent-replayed'), null)
  const again = await dsar.POST('/v1/requests', { body, params: { header: { 'idempotency-key': 'ticket-4711' } } })
  t.equal(again.data?.id, id, 'the retry answers the same request')
  t.equal(again.response.headers.get('idempotent-replayed'), 'true', 'and says it is a replay')

  const completed = await until('the access request completes with its archive', () => readRequest(dsar, id), (r) => r.archive?.status === 'ready')
  t.equal(completed.status, 'completed')
  const items = await dsar.GET('/v1/requests/{id}/items', { params: { path: { id }, query: { limit: 100 } } })
  t.ok((items.data?.data.length ?? 0) > 0, 'what was collected about her')

  // Her archive: its headers, the whole zip, a range, and a signed link that needs no API key.
  const head = await dsar.HEAD('/v1/requests/{id}/archive', { params: { path: { id } } })
  t.equal(head.response.status, 200)
  const etag = head.response.headers.get('etag')
  t.equal(etag, `"${completed.archive!.sha256}"`, 'ETag is the SHA-256 of the zip')
  t.equal(head.response.headers.get('accept-ranges'), 'bytes')
  const zip = await dsar.GET('/v1/requests/{id}/archive', { params: { path: { id } }, parseAs: 'arrayBuffer' })
  const bytes = Buffer.from(zip.data!)
  t.equal(bytes.length, completed.archive!.size, 'the whole zip')
  t.equal(bytes.subarray(0, 2).toString(), 'PK', 'a zip')
  t.equal(`"${createHash('sha256').update(bytes).digest('hex')}"`, etag, 'its SHA-256 is its ETag')
  t.equal(zip.response.headers.get('content-disposition'), `attachment; filename="personal-data-${id}.zip"`)
  t.equal(zip.response.headers.get('content-length'), head.response.headers.get('content-length'))
  const range = await dsar.GET('/v1/requests/{id}/archive', { params: { path: { id }, header: { range: 'bytes=0-99', 'if-range': etag! } }, parseAs: 'arrayBuffer' })
  t.equal(range.response.status, 206)
  t.equal(range.response.headers.get('content-range'), `bytes 0-99/${bytes.length}`)
  t.same(Buffer.from(range.data!), bytes.subarray(0, 100), 'the first 100 bytes')
  const link = await dsar.POST('/v1/requests/{id}/archive/links', { params: { path: { id } }, body: {} })
  t.equal(link.response.status, 201)
  const anonymous = createDsarClient({ baseUrl })
  const [linkId, query] = link.data!.url.replace('/v1/archive-links/', '').split('?') as [string, string]
  const byLink = await anonymous.GET('/v1/archive-links/{linkId}', {
    params: { path: { linkId }, query: Object.fromEntries(new URLSearchParams(query)) },
    parseAs: 'arrayBuffer'
  })
  t.equal(byLink.response.status, 200, 'the signed link works without an API key')
  t.equal(byLink.data?.byteLength, bytes.length)

  // Erase her, then the signed receipt, checked with the key the service publishes.
  const erasure = await dsar.POST('/v1/requests', {
    body: { type: 'erasure', regime: 'gdpr', subject: { email: 'ada@example.com' }, verification: { method: 'account_login' } }
  })
  t.equal(erasure.response.status, 202)
  const erasureId = erasure.data!.id
  const erased = await until('the erasure closes', () => readRequest(dsar, erasureId), (r) => r.status === 'completed' || r.status === 'partially_completed')
  t.equal(erased.status, 'completed')
  const receipt = await dsar.GET('/v1/requests/{id}/receipt', { params: { path: { id: erasureId } } })
  t.equal(receipt.response.status, 200)
  t.equal(receipt.data!.receipt.request_id, erasureId)
  t.ok(receipt.data!.receipt.connectors.length > 0, 'what each system did')
  const jwks = await anonymous.GET('/.well-known/jwks.json')
  const jwk = jwks.data!.keys.find((k) => k.kid === receipt.data!.kid)
  t.ok(jwk, 'the receipt names a published key')
  const verified = await compactVerify(receipt.data!.jws, await importJWK({ ...jwk!, alg: 'EdDSA' }, 'EdDSA'))
  t.same(JSON.parse(new TextDecoder().decode(verified.payload)), receipt.data!.receipt, 'the signature holds, over the receipt as answered')

  // An error is a typed problem: application/problem+json, with a code to switch on.
  const missing = await dsar.GET('/v1/requests/{id}', { params: { path: { id: '00000000-0000-4000-8000-000000000000' } } })
  t.equal(missing.response.status, 404)
  t.match(missing.response.headers.get('content-type'), /^application\/problem\+json/)
  t.ok(isProblem(missing.error), 'the error is a Problem')
  t.equal(missing.error?.code, 'DSR_REQUEST_NOT_FOUND')
  t.equal(missing.error?.type, '/errors/DSR_REQUEST_NOT_FOUND')
  const refused = await dsar.GET('/v1/requests/{id}/receipt', { params: { path: { id } } })
  t.equal(refused.error?.code, 'DSR_RECEIPT_NOT_AVAILABLE', 'an access request has no receipt')
})
