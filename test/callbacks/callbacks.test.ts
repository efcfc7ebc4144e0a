import { createHmac, timingSafeEqual } from 'node:crypto'
import http, { type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { REFUSAL_GROUND_CODES, REFUSAL_GROUNDS } from '../../src/domain/refusal-grounds.js'
import { sql } from 'drizzle-orm'
import type { DbHandle } from '../../src/db/client.js'
import { redactClosedRequests } from '../../src/engine/redaction.js'
import { callbackUrlRefusal } from '../../src/callbacks/settings.js'
import { auth, build, registryOf, requestBody, testDb, waitFor } from '../helper.js'

/**
 * Status callbacks against a real receiver on 127.0.0.1: every status change of a request with a
 * callback_url arrives as a signed POST (verified here with our own HMAC, not the service's helper),
 * a failing receiver gets the delivery again with backoff, the delivery log and redelivery work
 * through the API, a callback_url outside CALLBACK_ALLOWLIST is refused at intake, and nothing
 * personal is ever sent. Through the real app, its engine and pg-boss, on Postgres and embedded.
 */

const ADA = 'ada.callbacks@example.com'
// Rotated: k2 is the current key (listed first, it signs), k1 the one before it.
const SECRETS: Record<string, string> = {
  k2: 'callback-secret-two-00000000000000000000',
  k1: 'callback-secret-one-00000000000000000000'
}

interface Received { path: string, headers: IncomingHttpHeaders, body: string }

/** A receiver on 127.0.0.1: `/flaky/…` answers 500, then 503, then 200 for each delivery id; anything else 200. */
async function receiver (t: Test) {
  const received: Received[] = []
  const failures = new Map<string, number>()
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString()
      received.push({ path: req.url ?? '', headers: req.headers, body })
      const id = String(req.headers['dsr-delivery-id'])
      if (req.url?.startsWith('/flaky/')) {
        const n = failures.get(id) ?? 0
        failures.set(id, n + 1)
        if (n < 2) {
          res.writeHead(n === 0 ? 500 : 503).end()
          return
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }))
  const { port } = server.address() as AddressInfo
  return { origin: `http://127.0.0.1:${port}`, received }
}

/** The receiver's own check of DSR-Signature: t=<unix>,kid=<id>,v1=<hex> over `<t>.<body>`. */
function verify (r: Received): { ok: boolean, kid: string, age: number } {
  const parts = Object.fromEntries(String(r.headers['dsr-signature']).split(',').map((p) => p.split('=', 2) as [string, string]))
  const secret = SECRETS[parts.kid ?? '']
  if (!secret || !parts.t || !parts.v1) return { ok: false, kid: parts.kid ?? '', age: NaN }
  const expected = createHmac('sha256', secret).update(`${parts.t}.${r.body}`).digest()
  const given = Buffer.from(parts.v1, 'hex')
  return { ok: given.length === expected.length && timingSafeEqual(given, expected), kid: parts.kid!, age: Date.now() / 1000 - Number(parts.t) }
}

