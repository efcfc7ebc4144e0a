import t from 'tap'
import { createHmac, timingSafeEqual } from 'node:crypto'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Writable } from 'node:stream'
import pino from 'pino'
import { sql } from 'drizzle-orm'
import type { FastifyBaseLogger } from 'fastify'
import { DateTime } from 'luxon'
import { auth, build, requestBody, testDb } from '../helper.js'
import { openDb, type DbHandle } from '../../src/db/client.js'
import { findDeadlines, runDeadlineMonitor } from '../../src/engine/deadline-monitor.js'

type Tap = Parameters<typeof build>[0]
type App = Awaited<ReturnType<typeof build>>

const SECRET = 'deadline-webhook-secret-0123456789'
const HOUR = 3_600_000
// The clock the monitor runs at: tests move it by passing `now`, never by sleeping.
const T0 = new Date(Math.floor(Date.now() / 60_000) * 60_000)
const at = (hours: number) => new Date(T0.getTime() + hours * HOUR)

// Who the requests are about, and who made them: none of it may leave the service in a warning.
const SUBJECT = { email: 'ada.lovelace@example.com', phone: '+44 20 7946 0958', customer_id: 'cust-ada-1815' }
const REQUESTER = { kind: 'authorised_agent', name: 'Charles Babbage', email: 'charles.babbage@example.org' }
// The phone in its written forms: a bare '7946' would also match, by chance, inside a uuid or a timing.
const IDENTIFIERS = ['ada.lovelace', 'Lovelace', '7946 0958', '79460958', '+442079460958', 'cust-ada-1815', 'Babbage', 'charles.babbage']

const PAYLOAD_KEYS = ['event', 'hours_left', 'kind', 'request', 'sent_at']
const PAYLOAD_REQUEST_KEYS = ['due_at', 'id', 'regime', 'status', 'type']
const ENTRY_KEYS = ['child', 'due_at', 'hours_left', 'id', 'internal_due_at', 'regime', 'status', 'type']

interface Delivery { headers: IncomingHttpHeaders, raw: string, body: Record<string, any>, at: number, status: number }

/** A real HTTP endpoint on 127.0.0.1 that records every POST and answers `state.status`. */
async function receiver (t: Tap) {
  const attempts: Delivery[] = []
  const state = { status: 200 }
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8')
      let body: Record<string, any> = {}
      try { body = JSON.parse(raw) } catch {}
      attempts.push({ headers: req.headers, raw, body, at: Date.now(), status: state.status })
      res.writeHead(state.status, { 'content-type': 'text/plain' }).end(state.status < 300 ? 'ok' : 'nope')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/hooks/dsr`,
    state,
    attempts,
    /** Deliveries the receiver accepted (2xx). */
    accepted: () => attempts.filter((a) => a.status >= 200 && a.status < 300)
  }
}

/** A port on 127.0.0.1 with nothing listening: connections are refused. */
async function closedPortUrl (): Promise<string> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return `http://127.0.0.1:${port}/hooks/dsr`
}

/** A plain pino logger (no redaction to lean on) whose lines the test can read. */
function captureLog () {
  const lines: string[] = []
  const log = pino({ level: 'trace' }, new Writable({ write (chunk, _enc, cb) { lines.push(chunk.toString()); cb() } }))
  return { log: log as unknown as FastifyBaseLogger, lines }
}

async function newApp (t: Tap, dbh?: DbHandle) {
  return build(t, { ...(dbh ? { dbh } : {}), env: { SCHEDULER_ENABLED: 'false' } })
}

/** Creates a request through the API, with every kind of identifier, and returns it. */
async function createRequest (app: App, over: Record<string, unknown> = {}) {
  const res = await app.inject({
    method: 'POST', url: '/v1/requests', headers: auth('writer'), payload: requestBody({ subject: SUBJECT, requester: REQUESTER, ...over })
  })
  if (res.statusCode !== 202) throw new Error(`create failed: ${res.statusCode} ${res.body}`)
  return res.json() as { id: string, due_at: string, status: string, deadline: { extended_due_at: string | null } }
}

/** Sets a request's due date (our own database; the API has no way to back-date one). */
const setDue = (dbh: DbHandle, id: string, due: Date) =>
  dbh.rows(sql`update requests set due_at = ${due.toISOString()} where id = ${id}`)

