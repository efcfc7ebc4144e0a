import t from 'tap'
import { sql } from 'drizzle-orm'
import { auth, build, requestBody } from '../helper.js'

t.test('requests API', async (t) => {
  const app = await build(t)

  const create = (body: Record<string, unknown>, headers: Record<string, string> = auth('writer')) =>
    app.inject({ method: 'POST', url: '/v1/requests', headers, payload: body })

  t.test('creates a request with its deadline and an audit event', async (t) => {
    const res = await create(requestBody({ received_at: '2026-01-31T10:00:00Z', jurisdiction: 'DE', channel: 'email' }))
    t.equal(res.statusCode, 202)
    const body = res.json()
    t.match(body, {
      type: 'access',
      status: 'received',
      regime: 'gdpr',
      received_at: '2026-01-31T10:00:00.000Z',
      due_at: '2026-02-28T23:59:59.999Z',
      deadline: { due_date: '2026-02-28', time_zone: 'UTC', extended_due_at: '2026-04-30T23:59:59.999Z' },
      links: { self: `/v1/requests/${body.id}` }
    })
    t.equal(res.headers.location, `/v1/requests/${body.id}`)

    const got = await app.inject({ url: `/v1/requests/${body.id}`, headers: auth('reader') })
    t.equal(got.statusCode, 200)
    t.strictSame(got.json(), body, 'GET returns what POST returned')

    const events = await app.inject({ url: `/v1/requests/${body.id}/events`, headers: auth('reader') })
    t.match(events.json().data, [{ actor: 'writer', action: 'created', from_status: null, to_status: 'received' }])
    t.equal(events.json().data.length, 1)
  })

  t.test('received_at defaults to now and may not be in the future', async (t) => {
    const before = Date.now()
    const res = await create(requestBody())
    t.equal(res.statusCode, 202)
    const received = Date.parse(res.json().received_at)
    t.ok(received >= before - 5 && received <= Date.now() + 5, 'defaults to the time of intake')

    const future = await create(requestBody({ received_at: new Date(Date.now() + 3_600_000).toISOString() }))
    t.equal(future.statusCode, 400)
    t.match(future.json(), { code: 'DSR_VALIDATION_FAILED', details: [{ in: 'body', field: '/received_at' }] })
  })

  t.test('counts the deadline in the request time zone and regime', async (t) => {
    const uk = await create(requestBody({ regime: 'uk_gdpr', received_at: '2026-10-03T09:00:00Z', time_zone: 'Europe/London' }))
    // 3 Oct → 3 Nov 2026 is a Tuesday: no roll-forward.
    t.match(uk.json().deadline, { due_date: '2026-11-03', time_zone: 'Europe/London', due_at: '2026-11-03T23:59:59.999Z' })
    const ccpa = await create(requestBody({ regime: 'ccpa', received_at: '2026-01-02T18:00:00Z', time_zone: 'America/Los_Angeles' }))
    t.match(ccpa.json().deadline, { due_date: '2026-02-16', acknowledge_by: '2026-01-17T07:59:59.999Z' })
    const pipl = await create(requestBody({ regime: 'pipl', received_at: '2026-01-01T00:00:00Z' }))
    t.equal(pipl.json().deadline.due_date, '2026-01-31', 'PIPL default: 30 days')
  })

  t.test('normalises identities and checks hashed forms against them', async (t) => {
    const res = await create(requestBody({ subject: { email: 'Ada@Example.COM', phone: '+44 20 7946-0958' } }))
    t.equal(res.statusCode, 202)
    t.strictSame(res.json().subject, { email: 'ada@example.com', phone: '+442079460958' })
    const mismatch = await create(requestBody({ subject: { email: 'ada@example.com', email_sha256: 'a'.repeat(64) } }))
    t.equal(mismatch.statusCode, 400)
    t.match(mismatch.json().details, [{ field: '/subject/email_sha256' }])
  })

  t.test('rectification needs changes and other types refuse them', async (t) => {
    t.equal((await create(requestBody({ type: 'rectification' }))).statusCode, 400)
    const ok = await create(requestBody({ type: 'rectification', changes: [{ field: 'last_name', value: 'King' }] }))
    t.equal(ok.statusCode, 202)
    t.strictSame(ok.json().changes, [{ field: 'last_name', value: 'King' }])
    t.equal((await create(requestBody({ type: 'erasure', changes: [{ field: 'x', value: 1 }] }))).statusCode, 400)
  })

  t.test('an agent must be named', async (t) => {
    t.equal((await create(requestBody({ requester: { kind: 'authorised_agent' } }))).statusCode, 400)
    const ok = await create(requestBody({ requester: { kind: 'authorised_agent', name: 'Agent Co', authority_reference: 'POA-17' } }))
    t.equal(ok.statusCode, 202)
  })

  t.test('authentication and scopes', async (t) => {
    const none = await app.inject({ method: 'POST', url: '/v1/requests', payload: requestBody() })
    t.match(none, { statusCode: 401 })
    t.equal(none.json().code, 'DSR_UNAUTHENTICATED')
    const wrong = await app.inject({ url: '/v1/requests', headers: { authorization: 'Bearer not-a-key' } })
    t.equal(wrong.statusCode, 401)
    const readerWrites = await create(requestBody(), auth('reader'))
    t.equal(readerWrites.statusCode, 403)
    t.equal(readerWrites.json().code, 'DSR_FORBIDDEN')
    const outsiderReads = await app.inject({ url: '/v1/requests', headers: auth('outsider') })
    t.equal(outsiderReads.statusCode, 403)
    const viaHeader = await app.inject({ url: '/v1/requests', headers: { 'x-api-key': 'test-reader-key-00000000000000000' } })
    t.equal(viaHeader.statusCode, 200, 'X-API-Key works too')
    t.equal((await app.inject({ url: '/health/live' })).statusCode, 200, 'health is open')
    t.equal((await app.inject({ url: '/openapi.json' })).statusCode, 200, 'the API document is open')
  })

  t.test('unknown ids and routes', async (t) => {
    const missing = await app.inject({ url: '/v1/requests/00000000-0000-4000-8000-000000000000', headers: auth() })
    t.equal(missing.statusCode, 404)
    t.equal(missing.json().code, 'DSR_REQUEST_NOT_FOUND')
    const notUuid = await app.inject({ url: '/v1/requests/not-a-uuid', headers: auth() })
    t.equal(notUuid.statusCode, 400)
    const noRoute = await app.inject({ url: '/v1/nothing', headers: auth() })
    t.match(noRoute.json(), { statusCode: 404, code: 'DSR_ROUTE_NOT_FOUND' })
    const noEvents = await app.inject({ url: '/v1/requests/00000000-0000-4000-8000-000000000000/events', headers: auth() })
    t.equal(noEvents.statusCode, 404)
  })

  t.test('cancel records who, when, why, and refuses a second cancel', async (t) => {
    const id = (await create(requestBody())).json().id
    const res = await app.inject({ method: 'POST', url: `/v1/requests/${id}/cancel`, headers: auth('writer'), payload: { reason: 'withdrawn by phone' } })
    t.equal(res.statusCode, 200)
    t.equal(res.json().status, 'cancelled')
    const again = await app.inject({ method: 'POST', url: `/v1/requests/${id}/cancel`, headers: auth('writer'), payload: { reason: 'again' } })
    t.equal(again.statusCode, 409)
    t.equal(again.json().code, 'DSR_ILLEGAL_TRANSITION')
    const events = (await app.inject({ url: `/v1/requests/${id}/events`, headers: auth() })).json().data
    t.equal(events.length, 2, 'the refused cancel wrote nothing')
    t.match(events[1], { actor: 'writer', action: 'transition', from_status: 'received', to_status: 'cancelled', reason: 'withdrawn by phone' })
    const noReason = await app.inject({ method: 'POST', url: `/v1/requests/${id}/cancel`, headers: auth('writer'), payload: {} })
    t.equal(noReason.statusCode, 400)
  })

  t.test('idempotency: same key and body replays, a different body is refused', async (t) => {
    const headers = { ...auth('writer'), 'idempotency-key': 'order-7781' }
    const first = await create(requestBody({ notes: 'first' }), headers)
    const replay = await create(requestBody({ notes: 'first' }), headers)
    t.equal(first.statusCode, 202)
    t.equal(replay.statusCode, 202)
    t.equal(replay.json().id, first.json().id)
    t.equal(replay.headers['idempotent-replayed'], 'true')
    const changed = await create(requestBody({ notes: 'second' }), headers)
    t.equal(changed.statusCode, 422)
    t.equal(changed.json().code, 'DSR_IDEMPOTENCY_KEY_REUSED')
    const otherClient = await create(requestBody({ notes: 'first' }), { ...auth('admin'), 'idempotency-key': 'order-7781' })
    t.not(otherClient.json().id, first.json().id, 'keys are scoped to the client that sent them')
  })

  t.test('20 concurrent identical POSTs with one key make exactly one request', async (t) => {
    const headers = { ...auth('writer'), 'idempotency-key': 'burst-1' }
    const body = requestBody({ subject: { email: 'burst@example.com' } })
    const results = await Promise.all(Array.from({ length: 20 }, () => create(body, headers)))
    t.strictSame(results.map((r) => r.statusCode), Array(20).fill(202))
    t.equal(new Set(results.map((r) => r.json().id)).size, 1, 'one id for all 20')
    const rows = await app.dbh.rows<{ n: number }>(sql`select count(*)::int as n from requests where idempotency_key = 'burst-1'`)
    t.equal(rows[0]?.n, 1, 'one row in the database')
    const events = await app.dbh.rows<{ n: number }>(sql`
      select count(*)::int as n from request_events e join requests r on r.id = e.request_id where r.idempotency_key = 'burst-1'`)
    t.equal(events[0]?.n, 1, 'one created event')
  })
})

