import t from 'tap'
import { sql } from 'drizzle-orm'
import { auth, build, KEYS, requestBody, waitFor } from '../helper.js'
import type { DbHandle } from '../../src/db/client.js'

/**
 * POST /v1/requests/:id/extension: the statutory extension is taken explicitly, once, while the
 * request is open and before its statutory due date, and from then on the request is judged by
 * the extended date. The reason is free text from staff: it is stored and shown, never logged.
 */

type App = Awaited<ReturnType<typeof build>>

const DAY = 86_400_000
// A phrase no other part of the service writes, so any log line that holds it leaked the reason.
const REASON = 'Zq-7731 complexity: records of Mrs Quigley-Farnsworth held in six systems, two archived off-site'

interface Resource {
  id: string
  status: string
  regime: string
  due_at: string
  effective_due_at: string
  extension: null | { taken_at: string, reason: string, by: string, notified_subject_at: string | null }
  deadline: { due_at: string, extended_due_at: string | null }
  links: Record<string, string>
}

async function create (app: App, over: Record<string, unknown> = {}): Promise<Resource> {
  const res = await app.inject({
    method: 'POST',
    url: '/v1/requests',
    headers: auth('writer'),
    // Received five days ago: well inside the first period of every regime.
    payload: requestBody({ received_at: new Date(Date.now() - 5 * DAY).toISOString(), ...over })
  })
  if (res.statusCode !== 202) throw new Error(`create failed: ${res.statusCode} ${res.body}`)
  return res.json()
}

const extend = (app: App, id: string, payload: unknown, headers: Record<string, string> = auth('writer')) =>
  app.inject({ method: 'POST', url: `/v1/requests/${id}/extension`, headers, payload: payload as object })

/** What the database holds about extensions: taken ones and their audit events. */
async function stored (dbh: DbHandle) {
  const taken = await dbh.rows<{ id: string }>(sql`select id from requests where extension_taken_at is not null order by id`)
  const events = await dbh.rows<{ request_id: string }>(sql`select request_id from request_events where action = 'extension_taken' order by id`)
  return { taken: taken.map((r) => r.id), events: events.map((e) => e.request_id) }
}

async function events (app: App, id: string) {
  const res = await app.inject({ url: `/v1/requests/${id}/events`, headers: auth('reader') })
  return (res.json() as { data: Array<{ action: string, actor: string, reason: string | null, details: Record<string, unknown> | null }> }).data
}

t.test('GDPR: the extension is recorded, the request is judged by the extended date, the reason never logged', async (t) => {
  const logs: string[] = []
  const app = await build(t, { logs, env: { SCHEDULER_ENABLED: 'false' } })
  const req = await create(app)
  t.equal(req.extension, null, 'no extension at intake')
  t.equal(req.effective_due_at, req.due_at, 'judged by due_at until one is taken')
  t.ok(req.deadline.extended_due_at, 'the possible extended date is shown')
  t.equal(req.links.extension, `/v1/requests/${req.id}/extension`)

  const notified = new Date(Date.now() - DAY).toISOString()
  const before = Date.now()
  const res = await extend(app, req.id, { reason: REASON, notified_subject_at: notified }, { ...auth('writer'), 'x-request-id': 'ext-log-1' })
  t.equal(res.statusCode, 200, res.body)
  t.notOk(res.headers['idempotent-replayed'], 'not a replay')
  const body = res.json() as Resource
  t.equal(body.effective_due_at, req.deadline.extended_due_at, 'effective_due_at is the extended date')
  t.equal(body.due_at, req.due_at, 'due_at keeps its meaning: the statutory date')
  t.strictSame(body.deadline, req.deadline, 'the deadline block is unchanged')
  t.match(body.extension, { reason: REASON, by: 'writer', notified_subject_at: notified })
  const takenAt = Date.parse(body.extension!.taken_at)
  t.ok(takenAt >= before - 1000 && takenAt <= Date.now() + 1000, 'taken now')

  const got = await app.inject({ url: `/v1/requests/${req.id}`, headers: auth('reader') })
  t.strictSame(got.json(), body, 'GET shows what the extension returned')

  const trail = await events(app, req.id)
  const ext = trail.filter((e) => e.action === 'extension_taken')
  t.equal(ext.length, 1, 'one audit event')
  t.match(ext[0], {
    actor: 'writer',
    reason: REASON,
    details: { due_at: req.due_at, extended_due_at: req.deadline.extended_due_at, notified_subject_at: notified }
  })
  t.strictSame(await stored(app.dbh), { taken: [req.id], events: [req.id] })

  // Lateness is judged by the effective date: back-date the statutory due_at of this request and
  // of one that was not extended; only the latter is overdue.
  const plain = await create(app)
  const past = new Date(Date.now() - 2 * DAY).toISOString()
  await app.dbh.rows(sql`update requests set due_at = ${past} where id in (${req.id}, ${plain.id})`)
  const list = async (q: string) => ((await app.inject({ url: `/v1/requests?${q}`, headers: auth('reader') })).json() as { data: Resource[] }).data.map((r) => r.id)
  t.strictSame(await list('overdue=true'), [plain.id], 'overdue: only the request without an extension')
  t.ok((await list('overdue=false')).includes(req.id), 'the extended request is not overdue')
  t.strictSame(await list(`due_before=${encodeURIComponent(new Date().toISOString())}`), [plain.id], 'due_before compares effective_due_at')
  t.strictSame(await list(`due_after=${encodeURIComponent(new Date(Date.now() + 40 * DAY).toISOString())}`), [req.id], 'due_after too')
  const reread = (await app.inject({ url: `/v1/requests/${req.id}`, headers: auth('reader') })).json() as Resource
  t.equal(reread.due_at, past)
  t.equal(reread.effective_due_at, req.deadline.extended_due_at, 'still judged by the extended date')

  // The reason reached no log line, although the request was logged (its id is there).
  // Its "request completed" line is written on the response's finish, which can come after inject resolves.
  const lines = () => logs.join('').split('\n').filter((l) => l.trim() !== '')
  const completion = () => lines().some((l) => l.includes('ext-log-1') && l.includes('request completed'))
  t.ok(await waitFor(async () => completion(), 20_000, 'the extension call\'s "request completed" line'), 'the extension call was logged')
  for (const part of ['Zq-7731', 'Quigley-Farnsworth', 'archived off-site']) {
    t.strictSame(lines().filter((l) => l.includes(part)), [], `no log line contains ${JSON.stringify(part)}`)
  }
})