const notifications = (dbh: DbHandle) => dbh.rows<{ request_id: string, kind: string, delivery_status: number | null }>(sql`
  select request_id, kind, delivery_status from deadline_notifications order by request_id, kind`)

/** Accepted deliveries as sorted `id:kind` strings. */
const delivered = (list: Delivery[]) => list.map((d) => `${d.body.request?.id}:${d.body.kind}`).sort()

function verifySignature (d: Delivery, secret: string): boolean {
  const ts = String(d.headers['x-dsr-timestamp'])
  const expected = Buffer.from(`v1=${createHmac('sha256', secret).update(`${ts}.${d.raw}`).digest('hex')}`)
  const given = Buffer.from(String(d.headers['x-dsr-signature'] ?? ''))
  return given.length === expected.length && timingSafeEqual(given, expected)
}

t.test('the webhook is signed: an independent HMAC-SHA256 over "<timestamp>.<raw body>" verifies it, a wrong secret does not', async (t) => {
  const app = await newApp(t)
  const hook = await receiver(t)
  const { log } = captureLog()
  const req = await createRequest(app)
  await setDue(app.dbh, req.id, at(5))

  const before = Math.floor(Date.now() / 1000)
  const counts = await runDeadlineMonitor({ dbh: app.dbh, log, webhookUrl: hook.url, secret: SECRET, warningHours: 72 }, T0)
  const after = Math.ceil(Date.now() / 1000)
  t.strictSame(counts, { due_soon: 1, overdue: 0, notified: 1, failed: 0 })
  t.equal(hook.attempts.length, 1, 'one POST')
  const d = hook.attempts[0]!

  t.match(d.headers['content-type'], /^application\/json/)
  const ts = d.headers['x-dsr-timestamp']
  t.type(ts, 'string', 'the timestamp header is present')
  t.match(ts, /^\d{10}$/, 'Unix seconds')
  t.ok(Number(ts) >= before && Number(ts) <= after, `the timestamp is the time of sending (${before} <= ${ts} <= ${after})`)
  t.match(d.headers['x-dsr-signature'], /^v1=[0-9a-f]{64}$/)

  t.ok(verifySignature(d, SECRET), 'the signature verifies with the shared secret')
  t.notOk(verifySignature(d, 'another-secret-0123456789abcdef'), 'a wrong secret does not verify')
  t.notOk(verifySignature({ ...d, raw: d.raw.replace('"due_soon"', '"overdue"') }, SECRET), 'a tampered body does not verify')
  t.notOk(verifySignature({ ...d, headers: { ...d.headers, 'x-dsr-timestamp': String(Number(ts) + 1) } }, SECRET), 'a changed timestamp does not verify')

  t.strictSame(Object.keys(d.body).sort(), PAYLOAD_KEYS)
  t.strictSame(d.body, {
    event: 'dsr.deadline',
    kind: 'due_soon',
    request: { id: req.id, type: 'access', regime: 'gdpr', status: 'received', due_at: at(5).toISOString() },
    hours_left: 5,
    sent_at: T0.toISOString()
  })
})