t.test('listing: filters, overdue and cursor pagination', async (t) => {
  const app = await build(t)
  const make = async (over: Record<string, unknown>) =>
    (await app.inject({ method: 'POST', url: '/v1/requests', headers: auth(), payload: requestBody(over) })).json()

  const old = await make({ type: 'erasure', regime: 'ccpa', received_at: '2025-01-01T00:00:00Z' }) // overdue
  const ids = [old.id]
  for (let i = 0; i < 6; i++) ids.push((await make({ type: 'access', regime: 'gdpr' })).id)
  const cancelledOld = await make({ type: 'erasure', regime: 'gdpr', received_at: '2025-02-01T00:00:00Z' })
  await app.inject({ method: 'POST', url: `/v1/requests/${cancelledOld.id}/cancel`, headers: auth(), payload: { reason: 'duplicate' } })

  const list = (qs: string) => app.inject({ url: `/v1/requests?${qs}`, headers: auth('reader') })

  const overdue = (await list('overdue=true')).json()
  t.strictSame(overdue.data.map((r: { id: string }) => r.id), [old.id], 'overdue: open and past due (the cancelled one is not)')
  t.equal((await list('overdue=false')).json().data.length, 7)
  t.strictSame((await list('type=erasure&status=cancelled')).json().data.map((r: { id: string }) => r.id), [cancelledOld.id])
  t.equal((await list('regime=ccpa&regime=gdpr')).json().data.length, 8, 'repeated params match any')
  t.equal((await list('due_before=2025-06-01T00:00:00Z')).json().data.length, 2)
  t.equal((await list('due_after=2026-01-01T00:00:00Z')).json().data.length, 6)

  // Pages of 3 over 8 rows: newest first, no row twice, none missing.
  const seen: string[] = []
  let cursor: string | null = null
  let pages = 0
  do {
    const res = await list(`limit=3${cursor ? `&cursor=${cursor}` : ''}`)
    t.equal(res.statusCode, 200)
    const page = res.json()
    seen.push(...page.data.map((r: { id: string }) => r.id))
    cursor = page.next_cursor
    pages++
  } while (cursor)
  t.equal(pages, 3)
  t.strictSame(seen, [cancelledOld.id, ...ids.slice().reverse()], 'stable newest-first order across pages')

  const bad = await list('cursor=bm9wZQ')
  t.equal(bad.statusCode, 400)
  t.equal(bad.json().code, 'DSR_INVALID_CURSOR')
  t.equal((await list('limit=0')).statusCode, 400)
  t.equal((await list('status=nope')).statusCode, 400)
})
