import { createHash, randomBytes, randomUUID } from 'node:crypto'
import http, { type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import t from 'tap'
import { ZipArchive } from 'archiver'
import { eq, sql } from 'drizzle-orm'
import { archives } from '../../src/db/schema.js'
import { transferAttempts, transfers } from '../../src/db/schema-transfers.js'
import type { HostResolver } from '../../src/transfers/addresses.js'
import { transferSettings } from '../../src/transfers/settings.js'
import { loadConfig } from '../../src/config.js'
import { TRANSFER_QUEUE } from '../../src/jobs/queue.js'
import { auth, build, requestBody, waitFor } from '../helper.js'

type Tap = Parameters<typeof build>[0]
type App = Awaited<ReturnType<typeof build>>

const TOKEN = 'Bearer receiver-secret-7c1f0e'
const SECRET_KEY = randomBytes(32).toString('base64')

/** What a receiver saw of one request body. */
interface Body { bytes: number, sha256: string, complete: boolean }

function readBody (req: IncomingMessage): Promise<Body> {
  return new Promise((resolve) => {
    const hash = createHash('sha256')
    let bytes = 0
    let settled = false
    const settle = (complete: boolean) => {
      if (settled) return
      settled = true
      resolve({ bytes, sha256: hash.digest('base64'), complete })
    }
    req.on('data', (chunk: Buffer) => { hash.update(chunk); bytes += chunk.length })
    req.once('end', () => settle(true))
    req.once('aborted', () => settle(false))
    req.once('error', () => settle(false))
    req.once('close', () => settle(req.complete))
  })
}

/** A local receiver on 127.0.0.1 that counts the TCP connections it accepts. */
async function listen (t: Tap, handler: (req: IncomingMessage, res: http.ServerResponse) => void) {
  const server = http.createServer(handler)
  let connections = 0
  server.on('connection', () => { connections++ })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  }))
  const { port } = server.address() as AddressInfo
  return { port, origin: `http://127.0.0.1:${port}`, get connections () { return connections } }
}

/** Builds a small real zip and records it as the request's ready archive, as the archive job would. */
async function storeArchive (app: App, requestId: string, opts: { recordedSha256?: string } = {}) {
  const zip = new ZipArchive({ zlib: { level: 6 } })
  const chunks: Buffer[] = []
  zip.on('data', (chunk: Buffer) => chunks.push(chunk))
  const ended = new Promise<void>((resolve, reject) => { zip.on('end', () => resolve()); zip.on('error', reject) })
  zip.append(randomBytes(1_500_000), { name: 'support/attachments/scan.bin', store: true })
  zip.append(`${JSON.stringify({ id: 'c-1', plan: 'pro' })}\n`, { name: 'crm/contacts.ndjson' })
  await zip.finalize()
  await ended
  const body = Buffer.concat(chunks)
  const archiveId = randomUUID()
  const storageKey = `archives/${requestId}/${archiveId}.zip`
  const stored = await app.storage.put(storageKey, Readable.from([body]))
  await app.dbh.db.insert(archives).values({
    id: archiveId, requestId, status: 'ready', storageKey, size: stored.size, sha256: opts.recordedSha256 ?? stored.sha256, readyAt: new Date()
  })
  return { size: stored.size, sha256: stored.sha256, base64: Buffer.from(stored.sha256, 'hex').toString('base64') }
}

async function newRequest (app: App): Promise<string> {
  const res = await app.inject({ method: 'POST', url: '/v1/requests', headers: auth(), payload: requestBody({ type: 'portability' }) })
  return res.json().id
}

async function settled (app: App, requestId: string, transferId: string) {
  return waitFor(async () => {
    const res = await app.inject({ url: `/v1/requests/${requestId}/transfers/${transferId}`, headers: auth() })
    const body = res.json()
    return ['delivered', 'failed'].includes(body.status) ? body : null
  }, 30_000, `transfer ${transferId} to end`)
}