t.test('each request is notified once per kind, over many runs and concurrent runs', async (t) => {
  const dbh = await testDb(t)
  const app = await newApp(t, dbh)
  // Real Postgres: a second pool, as another instance would have. PGlite is one session in this
  // process, and opening its data directory again gives an independent copy that neither sees the
  // first one's writes nor is seen by it: the other instance can only share the first's handle.
  const dbh2 = dbh.url ? await openDb({ url: dbh.url }) : dbh
  if (dbh2 !== dbh) t.teardown(() => dbh2.close())
  else {
    t.comment('embedded database: PGlite is a single session, and cannot be opened twice on one data directory; ' +
      'the concurrent runs share one connection here, so the claim race between two connections is tested on Postgres only (DATABASE_URL)')
  }
  const hook = await receiver(t)
  const { log } = captureLog()
  const run = (now: Date, handle: DbHandle = dbh) =>
    runDeadlineMonitor({ dbh: handle, log, webhookUrl: hook.url, secret: SECRET, warningHours: 72 }, now)

  const a = await createRequest(app)
  const far = await createRequest(app) // due in a month: outside the window
  await setDue(dbh, a.id, at(10))
  t.ok(Date.parse(far.due_at) > at(72 + 24).getTime(), 'the control request is due well outside the window')

  t.strictSame(await run(T0), { due_soon: 1, overdue: 0, notified: 1, failed: 0 })
  t.strictSame(await run(at(1)), { due_soon: 1, overdue: 0, notified: 0, failed: 0 }, 'still due soon, already notified')
  t.strictSame(await run(at(9.5)), { due_soon: 1, overdue: 0, notified: 0, failed: 0 })
  t.strictSame(delivered(hook.accepted()), [`${a.id}:due_soon`], 'exactly one due_soon')

  t.strictSame(await run(at(11)), { due_soon: 0, overdue: 1, notified: 1, failed: 0 }, 'the clock passed its due date')
  t.strictSame(await run(at(12)), { due_soon: 0, overdue: 1, notified: 0, failed: 0 })
  t.strictSame(await run(at(500)), { due_soon: 0, overdue: 1, notified: 0, failed: 0 })
  t.strictSame(delivered(hook.accepted()), [`${a.id}:due_soon`, `${a.id}:overdue`].sort(), 'exactly one overdue')
  const overdue = hook.accepted().find((d) => d.body.kind === 'overdue')!
  t.equal(overdue.body.hours_left, -1, 'hours since due, negative')
  t.equal(overdue.body.sent_at, at(11).toISOString())

  // Two instances (and a third run) at the same moment: the claim row lets exactly one deliver.
  const b = await createRequest(app)
  const c = await createRequest(app, { regime: 'lgpd' })
  await setDue(dbh, b.id, at(30))
  await setDue(dbh, c.id, at(31))
  const sent = hook.accepted().length
  const soon = await Promise.all([run(at(20)), run(at(20), dbh2), run(at(20), dbh2)])
  t.equal(soon.reduce((n, r) => n + Number(r.notified), 0), 2, 'two notifications between the three runs')
  t.ok(soon.every((r) => r.failed === 0))
  const late = await Promise.all([run(at(40), dbh2), run(at(40)), run(at(40), dbh2)])
  t.equal(late.reduce((n, r) => n + Number(r.notified), 0), 2)
  t.strictSame(delivered(hook.accepted().slice(sent)), [`${b.id}:due_soon`, `${b.id}:overdue`, `${c.id}:due_soon`, `${c.id}:overdue`].sort(),
    'each kind delivered once per request despite concurrent runs')
  t.equal(hook.attempts.length, hook.accepted().length, 'no extra attempts')

  t.strictSame((await notifications(dbh)).map((n) => `${n.request_id}:${n.kind}:${n.delivery_status}`).sort(), [
    `${a.id}:due_soon:200`, `${a.id}:overdue:200`, `${b.id}:due_soon:200`, `${b.id}:overdue:200`, `${c.id}:due_soon:200`, `${c.id}:overdue:200`
  ].sort(), 'one claim row per (request, kind), with the delivery status')
  t.notOk(hook.attempts.some((d) => d.body.request?.id === far.id), 'the request due in a month was never sent')
})

t.test('a failed delivery is given back and retried on the next run, then delivered once', async (t) => {
  const app = await newApp(t)
  const hook = await receiver(t)
  const { log, lines } = captureLog()
  const req = await createRequest(app)
  await setDue(app.dbh, req.id, at(-3))
  const run = (url: string, now = T0) => runDeadlineMonitor({ dbh: app.dbh, log, webhookUrl: url, secret: SECRET, warningHours: 72 }, now)

  hook.state.status = 500
  t.strictSame(await run(hook.url), { due_soon: 0, overdue: 1, notified: 0, failed: 1 }, 'the receiver answered 500')
  t.strictSame(await notifications(app.dbh), [], 'the claim is given back')
  hook.state.status = 503
  t.strictSame(await run(hook.url, at(0.25)), { due_soon: 0, overdue: 1, notified: 0, failed: 1 }, 'tried again, failed again')
  t.equal(hook.attempts.length, 2, 'each run tried once')

  const refused = await closedPortUrl()
  t.strictSame(await run(refused, at(0.5)), { due_soon: 0, overdue: 1, notified: 0, failed: 1 }, 'connection refused')
  t.strictSame(await notifications(app.dbh), [])
  t.ok(lines.some((l) => JSON.parse(l).msg === 'deadline webhook delivery failed'), 'a network failure is logged')

  hook.state.status = 204
  t.strictSame(await run(hook.url, at(0.75)), { due_soon: 0, overdue: 1, notified: 1, failed: 0 }, 'delivered on the next run')
  t.strictSame(await run(hook.url, at(1)), { due_soon: 0, overdue: 1, notified: 0, failed: 0 }, 'and not again')
  t.strictSame(await notifications(app.dbh), [{ request_id: req.id, kind: 'overdue', delivery_status: 204 }])
  t.strictSame(hook.attempts.map((d) => d.status), [500, 503, 204])
  t.strictSame(delivered(hook.accepted()), [`${req.id}:overdue`])
  t.ok(verifySignature(hook.accepted()[0]!, SECRET), 'the retried delivery is signed afresh')

  const logged = lines.join('\n')
  for (const s of [...IDENTIFIERS, SECRET, refused]) t.notOk(logged.includes(s), `the log does not carry ${JSON.stringify(s)}`)
})