t.test('UK GDPR, CCPA and PIPEDA extend to their own extended date', async (t) => {
  const app = await build(t, { env: { SCHEDULER_ENABLED: 'false' } })
  for (const regime of ['uk_gdpr', 'ccpa', 'pipeda']) {
    const req = await create(app, { regime })
    const res = await extend(app, req.id, { reason: 'Many requests received this month' })
    t.equal(res.statusCode, 200, `${regime}: ${res.body}`)
    const body = res.json() as Resource
    t.equal(body.effective_due_at, req.deadline.extended_due_at, `${regime}: judged by its extended date`)
    t.ok(Date.parse(body.effective_due_at) > Date.parse(body.due_at), `${regime}: later than the statutory date`)
    t.equal(body.extension?.notified_subject_at, null, `${regime}: no notification recorded`)
  }
})

t.test('regimes without an extension are refused, nothing stored', async (t) => {
  const app = await build(t, { env: { SCHEDULER_ENABLED: 'false' } })
  for (const regime of ['lgpd', 'fadp', 'pipl']) {
    const req = await create(app, { regime })
    t.equal(req.deadline.extended_due_at, null, `${regime} has no extended date`)
    const res = await extend(app, req.id, { reason: REASON })
    t.equal(res.statusCode, 422, regime)
    t.equal(res.json().code, 'DSR_EXTENSION_NOT_AVAILABLE')
    t.notOk(res.body.includes('Quigley'), 'the reason is not echoed')
    const got = (await app.inject({ url: `/v1/requests/${req.id}`, headers: auth('reader') })).json() as Resource
    t.equal(got.extension, null)
    t.equal(got.effective_due_at, got.due_at)
  }
  t.match((await extend(app, (await create(app, { regime: 'lgpd' })).id, { reason: 'x' })).json().message, /LGPD/)
  t.strictSame(await stored(app.dbh), { taken: [], events: [] })
})