async function scenario (t: Test, dbh: DbHandle) {
  const { origin, received } = await receiver(t)
  const registry = await registryOf([{
    id: 'crm', driver: 'memory', settings: { streams: [{ name: 'contacts', match: { email: 'email' }, records: [{ id: 1, email: ADA }] }] }
  }])
  const app = await build(t, {
    dbh,
    registry,
    env: {
      CALLBACK_ALLOWLIST: origin,
      CALLBACK_SIGNING_KEYS: `k2:${SECRETS.k2},k1:${SECRETS.k1}`,
      CALLBACK_RETRY_BASE_MS: '100',
      CALLBACK_RETRY_MAX_MS: '400',
      TASK_POLL_SECONDS: '0.5'
    }
  })
  const post = (url: string, payload: unknown) => app.inject({ method: 'POST', url, headers: auth(), payload: payload as object })
  const bodiesFor = (requestId: string) => received.filter((r) => JSON.parse(r.body).request_id === requestId)
  const log = async (requestId: string) => (await app.inject({ url: `/v1/requests/${requestId}/callbacks`, headers: auth('reader') })).json()

  // Verified at intake and fulfilled by a connector: the planned intake statement, then the engine's transitions.
  const created = await post('/v1/requests', requestBody({ subject: { email: ADA }, callback_url: `${origin}/hooks/ok`, verification: { method: 'account_login' } }))
  t.equal(created.statusCode, 202, created.body)
  const fulfilled = created.json().id as string
  // Stored unverified (the single intake statement), then cancelled; its receiver fails twice per delivery.
  const flakyCreated = await post('/v1/requests', requestBody({ subject: { email: ADA }, callback_url: `${origin}/flaky/cb` }))
  t.equal(flakyCreated.statusCode, 202, flakyCreated.body)
  const flaky = flakyCreated.json().id as string
  t.equal((await post(`/v1/requests/${flaky}/cancel`, { reason: 'withdrawn' })).statusCode, 200)

  await t.test('each status change arrives as a POST signed with the current key id', async (t) => {
    await waitFor(async () => bodiesFor(fulfilled).length >= 4, 30_000, 'four callbacks of the fulfilled request')
    const changes = bodiesFor(fulfilled).map((r) => JSON.parse(r.body)).map((b) => `${b.previous_status}→${b.status}`).sort()
    t.strictSame(changes, ['in_progress→completed', 'null→received', 'ready→in_progress', 'received→ready'].sort(),
      'its creation and every transition, each once (the receiver answered 200 at once)')
    for (const r of bodiesFor(fulfilled)) {
      const check = verify(r)
      t.ok(check.ok, 'the HMAC-SHA256 over "<t>.<body>" matches')
      t.equal(check.kid, 'k2', 'signed with the first key of CALLBACK_SIGNING_KEYS')
      t.ok(check.age >= -5 && check.age < 300, 'with a current timestamp')
      t.equal(r.headers['content-type'], 'application/json')
      t.equal(r.headers['dsr-delivery-id'], JSON.parse(r.body).delivery_id)
    }
    const tampered = { ...bodiesFor(fulfilled)[0]!, headers: { ...bodiesFor(fulfilled)[0]!.headers } }
    tampered.headers['dsr-signature'] = String(tampered.headers['dsr-signature']).replace('kid=k2', 'kid=k1')
    t.notOk(verify(tampered).ok, 'the signature verifies only with the secret of the key id it names')
  })

  await t.test('a rejection under each ground reaches the receiver with its ground and provision, not the explanation', async (t) => {
    for (const ground of REFUSAL_GROUND_CODES) {
      const type = (REFUSAL_GROUNDS[ground] as { types?: readonly string[] }).types?.[0] ?? 'access'
      const made = await post('/v1/requests', requestBody({ type, subject: { email: ADA }, callback_url: `${origin}/hooks/rejected` }))
      const id = made.json().id as string
      t.equal((await post(`/v1/requests/${id}/reject`, { ground, explanation: `Refused, ${ADA}: see the reasons` })).statusCode, 200, `${ground}: rejected`)
      const sent = await waitFor(async () => bodiesFor(id).map((r) => ({ r, b: JSON.parse(r.body) })).find((x) => x.b.status === 'rejected'), 30_000, `the ${ground} rejection's callback`)
      t.match(sent.b, { previous_status: 'received', status: 'rejected', refusal: { ground, provision: REFUSAL_GROUNDS[ground].provisions.gdpr } }, `${ground}: in the callback`)
      t.ok(verify(sent.r).ok, 'signed')
      t.notOk(sent.r.body.includes(ADA) || sent.r.body.includes('see the reasons'), "the person's explanation stays out of it")
    }
  })

  await t.test('a receiver that fails twice gets the third delivery', async (t) => {
    await waitFor(async () => bodiesFor(flaky).length >= 6, 30_000, 'three attempts of both callbacks')
    const { data } = await log(flaky)
    t.strictSame(data.map((d: { request_status: string }) => d.request_status), ['received', 'cancelled'], 'one delivery per status change, oldest first')
    for (const d of data) {
      await waitFor(async () => (await log(flaky)).data.find((x: { id: string }) => x.id === d.id).status === 'delivered', 10_000, 'delivered')
      const now = (await log(flaky)).data.find((x: { id: string }) => x.id === d.id)
      t.equal(now.attempts, 3)
      t.strictSame(now.attempt_log.map((a: { outcome: string, response_status: number }) => `${a.outcome}:${a.response_status}`),
        ['retry:500', 'retry:503', 'delivered:200'], 'every attempt is in the delivery log')
      t.equal(now.attempt_log[0].error_code, 'DSR_CALLBACK_RECEIVER_ERROR')
      const sends = received.filter((r) => r.headers['dsr-delivery-id'] === d.id)
      t.equal(sends.length, 3, 'three POSTs with the same delivery id')
      t.equal(new Set(sends.map((r) => r.body)).size, 1, 'the same body each time')
      t.ok(sends.every((r) => verify(r).ok), 'each one signed')
    }
  })

  await t.test('the delivery log pages, and redeliver sends again with the same delivery id', async (t) => {
    const first = await app.inject({ url: `/v1/requests/${fulfilled}/callbacks?limit=3`, headers: auth('reader') })
    t.equal(first.statusCode, 200)
    t.equal(first.json().data.length, 3)
    const second = await app.inject({ url: `/v1/requests/${fulfilled}/callbacks?limit=3&cursor=${first.json().next_cursor}`, headers: auth('reader') })
    t.equal(second.json().data.length, 1)
    t.equal(second.json().next_cursor, null)
    const target = first.json().data[0]
    t.equal(target.status, 'delivered')

    const forbidden = await app.inject({ method: 'POST', url: target.links.redeliver, headers: auth('reader') })
    t.equal(forbidden.statusCode, 403, 'redelivery needs requests:write')
    const before = received.filter((r) => r.headers['dsr-delivery-id'] === target.id).length
    const res = await post(target.links.redeliver, undefined)
    t.equal(res.statusCode, 202, res.body)
    t.equal(res.json().id, target.id)
    await waitFor(async () => received.filter((r) => r.headers['dsr-delivery-id'] === target.id).length === before + 1, 10_000, 'the redelivery')
    const again = received.filter((r) => r.headers['dsr-delivery-id'] === target.id)
    t.equal(JSON.parse(again.at(-1)!.body).delivery_id, target.id, 'the same delivery id in the body')
    t.equal(again.at(-1)!.body, again[0]!.body, 'the same body')
    t.ok(verify(again.at(-1)!).ok)
    const after = await waitFor(async () => {
      const d = (await log(fulfilled)).data.find((x: { id: string }) => x.id === target.id)
      return d.attempt_log.length === 2 ? d : null
    }, 10_000, 'the second attempt in the log')
    t.strictSame(after.attempt_log.map((a: { attempt: number, outcome: string }) => `${a.attempt}:${a.outcome}`), ['1:delivered', '2:delivered'])

    const unknown = await post(`/v1/requests/${fulfilled}/callbacks/00000000-0000-4000-8000-000000000000/redeliver`, undefined)
    t.equal(unknown.json().code, 'DSR_CALLBACK_DELIVERY_NOT_FOUND')
    t.equal(unknown.statusCode, 404)
  })

  await t.test('a callback_url outside CALLBACK_ALLOWLIST is refused at intake, nothing stored', async (t) => {
    const count = async () => (await dbh.rows<{ r: number, d: number }>(sql`
      select (select count(*) from requests)::int as r, (select count(*) from callback_deliveries)::int as d`))[0]
    const before = await count()
    for (const url of ['http://127.0.0.1:1/hooks', 'https://hooks.elsewhere.example/cb', `${origin.replace('127.0.0.1', 'localhost')}/cb`]) {
      const res = await post('/v1/requests', requestBody({ callback_url: url }))
      t.equal(res.statusCode, 422, url)
      t.equal(res.json().code, 'DSR_CALLBACK_URL_NOT_ALLOWED')
      t.notOk(res.body.includes(ADA))
    }
    t.strictSame(await count(), before, 'no request and no delivery stored')
    t.match(callbackUrlRefusal({ allowList: [] }, `${origin}/cb`), /no CALLBACK_ALLOWLIST/, 'without an allow-list every callback_url is refused')
  })

  await t.test('nothing personal is sent: ids and statuses only', async (t) => {
    t.ok(received.length >= 11)
    for (const r of received) {
      t.notOk(`${JSON.stringify(r.headers)}\n${r.body}`.toLowerCase().includes(ADA), 'the e-mail appears in no header and no body')
      const body = JSON.parse(r.body)
      t.strictSame(Object.keys(body).sort(), ['at', 'delivery_id', 'event', 'previous_status', 'request_id', 'status', 'type', ...(body.status === 'rejected' ? ['refusal'] : [])].sort())
    }
  })

  await t.test('a redacted request sends nothing more', async (t) => {
    const { data } = await log(flaky)
    await dbh.rows(sql`update requests set updated_at = now() - interval '200 days' where id = ${flaky}`)
    t.ok((await redactClosedRequests(dbh, { now: new Date(), retentionDays: 90 })).redacted >= 1)
    const sent = received.length
    const res = await post(data[0].links.redeliver, undefined)
    t.equal(res.statusCode, 409)
    t.equal(res.json().code, 'DSR_CALLBACK_URL_REMOVED')
    // A delivery falling due after the redaction (queued before it) is failed without a sending.
    await dbh.rows(sql`update callback_deliveries set status = 'pending', next_attempt_at = now(), round_start = attempts where id = ${data[0].id}`)
    const failed = await waitFor(async () => {
      const d = (await log(flaky)).data[0]
      return d.status === 'failed' ? d : null
    }, 10_000, 'the delivery to fail')
    t.equal(failed.last_error_code, 'DSR_CALLBACK_URL_REMOVED')
    t.equal(received.length, sent, 'nothing was sent')
  })
}

t.test('status callbacks through the app, its engine and pg-boss (DATABASE_URL: Postgres; otherwise embedded)', async (t) => scenario(t, await testDb(t)))
if (process.env.DATABASE_URL) t.test('and on the embedded database', async (t) => scenario(t, await testDb(t, { embedded: true })))