t.test('a claim left by a run that died mid-delivery is taken over once it is stale; a fresh one is not', async (t) => {
  const app = await newApp(t)
  const hook = await receiver(t)
  const { log } = captureLog()
  const dead = await createRequest(app)
  const inFlight = await createRequest(app)
  await setDue(app.dbh, dead.id, at(-2))
  await setDue(app.dbh, inFlight.id, at(-2))
  // A run that claimed and then died (no delivery status, long ago); another still sending (just now).
  await app.dbh.rows(sql`insert into deadline_notifications (request_id, kind, notified_at) values (${dead.id}, 'overdue', now() - interval '1 hour')`)
  await app.dbh.rows(sql`insert into deadline_notifications (request_id, kind) values (${inFlight.id}, 'overdue')`)

  const run = (now: Date) => runDeadlineMonitor({ dbh: app.dbh, log, webhookUrl: hook.url, secret: SECRET, warningHours: 72 }, now)
  t.strictSame(await run(T0), { due_soon: 0, overdue: 2, notified: 1, failed: 0 })
  t.strictSame(delivered(hook.accepted()), [`${dead.id}:overdue`], 'the stale claim is delivered, the fresh one left to its owner')
  t.strictSame(await run(at(1)), { due_soon: 0, overdue: 2, notified: 0, failed: 0 }, 'and only once')
  t.strictSame((await notifications(app.dbh)).map((n) => `${n.request_id}:${n.delivery_status}`).sort(),
    [`${dead.id}:200`, `${inFlight.id}:null`].sort())
})

t.test('a GDPR request due within days is reported by its statutory date, not by the extension it could take', async (t) => {
  const app = await newApp(t)
  const hook = await receiver(t)
  const { log } = captureLog()
  // Through the API alone: received a month (less a day) ago, so due within days. Its
  // extended_due_at (three months) is only the latest date if the extension is taken, which
  // nothing records: it must not postpone the warning.
  const received = DateTime.utc().minus({ months: 1 }).plus({ days: 1 }).toISO()!
  const gdpr = await createRequest(app, { received_at: received })
  t.ok(gdpr.deadline.extended_due_at, 'intake stores the latest extended date on every GDPR request')
  t.ok(Date.parse(gdpr.deadline.extended_due_at!) > Date.now() + 40 * 24 * HOUR, 'about two months away')
  const now = new Date()
  const found = await findDeadlines(app.dbh, now, 24 * 7)
  t.strictSame(found.due_soon.map((e) => [e.id, e.due_at]), [[gdpr.id, gdpr.due_at]], 'reported by its statutory due date')
  t.strictSame(found.overdue, [])
  t.match(await runDeadlineMonitor({ dbh: app.dbh, log, webhookUrl: hook.url, secret: SECRET, warningHours: 24 * 7 }, now), { due_soon: 1, notified: 1 })
  t.equal(hook.accepted()[0]?.body.request.due_at, gdpr.due_at, 'and warned about by it')

  const after = new Date(Date.parse(gdpr.due_at) + HOUR)
  t.match(await runDeadlineMonitor({ dbh: app.dbh, log, webhookUrl: hook.url, secret: SECRET, warningHours: 24 * 7 }, after),
    { due_soon: 0, overdue: 1, notified: 1 }, 'overdue an hour after the statutory date, two months before the extended one')
  t.strictSame(delivered(hook.accepted()), [`${gdpr.id}:due_soon`, `${gdpr.id}:overdue`])
})