t.test('taken once: an exact replay is answered again, any other second attempt is refused', async (t) => {
  const app = await build(t, { env: { SCHEDULER_ENABLED: 'false' } })
  const req = await create(app)
  const notified = new Date(Date.now() - DAY).toISOString()
  const first = await extend(app, req.id, { reason: REASON, notified_subject_at: notified })
  t.equal(first.statusCode, 200)

  const replay = await extend(app, req.id, { reason: REASON, notified_subject_at: notified })
  t.equal(replay.statusCode, 200, 'the same call again (a client retry)')
  t.equal(replay.headers['idempotent-replayed'], 'true')
  t.strictSame(replay.json(), first.json(), 'the same request, unchanged')
  // The same instant written another way is the same call.
  const sameInstant = await extend(app, req.id, { reason: REASON, notified_subject_at: notified.replace('Z', '+00:00') })
  t.equal(sameInstant.statusCode, 200)
  t.equal(sameInstant.headers['idempotent-replayed'], 'true')

  const differs: Array<[string, unknown, Record<string, string>?]> = [
    ['another reason', { reason: `${REASON}.`, notified_subject_at: notified }],
    ['no notified_subject_at', { reason: REASON }],
    ['another notified_subject_at', { reason: REASON, notified_subject_at: new Date(Date.now() - 2 * DAY).toISOString() }],
    ['another API key', { reason: REASON, notified_subject_at: notified }, auth('admin')]
  ]
  for (const [name, payload, headers] of differs) {
    const res = await extend(app, req.id, payload, headers)
    t.equal(res.statusCode, 409, name)
    t.equal(res.json().code, 'DSR_EXTENSION_ALREADY_TAKEN', name)
    t.notOk(res.body.includes('Quigley'), `${name}: the reason is not echoed`)
  }
  t.strictSame(await stored(app.dbh), { taken: [req.id], events: [req.id] }, 'one extension, one audit event')
  const got = (await app.inject({ url: `/v1/requests/${req.id}`, headers: auth('reader') })).json() as Resource
  t.strictSame(got.extension, (first.json() as Resource).extension, 'the first extension stands')

  // Two different attempts at once: exactly one wins.
  const other = await create(app)
  const raced = await Promise.all([extend(app, other.id, { reason: 'first' }), extend(app, other.id, { reason: 'second' })])
  t.strictSame(raced.map((r) => r.statusCode).sort(), [200, 409])
  const trail = (await events(app, other.id)).filter((e) => e.action === 'extension_taken')
  t.equal(trail.length, 1, 'one event for the race')
  const winner = raced.find((r) => r.statusCode === 200)!.json() as Resource
  t.equal(trail[0]?.reason, winner.extension?.reason, 'the event is the winner\'s')
})

t.test('after the statutory due date: refused, nothing stored', async (t) => {
  const app = await build(t, { env: { SCHEDULER_ENABLED: 'false' } })
  const req = await create(app)
  await app.dbh.rows(sql`update requests set due_at = now() - interval '1 hour' where id = ${req.id}`)
  const res = await extend(app, req.id, { reason: REASON })
  t.equal(res.statusCode, 409)
  t.equal(res.json().code, 'DSR_EXTENSION_TOO_LATE')
  t.notOk(res.body.includes('Quigley'))
  t.strictSame(await stored(app.dbh), { taken: [], events: [] })

  // A minute before it is still in time.
  await app.dbh.rows(sql`update requests set due_at = now() + interval '1 minute' where id = ${req.id}`)
  t.equal((await extend(app, req.id, { reason: REASON })).statusCode, 200, 'in time up to the due date')
})

t.test('closed requests are refused; an open one on hold is not', async (t) => {
  const app = await build(t, { env: { SCHEDULER_ENABLED: 'false' } })
  const cancelled = await create(app)
  const c = await app.inject({ method: 'POST', url: `/v1/requests/${cancelled.id}/cancel`, headers: auth('writer'), payload: { reason: 'withdrawn' } })
  t.equal(c.statusCode, 200)
  const closed = [cancelled.id]
  for (const status of ['completed', 'partially_completed', 'failed', 'rejected']) {
    const r = await create(app)
    await app.dbh.rows(sql`update requests set status = ${status}::request_status where id = ${r.id}`)
    closed.push(r.id)
  }
  for (const id of closed) {
    const res = await extend(app, id, { reason: REASON })
    t.equal(res.statusCode, 409, id)
    t.equal(res.json().code, 'DSR_EXTENSION_REQUEST_CLOSED')
  }
  t.strictSame(await stored(app.dbh), { taken: [], events: [] })

  const held = await create(app)
  await app.dbh.rows(sql`update requests set status = 'on_hold', held_from = 'received' where id = ${held.id}`)
  const res = await extend(app, held.id, { reason: REASON })
  t.equal(res.statusCode, 200, 'on hold is open: the legal clock runs')
  t.equal(res.json().status, 'on_hold', 'the status is untouched')
})