/** DNS as the tests need it: one name of the wildcard domain points at loopback. */
const resolverCalls: string[] = []
const resolveHost: HostResolver = async (host) => {
  resolverCalls.push(host)
  if (host === 'evil.receiver.test') return [{ address: '127.0.0.1', family: 4 }]
  if (host === 'localhost') return [{ address: '127.0.0.1', family: 4 }]
  throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' })
}

t.test('direct transfers', async (t) => {
  // The receiver that fails twice (503 with Retry-After: 0, then a dropped connection), then accepts.
  let flakyCalls = 0
  const accepted: Array<{ headers: http.IncomingHttpHeaders, body: Body }> = []
  const flaky = await listen(t, (req, res) => {
    const call = ++flakyCalls
    if (call === 2) {
      req.socket.destroy()
      return
    }
    void readBody(req).then((body) => {
      if (call === 1) {
        res.writeHead(503, { 'retry-after': '0', 'content-type': 'text/plain' }).end('busy, try again')
        return
      }
      const digest = /^sha-256=:([A-Za-z0-9+/=]+):$/.exec(String(req.headers['content-digest']))?.[1]
      const ok = body.complete && body.sha256 === digest && body.bytes === Number(req.headers['content-length'])
      if (ok) accepted.push({ headers: req.headers, body })
      res.writeHead(ok ? 201 : 422, { 'content-type': 'application/json' })
        .end(JSON.stringify({ received: ok, reference: 'rcv-42', sha256: Buffer.from(body.sha256, 'base64').toString('hex') }))
    })
  })
  const rejecting = await listen(t, (req, res) => {
    void readBody(req).then(() => res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"unsupported archive layout"}'))
  })
  const forbidden = await listen(t, (_req, res) => res.end('should never be reached'))
  const redirecting = await listen(t, (req, res) => {
    void readBody(req).then(() => res.writeHead(307, { location: `${forbidden.origin}/import?token=abc` }).end())
  })
  let completeBodies = 0
  const strict = await listen(t, (req, res) => {
    void readBody(req).then((body) => {
      if (body.complete) completeBodies++
      res.writeHead(200).end('{}')
    })
  })

  const logs: string[] = []
  const app = await build(t, {
    logs,
    resolveHost,
    env: {
      TRANSFER_ALLOWLIST: [flaky, rejecting, redirecting, strict].map((r) => r.origin).join(',') + ',https://*.receiver.test',
      TRANSFER_SECRET_KEY: SECRET_KEY,
      TASK_RETRY_BASE_MS: '50',
      TASK_POLL_SECONDS: '0.5',
      TASK_LEASE_SECONDS: '5'
    }
  })

  t.test('delivered once after a 503 and a dropped connection, with its hash, attempts and audit trail', async (t) => {
    const requestId = await newRequest(app)
    const archive = await storeArchive(app, requestId)
    const created = await app.inject({
      method: 'POST',
      url: `/v1/requests/${requestId}/transfers`,
      headers: auth(),
      payload: { destination: `${flaky.origin}/v1/import?batch=7`, authorization: TOKEN, notes: 'Art 20(2) request' }
    })
    t.equal(created.statusCode, 202, created.body)
    const transfer = created.json()
    t.match(transfer, { status: 'pending', attempts: 0, max_attempts: 5, has_authorization: true, notes: 'Art 20(2) request' })
    t.notOk('authorization' in transfer, 'the authorization is never returned')
    t.equal(created.headers.location, `/v1/requests/${requestId}/transfers/${transfer.id}`)
    const [sealed] = await app.dbh.db.select({ v: transfers.authHeaderSealed }).from(transfers).where(eq(transfers.id, transfer.id))
    t.ok(sealed?.v && !sealed.v.includes('receiver-secret'), 'stored encrypted, not in clear')

    const done = await settled(app, requestId, transfer.id)
    t.equal(done.status, 'delivered')
    t.equal(flakyCalls, 3, 'the receiver was called three times')
    t.equal(accepted.length, 1, 'exactly one successful receipt')
    t.equal(accepted[0]!.body.sha256, archive.base64, 'the receiver got the archive, byte for byte')
    t.equal(accepted[0]!.body.bytes, archive.size)
    t.match(accepted[0]!.headers, {
      'content-type': 'application/zip',
      'content-length': String(archive.size),
      'content-digest': `sha-256=:${archive.base64}:`,
      'idempotency-key': transfer.id,
      'x-dsr-request-id': requestId,
      authorization: TOKEN
    })
    t.match(done, {
      attempts: 3,
      response_status: 201,
      delivered_sha256: archive.sha256,
      has_authorization: false,
      last_error_code: null
    })
    t.match(JSON.parse(done.response_excerpt), { received: true, reference: 'rcv-42', sha256: archive.sha256 }, "the receiver's acknowledgement is kept")
    t.ok(done.delivered_at && done.finished_at)
    t.strictSame(done.attempt_log.map((a: { outcome: string }) => a.outcome), ['retry', 'retry', 'delivered'])
    t.strictSame(done.attempt_log.map((a: { response_status: number | null }) => a.response_status), [503, null, 201])
    t.strictSame(done.attempt_log.map((a: { error_code: string | null }) => a.error_code), ['DSR_TRANSFER_RECEIVER_ERROR', 'DSR_TRANSFER_CONNECTION', null])
    t.equal(done.attempt_log[0].response_excerpt, 'busy, try again')
    const [row] = await app.dbh.db.select().from(transfers).where(eq(transfers.id, transfer.id))
    t.equal(row!.authHeaderSealed, null, 'the stored authorization is erased')

    // Redelivery of the job (or a second worker) finds it delivered and sends nothing.
    await app.engine.transfers.run(transfer.id)
    const jobs = () => app.dbh.rows<{ id: string, state: string }>(sql`
      select id, state from pgboss.job where name = ${TRANSFER_QUEUE} and data->>'transferId' = ${transfer.id}`)
    const earlier = new Set((await jobs()).map((j) => j.id))
    await app.dbh.transaction((tx) => app.engine.transfers.enqueue(transfer.id, undefined, tx))
    // A worker completes a job only after its handler has returned: once the new job has left
    // 'created' and 'active', the redelivery was taken and handled, and anything it sent has been sent.
    const redelivery = await waitFor(async () => {
      const job = (await jobs()).find((j) => !earlier.has(j.id))
      return job && job.state !== 'created' && job.state !== 'active' ? job : null
    }, 30_000, 'a worker to handle the redelivered job')
    t.equal(redelivery.state, 'completed', 'the redelivered job was handled without error')
    t.equal(flakyCalls, 3, 'never sent again')
    t.equal(accepted.length, 1)
    t.equal((await settled(app, requestId, transfer.id)).attempts, 3)

    const events = (await app.inject({ url: `/v1/requests/${requestId}/events`, headers: auth() })).json().data
    const mine = events.filter((e: { action: string }) => e.action.startsWith('transfer_'))
    t.strictSame(mine.map((e: { action: string }) => e.action), ['transfer_created', 'transfer_delivered'])
    t.match(mine[1], { actor: 'engine', details: { transfer_id: transfer.id, attempts: 3, response_status: 201, sha256: archive.sha256, destination: flaky.origin } })
    const trail = JSON.stringify(events)
    t.notOk(trail.includes('receiver-secret'), 'no secret in the audit trail')
    t.notOk(trail.includes('rcv-42'), "the receiver's answer is not in the audit trail")
    t.notOk(trail.includes('batch=7'), 'only the origin of the destination is in the audit trail')

    const logged = logs.join('')
    t.ok(logged.includes('transfer delivered'), 'the delivery is logged')
    t.notOk(logged.includes('receiver-secret'), 'the authorization is never logged')
    t.notOk(logged.includes('rcv-42') || logged.includes('busy, try again'), "the receiver's answers are never logged")

    const list = (await app.inject({ url: `/v1/requests/${requestId}/transfers`, headers: auth('reader') })).json()
    t.equal(list.data.length, 1)
    t.equal(list.data[0].id, transfer.id)
  })

  t.test('a destination outside the allow-list is refused before any connection', async (t) => {
    const requestId = await newRequest(app)
    await storeArchive(app, requestId)
    const res = await app.inject({
      method: 'POST', url: `/v1/requests/${requestId}/transfers`, headers: auth(), payload: { destination: `${forbidden.origin}/import` }
    })
    t.equal(res.statusCode, 422)
    t.equal(res.json().code, 'DSR_TRANSFER_DESTINATION_NOT_ALLOWED')
    t.equal(forbidden.connections, 0, 'the server on the non-allow-listed port saw no connection')
    t.strictSame((await app.inject({ url: `/v1/requests/${requestId}/transfers`, headers: auth() })).json().data, [], 'nothing was created')
  })

  t.test('a host name resolving to 127.0.0.1 is refused unless that exact host is allow-listed', async (t) => {
    const requestId = await newRequest(app)
    await storeArchive(app, requestId)
    const before = flaky.connections
    // localhost is 127.0.0.1, whose port is allow-listed, but the host "localhost" is not.
    const byName = await app.inject({
      method: 'POST', url: `/v1/requests/${requestId}/transfers`, headers: auth(), payload: { destination: `http://localhost:${flaky.port}/` }
    })
    t.equal(byName.statusCode, 422)
    t.equal(byName.json().code, 'DSR_TRANSFER_DESTINATION_NOT_ALLOWED')
    // Allowed by the *.receiver.test pattern, but its DNS answer is loopback.
    const viaWildcard = await app.inject({
      method: 'POST', url: `/v1/requests/${requestId}/transfers`, headers: auth(), payload: { destination: 'https://evil.receiver.test/import' }
    })
    t.equal(viaWildcard.statusCode, 422)
    t.equal(viaWildcard.json().code, 'DSR_TRANSFER_DESTINATION_NOT_ALLOWED')
    t.match(viaWildcard.json().message, /loopback address/)
    t.ok(resolverCalls.includes('evil.receiver.test'), 'its addresses were checked')
    const unknown = await app.inject({
      method: 'POST', url: `/v1/requests/${requestId}/transfers`, headers: auth(), payload: { destination: 'https://nowhere.receiver.test/' }
    })
    t.equal(unknown.statusCode, 422)
    t.equal(unknown.json().code, 'DSR_TRANSFER_DESTINATION_UNRESOLVABLE')
    t.equal(flaky.connections, before, 'no connection was made')
  })

  t.test('a redirect is not followed', async (t) => {
    const requestId = await newRequest(app)
    await storeArchive(app, requestId)
    const created = await app.inject({
      method: 'POST', url: `/v1/requests/${requestId}/transfers`, headers: auth(), payload: { destination: `${redirecting.origin}/in`, authorization: TOKEN }
    })
    t.equal(created.statusCode, 202)
    const done = await settled(app, requestId, created.json().id)
    t.match(done, { status: 'failed', attempts: 1, response_status: 307, last_error_code: 'DSR_TRANSFER_REDIRECT', has_authorization: false })
    t.match(done.last_error_message, forbidden.origin, 'the redirect target is named by its origin')
    t.notMatch(done.last_error_message, /token=abc/, 'but not its path or query')
    t.equal(forbidden.connections, 0, 'the redirect target (not allow-listed) was never contacted')
  })

  t.test('a 400 from the receiver fails the transfer after one attempt', async (t) => {
    const requestId = await newRequest(app)
    await storeArchive(app, requestId)
    const created = await app.inject({
      method: 'POST', url: `/v1/requests/${requestId}/transfers`, headers: auth(), payload: { destination: `${rejecting.origin}/in`, authorization: TOKEN }
    })
    t.equal(created.statusCode, 202)
    const done = await settled(app, requestId, created.json().id)
    t.match(done, {
      status: 'failed',
      attempts: 1,
      response_status: 400,
      last_error_code: 'DSR_TRANSFER_REJECTED',
      has_authorization: false,
      response_excerpt: '{"error":"unsupported archive layout"}',
      delivered_sha256: null
    })
    t.equal(rejecting.connections, 1)
    const [row] = await app.dbh.db.select().from(transfers).where(eq(transfers.id, done.id))
    t.equal(row!.authHeaderSealed, null, 'the stored authorization is erased on final failure too')
    const events = (await app.inject({ url: `/v1/requests/${requestId}/events`, headers: auth() })).json().data
    t.match(events.find((e: { action: string }) => e.action === 'transfer_failed'), {
      actor: 'engine', reason: 'the receiver answered 400', details: { error_code: 'DSR_TRANSFER_REJECTED', attempts: 1, response_status: 400 }
    })
  })

  t.test('an archive that does not match its recorded hash is never completed at the receiver', async (t) => {
    const requestId = await newRequest(app)
    await storeArchive(app, requestId, { recordedSha256: 'ab'.repeat(32) })
    const created = await app.inject({
      method: 'POST', url: `/v1/requests/${requestId}/transfers`, headers: auth(), payload: { destination: `${strict.origin}/in` }
    })
    const done = await settled(app, requestId, created.json().id)
    t.match(done, { status: 'failed', attempts: 1, last_error_code: 'DSR_TRANSFER_INTEGRITY' })
    t.equal(completeBodies, 0, 'the receiver never got a complete body')
  })

  t.test('a request without a ready archive gets 409', async (t) => {
    const requestId = await newRequest(app)
    const res = await app.inject({
      method: 'POST', url: `/v1/requests/${requestId}/transfers`, headers: auth(), payload: { destination: `${flaky.origin}/in` }
    })
    t.equal(res.statusCode, 409)
    t.equal(res.json().code, 'DSR_ARCHIVE_NOT_READY')
    await app.dbh.db.insert(archives).values({ requestId, status: 'building' })
    t.equal((await app.inject({
      method: 'POST', url: `/v1/requests/${requestId}/transfers`, headers: auth(), payload: { destination: `${flaky.origin}/in` }
    })).statusCode, 409, 'an archive still building is not ready either')
  })

  t.test('bad input', async (t) => {
    const requestId = await newRequest(app)
    await storeArchive(app, requestId)
    const post = (payload: Record<string, unknown>, who: Parameters<typeof auth>[0] = 'admin') =>
      app.inject({ method: 'POST', url: `/v1/requests/${requestId}/transfers`, headers: auth(who), payload })
    const withCredentials = await post({ destination: `http://user:pw@127.0.0.1:${flaky.port}/` })
    t.equal(withCredentials.statusCode, 400)
    t.match(withCredentials.json(), { code: 'DSR_VALIDATION_FAILED', details: [{ field: '/destination' }] })
    t.equal((await post({ destination: 'ftp://partner.example/' })).statusCode, 400)
    t.equal((await post({ destination: `${flaky.origin}/`, authorization: 'Bearer x\r\nX-Injected: 1' })).statusCode, 400, 'no header injection')
    t.equal((await post({ destination: `${flaky.origin}/` }, 'reader')).statusCode, 403, 'archives:transfer is needed')
    const writer = await post({ destination: `${flaky.origin}/` }, 'writer')
    t.equal(writer.statusCode, 403, 'requests:write alone cannot send a person\'s archive away')
    t.match(writer.json(), { code: 'DSR_FORBIDDEN', message: /archives:transfer/ })
    t.equal((await app.inject({
      method: 'POST', url: `/v1/requests/${randomUUID()}/transfers`, headers: auth(), payload: { destination: `${flaky.origin}/` }
    })).statusCode, 404)
    t.equal((await app.inject({ url: `/v1/requests/${requestId}/transfers/${randomUUID()}`, headers: auth() })).json().code, 'DSR_TRANSFER_NOT_FOUND')
  })

  t.test('a transfer whose worker died is sent again (same Idempotency-Key), or fails when no attempts are left', async (t) => {
    const requestId = await newRequest(app)
    const archive = await storeArchive(app, requestId)
    const dead = async (attempts: number, maxAttempts: number) => {
      const id = randomUUID()
      await app.dbh.db.insert(transfers).values({
        id,
        requestId,
        destination: `${strict.origin}/in`,
        status: 'sending',
        attempts,
        maxAttempts,
        createdBy: 'admin',
        leaseOwner: 'a-worker-that-died',
        leaseExpiresAt: new Date(Date.now() - 1000)
      })
      await app.dbh.db.insert(transferAttempts).values({ transferId: id, attempt: attempts, worker: 'a-worker-that-died' })
      return id
    }
    const revived = await dead(1, 5)
    const exhausted = await dead(2, 2)
    const before = completeBodies
    const delivered = await settled(app, requestId, revived)
    t.match(delivered, { status: 'delivered', attempts: 2, delivered_sha256: archive.sha256 })
    t.strictSame(delivered.attempt_log.map((a: { outcome: string }) => a.outcome), ['lease_expired', 'delivered'])
    t.equal(completeBodies, before + 1)
    const failed = await settled(app, requestId, exhausted)
    t.match(failed, { status: 'failed', attempts: 2, last_error_code: 'DSR_TRANSFER_WORKER_LOST' })
    const events = (await app.inject({ url: `/v1/requests/${requestId}/events`, headers: auth() })).json().data
    t.ok(events.some((e: { action: string, details: { transfer_id?: string } }) => e.action === 'transfer_failed' && e.details.transfer_id === exhausted))
  })

  t.test('nothing was left half-done', async (t) => {
    const open = await app.dbh.rows<{ n: number }>(sql`select count(*)::int as n from transfers where status in ('pending', 'sending', 'retry_wait')`)
    t.equal(Number(open[0]!.n), 0)
  })
})