t.test('closed requests are never reported; open ones are judged by due_at, not by the extension they could take', async (t) => {
  const app = await newApp(t)
  const dbh = app.dbh
  const hook = await receiver(t)
  const { log } = captureLog()

  // A CCPA request past its 45 days but within its possible 90 is overdue.
  const ccpa = await createRequest(app, { regime: 'ccpa' })
  await setDue(dbh, ccpa.id, at(-6))
  t.ok(Date.parse(ccpa.deadline.extended_due_at!) > at(24 * 30).getTime())
  // LGPD has no extension at all.
  const lgpd = await createRequest(app, { regime: 'lgpd' })
  await setDue(dbh, lgpd.id, at(2))
  // A request whose extended date alone falls in the window is not due soon.
  const extOnly = await createRequest(app, { regime: 'pipeda' })
  await dbh.rows(sql`update requests set extended_due_at = ${at(3).toISOString()} where id = ${extOnly.id}`)

  // Open but held: the legal clock keeps running.
  const held = await createRequest(app)
  await setDue(dbh, held.id, at(4))
  await dbh.rows(sql`update requests set status = 'on_hold', held_from = 'received' where id = ${held.id}`)

  // Closed, each way a request can close, all overdue or due soon by date.
  const closed: string[] = []
  const cancelled = await createRequest(app)
  const res = await app.inject({ method: 'POST', url: `/v1/requests/${cancelled.id}/cancel`, headers: auth('writer'), payload: { reason: 'withdrawn by the subject' } })
  t.equal(res.statusCode, 200, 'cancelled through the API')
  closed.push(cancelled.id)
  for (const status of ['completed', 'partially_completed', 'failed', 'rejected']) {
    const r = await createRequest(app)
    await dbh.rows(sql`update requests set status = ${status}::request_status where id = ${r.id}`)
    closed.push(r.id)
  }
  for (const [i, id] of closed.entries()) await setDue(dbh, id, at(i % 2 === 0 ? -10 : 10))

  const report = await findDeadlines(dbh, T0, 72)
  const ids = [...report.due_soon, ...report.overdue].map((e) => e.id)
  for (const id of closed) t.notOk(ids.includes(id), `closed request ${id} is not reported`)
  t.notOk(ids.includes(extOnly.id), 'an extended date alone does not make a request due soon')
  t.strictSame(report.overdue.map((e) => [e.id, e.due_at, e.hours_left]), [[ccpa.id, at(-6).toISOString(), -6]])
  t.strictSame(report.due_soon.map((e) => [e.id, e.status, e.hours_left]), [[lgpd.id, 'received', 2], [held.id, 'on_hold', 4]],
    'open requests, held ones included, soonest first')

  const counts = await runDeadlineMonitor({ dbh, log, webhookUrl: hook.url, secret: SECRET, warningHours: 72 }, T0)
  t.match(counts, { notified: 3, failed: 0 })
  t.strictSame(delivered(hook.accepted()), [`${ccpa.id}:overdue`, `${lgpd.id}:due_soon`, `${held.id}:due_soon`].sort(), 'only open requests are sent')
  const ccpaSent = hook.accepted().find((d) => d.body.request.id === ccpa.id)!
  t.equal(ccpaSent.body.request.due_at, at(-6).toISOString(), 'the payload carries the due date it was judged by')
})