t.test('malformed bodies and ids: 4xx with DSR_ codes, nothing stored', async (t) => {
  const app = await build(t, { env: { SCHEDULER_ENABLED: 'false' } })
  const req = await create(app)
  const JSON_HEADERS = { ...auth('writer'), 'content-type': 'application/json' }
  const raw = (payload: string | undefined, headers: Record<string, string> = JSON_HEADERS, id = req.id) =>
    app.inject({ method: 'POST', url: `/v1/requests/${id}/extension`, headers, ...(payload === undefined ? {} : { payload }) })
  const json = (v: unknown) => JSON.stringify(v)
  const now = Date.now()

  const cases: Array<[string, Promise<Awaited<ReturnType<typeof raw>>>, number, string, string?]> = [
    ['reason missing', raw(json({})), 400, 'DSR_VALIDATION_FAILED', '/reason'],
    ['reason empty', raw(json({ reason: '' })), 400, 'DSR_VALIDATION_FAILED', '/reason'],
    ['reason only blanks', raw(json({ reason: ' \t\n ' })), 400, 'DSR_VALIDATION_FAILED', '/reason'],
    ['reason 1001 characters', raw(json({ reason: 'x'.repeat(1001) })), 400, 'DSR_VALIDATION_FAILED', '/reason'],
    ['reason a number', raw(json({ reason: 42 })), 400, 'DSR_VALIDATION_FAILED', '/reason'],
    ['reason null', raw(json({ reason: null })), 400, 'DSR_VALIDATION_FAILED', '/reason'],
    ['reason an array', raw(json({ reason: [REASON] })), 400, 'DSR_VALIDATION_FAILED', '/reason'],
    ['unknown field', raw(json({ reason: REASON, extended_due_at: '2030-01-01T00:00:00Z' })), 400, 'DSR_VALIDATION_FAILED', '/extended_due_at'],
    ['notified_subject_at not a date', raw(json({ reason: REASON, notified_subject_at: 'yesterday' })), 400, 'DSR_VALIDATION_FAILED', '/notified_subject_at'],
    ['notified_subject_at a number', raw(json({ reason: REASON, notified_subject_at: now })), 400, 'DSR_VALIDATION_FAILED', '/notified_subject_at'],
    ['notified_subject_at in the future', raw(json({ reason: REASON, notified_subject_at: new Date(now + DAY).toISOString() })),
      400, 'DSR_VALIDATION_FAILED', '/notified_subject_at'],
    ['notified_subject_at before receipt', raw(json({ reason: REASON, notified_subject_at: new Date(now - 30 * DAY).toISOString() })),
      400, 'DSR_VALIDATION_FAILED', '/notified_subject_at'],
    ['body an array', raw(json([{ reason: REASON }])), 400, 'DSR_VALIDATION_FAILED'],
    ['body a string', raw(json(REASON)), 400, 'DSR_VALIDATION_FAILED'],
    ['invalid JSON', raw('{"reason": "x",'), 400, 'DSR_INVALID_JSON'],
    ['empty body', raw(''), 400, 'DSR_EMPTY_BODY'],
    ['text/plain', raw(REASON, { ...auth('writer'), 'content-type': 'text/plain' }), 415, 'DSR_UNSUPPORTED_MEDIA_TYPE'],
    ['id not a uuid', raw(json({ reason: REASON }), JSON_HEADERS, 'not-a-uuid'), 400, 'DSR_VALIDATION_FAILED', '/id'],
    ['unknown id', raw(json({ reason: REASON }), JSON_HEADERS, '00000000-0000-4000-8000-000000000000'), 404, 'DSR_REQUEST_NOT_FOUND']
  ]
  for (const [name, pending, status, code, field] of cases) {
    const res = await pending
    t.equal(res.statusCode, status, `${name}: ${res.statusCode}`)
    t.equal(res.json().code, code, `${name}: ${code}`)
    if (field) t.ok((res.json().details as Array<{ field: string }> | undefined)?.some((d) => d.field === field), `${name}: names ${field}`)
    t.notOk(res.body.includes('Quigley'), `${name}: the reason is not echoed`)
  }
  t.strictSame(await stored(app.dbh), { taken: [], events: [] }, 'nothing stored by any of them')
  const got = (await app.inject({ url: `/v1/requests/${req.id}`, headers: auth('reader') })).json() as Resource
  t.equal(got.extension, null)
  t.equal((await extend(app, req.id, { reason: 'x'.repeat(1000) })).statusCode, 200, 'and 1000 characters are accepted')
})