t.test('bad transfer settings stop the service at boot, without echoing the key', async (t) => {
  const settings = (env: Record<string, string>) => () => transferSettings(loadConfig(env))
  t.throws(settings({ TRANSFER_ALLOWLIST: 'https://ok.example,http://partner.example' }), { name: 'ConfigError', message: /"http:\/\/partner.example": http is allowed only for loopback/ })
  t.throws(settings({ TRANSFER_ALLOWLIST: '*.example' }), { name: 'ConfigError' })
  let err: unknown
  try {
    settings({ TRANSFER_SECRET_KEY: 'not-a-real-key-but-secret' })()
  } catch (e) {
    err = e
  }
  t.match(err, { name: 'ConfigError', message: /TRANSFER_SECRET_KEY must be 32 bytes/ })
  t.notMatch((err as Error).message, /not-a-real-key-but-secret/)
  t.strictSame(transferSettings(loadConfig({})).allowList, [], 'no allow-list: no destination is allowed')
})

t.test('an authorization is refused without TRANSFER_SECRET_KEY', async (t) => {
  const receiver = await listen(t, (_req, res) => res.end())
  const app = await build(t, { env: { TRANSFER_ALLOWLIST: receiver.origin } })
  const requestId = await newRequest(app)
  await storeArchive(app, requestId)
  const res = await app.inject({
    method: 'POST', url: `/v1/requests/${requestId}/transfers`, headers: auth(), payload: { destination: `${receiver.origin}/`, authorization: TOKEN }
  })
  t.equal(res.statusCode, 422)
  t.equal(res.json().code, 'DSR_TRANSFER_AUTH_NOT_CONFIGURED')
  t.equal(receiver.connections, 0)
})