t.test('an extended request is judged by its extended date, one not extended by due_at; warnings start again after the extension', async (t) => {
  const app = await newApp(t)
  const dbh = app.dbh
  const hook = await receiver(t)
  const { log } = captureLog()
  const run = (now: Date) => runDeadlineMonitor({ dbh, log, webhookUrl: hook.url, secret: SECRET, warningHours: 72 }, now)
  const extend = (id: string) => app.inject({
    method: 'POST', url: `/v1/requests/${id}/extension`, headers: auth('writer'), payload: { reason: 'Records in six systems' }
  })

  // Both GDPR, both with a possible extended date 10 h from T0; only `extended` takes it.
  const extended = await createRequest(app)
  const plain = await createRequest(app)
  const res = await extend(extended.id)
  t.equal(res.statusCode, 200, 'extension taken through the API')
  for (const id of [extended.id, plain.id]) {
    await setDue(dbh, id, at(-5))
    await dbh.rows(sql`update requests set extended_due_at = ${at(10).toISOString()} where id = ${id}`)
  }
  const report = await findDeadlines(dbh, T0, 72)
  t.strictSame(report.due_soon.map((e) => [e.id, e.due_at, e.hours_left]), [[extended.id, at(10).toISOString(), 10]],
    'the extended request: due soon, by its extended date')
  t.strictSame(report.overdue.map((e) => [e.id, e.due_at, e.hours_left]), [[plain.id, at(-5).toISOString(), -5]],
    'the other: overdue by due_at, whatever extended date it could have had')

  // Warned ahead of the statutory date, then extended: warned again ahead of the extended one.
  const warned = await createRequest(app)
  await setDue(dbh, warned.id, at(5))
  t.match(await run(T0), { notified: 3, failed: 0 })
  t.ok(delivered(hook.accepted()).includes(`${warned.id}:due_soon`), 'warned by its statutory date')
  t.equal((await extend(warned.id)).statusCode, 200, 'extended before its due date')
  await dbh.rows(sql`update requests set extended_due_at = ${at(100).toISOString()} where id = ${warned.id}`)
  const mine = () => hook.accepted().filter((d) => d.body.request.id === warned.id).map((d) => [d.body.kind, d.body.request.due_at])
  t.match(await run(at(6)), { notified: 0 }, 'past its statutory date, but extended: not overdue')
  t.strictSame((await findDeadlines(dbh, at(6), 72)).overdue.map((e) => e.id), [plain.id])
  t.strictSame(mine(), [['due_soon', at(5).toISOString()]], 'nothing more about it yet')
  t.match(await run(at(40)), { notified: 2 }, 'the other extended request is overdue by now; this one is due soon again')
  t.strictSame(mine(), [['due_soon', at(5).toISOString()], ['due_soon', at(100).toISOString()]], 'due soon again, 60 h before the extended date')
  t.match(await run(at(101)), { notified: 1 })
  t.strictSame(mine(), [['due_soon', at(5).toISOString()], ['due_soon', at(100).toISOString()], ['overdue', at(100).toISOString()]],
    'and overdue once that has passed')
})

t.test('no subject identifiers in the webhook body or the deadline report', async (t) => {
  const app = await newApp(t)
  const hook = await receiver(t)
  const { log, lines } = captureLog()
  const soon = await createRequest(app, { notes: 'Called from +44 20 7946 0958, see ticket for Ada Lovelace' })
  const late = await createRequest(app, { type: 'erasure', regime: 'uk_gdpr' })
  const hours = (Date.now() - T0.getTime()) / HOUR
  await setDue(app.dbh, soon.id, at(hours + 20))
  await setDue(app.dbh, late.id, at(hours - 20))

  await runDeadlineMonitor({ dbh: app.dbh, log, webhookUrl: hook.url, secret: SECRET, warningHours: 72 }, new Date())
  t.equal(hook.accepted().length, 2)
  for (const d of hook.accepted()) {
    t.strictSame(Object.keys(d.body).sort(), PAYLOAD_KEYS, 'payload keys')
    t.strictSame(Object.keys(d.body.request).sort(), PAYLOAD_REQUEST_KEYS, 'payload request keys')
    for (const s of IDENTIFIERS) t.notOk(d.raw.includes(s), `webhook body has no ${JSON.stringify(s)}`)
  }
  t.notOk(lines.join('\n').includes('@'), 'no e-mail address in the logs')

  const res = await app.inject({ url: '/v1/reports/deadlines', headers: auth('reader') })
  t.equal(res.statusCode, 200)
  const body = res.json()
  t.strictSame(Object.keys(body).sort(), ['account_parts', 'due_soon', 'generated_at', 'overdue', 'window_hours'])
  t.equal(body.due_soon.length, 1)
  t.equal(body.overdue.length, 1)
  for (const e of [...body.due_soon, ...body.overdue]) t.strictSame(Object.keys(e).sort(), ENTRY_KEYS, 'report entry keys')
  for (const s of IDENTIFIERS) t.notOk(res.body.includes(s), `report has no ${JSON.stringify(s)}`)
  t.notOk(res.body.includes('@'), 'no e-mail address at all in the report')
})