t.test('requests:write is required', async (t) => {
  const app = await build(t, { env: { SCHEDULER_ENABLED: 'false' } })
  const req = await create(app)
  const none = await extend(app, req.id, { reason: REASON }, {})
  t.equal(none.statusCode, 401, 'no key')
  t.equal(none.json().code, 'DSR_UNAUTHENTICATED')
  const unknown = await extend(app, req.id, { reason: REASON }, { authorization: 'Bearer not-a-key-000000000000000000000' })
  t.equal(unknown.statusCode, 401, 'an unknown key')
  const xApiKey = await extend(app, req.id, { reason: REASON }, { 'x-api-key': `${KEYS.reader}` })
  t.equal(xApiKey.statusCode, 403, 'a reader by X-API-Key')
  for (const who of ['reader', 'outsider'] as const) {
    const res = await extend(app, req.id, { reason: REASON }, auth(who))
    t.equal(res.statusCode, 403, `${who} lacks requests:write`)
    t.equal(res.json().code, 'DSR_FORBIDDEN')
    t.notOk(res.body.includes(req.id), 'and sees no data')
  }
  t.strictSame(await stored(app.dbh), { taken: [], events: [] }, 'nothing stored by refused keys')
  t.equal((await extend(app, req.id, { reason: REASON }, auth('admin'))).statusCode, 200, 'admin may')
  t.match((await app.inject({ url: `/v1/requests/${req.id}`, headers: auth('reader') })).json(), { extension: { by: 'admin' } })
})

t.test('the notice can be recorded later, once, and says whether it came in time', async (t) => {
  const app = await build(t, { env: { SCHEDULER_ENABLED: 'false' } })
  const notice = (id: string, payload: unknown, headers: Record<string, string> = auth('writer')) =>
    app.inject({ method: 'POST', url: `/v1/requests/${id}/extension/notice`, headers, payload: payload as object })
  const req = await create(app)

  const notTaken = await notice(req.id, { notified_subject_at: new Date().toISOString() })
  t.match(notTaken.json(), { statusCode: 409, code: 'DSR_EXTENSION_NOT_TAKEN' }, 'nothing to tell the person of yet')

  t.equal((await extend(app, req.id, { reason: REASON })).statusCode, 200)
  const future = await notice(req.id, { notified_subject_at: new Date(Date.now() + DAY).toISOString() })
  t.match(future.json(), { statusCode: 400, code: 'DSR_VALIDATION_FAILED', details: [{ field: '/notified_subject_at' }] })
  const beforeReceipt = await notice(req.id, { notified_subject_at: new Date(Date.now() - 30 * DAY).toISOString() })
  t.match(beforeReceipt.json(), { statusCode: 400, details: [{ message: 'must not be before the request was received' }] })
  t.equal((await notice(req.id, {})).statusCode, 400, 'the date is required')
  t.equal((await notice(req.id, { notified_subject_at: new Date().toISOString() }, auth('reader'))).statusCode, 403, 'requests:write is required')

  const when = new Date(Date.now() - DAY).toISOString()
  const recorded = await notice(req.id, { notified_subject_at: when })
  t.equal(recorded.statusCode, 200)
  t.equal(recorded.json().extension.notified_subject_at, when)
  t.match((await events(app, req.id)).filter((e) => e.action === 'extension_notice_recorded'),
    [{ details: { notified_subject_at: when, within_first_period: true } }], 'on record, within the first period')

  const replay = await notice(req.id, { notified_subject_at: when })
  t.equal(replay.statusCode, 200)
  t.equal(replay.headers['idempotent-replayed'], 'true', 'the same date again is a replay')
  const other = await notice(req.id, { notified_subject_at: new Date().toISOString() })
  t.match(other.json(), { statusCode: 409, code: 'DSR_EXTENSION_NOTICE_ALREADY_RECORDED' }, 'a different date is refused')
  t.equal((await events(app, req.id)).filter((e) => e.action === 'extension_notice_recorded').length, 1, 'one event')

  const unknown = await notice('00000000-0000-4000-8000-000000000000', { notified_subject_at: when })
  t.equal(unknown.statusCode, 404)

  // Told after the first period ended: recorded as a fact, and flagged.
  const late = await create(app)
  t.equal((await extend(app, late.id, { reason: REASON })).statusCode, 200)
  await app.dbh.rows(sql`update requests set due_at = now() - interval '2 days' where id = ${late.id}`)
  t.equal((await notice(late.id, { notified_subject_at: new Date().toISOString() })).statusCode, 200)
  t.match((await events(app, late.id)).filter((e) => e.action === 'extension_notice_recorded'), [{ details: { within_first_period: false } }])
})