t.test('GET /v1/reports/deadlines: classification, auth, scope and query validation', async (t) => {
  const app = await newApp(t)
  const dbh = app.dbh
  const base = Date.now()
  const due = (hours: number) => new Date(base + hours * HOUR)
  const soon = await createRequest(app)
  const later = await createRequest(app, { regime: 'ccpa' })
  const overdue = await createRequest(app, { type: 'erasure' })
  const outside = await createRequest(app)
  await setDue(dbh, soon.id, due(10))
  await setDue(dbh, later.id, due(60))
  await setDue(dbh, overdue.id, due(-30))
  await setDue(dbh, outside.id, due(100))

  const get = (query = '', headers: Record<string, string> = auth('reader')) =>
    app.inject({ url: `/v1/reports/deadlines${query}`, headers })

  const res = await get()
  t.equal(res.statusCode, 200, 'requests:read is enough')
  const body = res.json()
  t.equal(body.window_hours, 72, 'DEADLINE_WARNING_HOURS by default')
  t.ok(Math.abs(Date.parse(body.generated_at) - Date.now()) < 60_000, 'generated now')
  t.strictSame(body.due_soon.map((e: { id: string }) => e.id), [soon.id, later.id], 'due within 72 h, soonest first')
  t.strictSame(body.overdue.map((e: { id: string }) => e.id), [overdue.id])
  t.ok(body.due_soon.every((e: { hours_left: number }) => e.hours_left > 0), 'hours_left positive when due soon')
  t.ok(body.overdue.every((e: { hours_left: number }) => e.hours_left < 0), 'negative when overdue')
  t.ok(Math.abs(body.due_soon[0].hours_left - 10) <= 0.2, `about 10 h left (${body.due_soon[0].hours_left})`)
  t.ok(Math.abs(body.overdue[0].hours_left + 30) <= 0.2, `about 30 h late (${body.overdue[0].hours_left})`)
  t.strictSame(body.overdue[0], { id: overdue.id, type: 'erasure', regime: 'gdpr', status: 'received', due_at: due(-30).toISOString(), hours_left: body.overdue[0].hours_left, child: false, internal_due_at: null })
  t.equal(body.due_soon[1].regime, 'ccpa')

  const narrow = (await get('?window_hours=24')).json()
  t.equal(narrow.window_hours, 24)
  t.strictSame(narrow.due_soon.map((e: { id: string }) => e.id), [soon.id], 'a narrower window')
  t.strictSame(narrow.overdue.map((e: { id: string }) => e.id), [overdue.id], 'overdue whatever the window')
  const wide = (await get('?window_hours=200')).json()
  t.strictSame(wide.due_soon.map((e: { id: string }) => e.id), [soon.id, later.id, outside.id])

  const none = await get('', {})
  t.equal(none.statusCode, 401, 'no key')
  t.match(none.json(), { code: /^DSR_/ })
  const wrong = await get('', { authorization: 'Bearer not-a-key-000000000000000000000' })
  t.equal(wrong.statusCode, 401, 'an unknown key')
  const outsider = await get('', auth('outsider'))
  t.equal(outsider.statusCode, 403, 'a key without requests:read')
  t.match(outsider.json(), { code: /^DSR_/ })
  t.notOk(outsider.body.includes(soon.id), 'and no data')
  t.equal((await get('', auth('writer'))).statusCode, 200)
  t.equal((await get('', auth('admin'))).statusCode, 200)

  for (const q of ['?window_hours=0', '?window_hours=-5', '?window_hours=8761', '?window_hours=1.5', '?window_hours=abc', '?window_hours=', '?window_hours=1e400', '?window=72', '?window_hours=24&window_hours=48']) {
    const bad = await get(q)
    t.ok(bad.statusCode >= 400 && bad.statusCode < 500, `${q}: ${bad.statusCode} is a client error`)
    t.match(bad.json(), { code: /^DSR_/ }, `${q}: a DSR_ error code`)
  }
  t.equal((await get('?window_hours=8760')).statusCode, 200, 'a year is the largest window')
  t.equal((await get('?window_hours=1')).statusCode, 200)
})

t.test('hours_left is never rounded across zero', async (t) => {
  const dbh = await testDb(t)
  const app = await build(t, { dbh })
  const id = (await app.inject({ method: 'POST', url: '/v1/requests', headers: auth(), payload: requestBody({ regime: 'lgpd' }) })).json().id
  const [row] = await dbh.rows<{ due: Date }>(sql`select effective_due_at as due from requests where id = ${id}`)
  const due = new Date(row!.due)
  const report = async (now: Date) => findDeadlines(dbh, now, 2)
  t.strictSame((await report(new Date(due.getTime() + 60_000))).overdue.map((e) => e.hours_left), [-0.1], 'a minute late: -0.1')
  t.strictSame((await report(new Date(due.getTime() - 60_000))).due_soon.map((e) => e.hours_left), [0], 'a minute early: 0')
  t.strictSame((await report(new Date(due.getTime() - 90 * 60_000))).due_soon.map((e) => e.hours_left), [1.5])
})
