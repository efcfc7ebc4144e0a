import t from 'tap'
import { randomUUID } from 'node:crypto'
import { sql } from 'drizzle-orm'
import pino from 'pino'
import type { FastifyBaseLogger } from 'fastify'
import { auth, build, testDb, testKeys } from '../helper.js'
import { hashKey } from '../../src/services/api-keys.js'
import { createHoldsRepository } from '../../src/db/repositories/holds-repository.js'
import { createRegistry, parseConnectorFile } from '../../src/connectors/registry.js'
import { drivers } from '../../connectors/index.js'
import { runDeadlineMonitor } from '../../src/engine/deadline-monitor.js'

const DAY = 86_400_000
const HOLDS_KEY = 'test-holds-key-0000000000000000000'
const later = (days = 30) => new Date(Date.now() + days * DAY).toISOString()
const valid = () => ({ subject: { email: 'ada@example.com', phone: '+44 7700 900001' }, ground: 'legal_claims', reference: 'CASE-1', review_at: later() })

// The API on the embedded database: validation, scopes, release, the audit trail; then the monitor's once-per-review warning.
t.test('legal holds API on the embedded database', async (t) => {
  const dbh = await testDb(t, { embedded: true })
  const keys = testKeys()
  keys.set(hashKey(HOLDS_KEY), { name: 'counsel', scopes: ['holds:manage'] })
  const logs: string[] = []
  const memory = (id: string, streams: string[]) => ({
    id, driver: 'memory', processing: { purposes: ['Service'], retention: { rule: 'While a customer' } }, settings: { streams: streams.map((name) => ({ name, match: { email: 'email' }, records: [] })) }
  })
  const quiet = { debug () {}, info () {}, warn () {}, error () {} }
  const registry = await createRegistry(parseConnectorFile({ connectors: [memory('crm', ['contacts', 'deals']), memory('support', ['tickets'])] }), { drivers, env: {}, log: quiet })
  const app = await build(t, { dbh, registry, apiKeys: keys, logs, env: { SCHEDULER_ENABLED: 'false' } })
  const post = (payload: unknown, headers: Record<string, string> = auth()) => app.inject({ method: 'POST', url: '/v1/holds', headers, payload: payload as object })

  t.test('validation answers coded 4xx', async (t) => {
    const cases: Array<[string, unknown, number, string]> = [
      ['no ground', { ...valid(), ground: undefined }, 400, 'DSR_VALIDATION_FAILED'],
      ['an unknown ground', { ...valid(), ground: 'because' }, 400, 'DSR_VALIDATION_FAILED'],
      ['no identifier', { ...valid(), subject: {} }, 400, 'DSR_VALIDATION_FAILED'],
      ['a blank reference', { ...valid(), reference: '   ' }, 400, 'DSR_VALIDATION_FAILED'],
      ['an unknown field', { ...valid(), person: 'x' }, 400, 'DSR_VALIDATION_FAILED'],
      ['a phone too short', { ...valid(), subject: { phone: '+44 12 34' } }, 400, 'DSR_VALIDATION_FAILED'],
      ['a connector not configured', { ...valid(), covers: [{ connector: 'nowhere' }] }, 422, 'DSR_HOLD_COVERS_INVALID'],
      ['a stream not declared', { ...valid(), covers: [{ connector: 'crm', streams: ['contacts', 'invoices'] }] }, 422, 'DSR_HOLD_COVERS_INVALID'],
      ['a review date passed', { ...valid(), review_at: new Date(Date.now() - 1000).toISOString() }, 422, 'DSR_HOLD_REVIEW_INVALID'],
      ['a review date eleven years ahead', { ...valid(), review_at: later(11 * 366) }, 422, 'DSR_HOLD_REVIEW_INVALID'],
      ['a review date that is no date', { ...valid(), review_at: 'soon' }, 400, 'DSR_VALIDATION_FAILED']
    ]
    for (const [what, body, status, code] of cases) {
      const res = await post(body)
      t.equal(res.statusCode, status, `${what}: ${status}`)
      t.equal(res.json().code, code, `${what}: ${code}`)
    }
    const none = await dbh.rows<{ n: number }>(sql`select count(*)::int as n from legal_holds`)
    t.equal(Number(none[0]!.n), 0, 'nothing was stored')
  })

  t.test('scopes: holds:manage or admin', async (t) => {
    t.equal((await post(valid(), auth('writer'))).statusCode, 403, 'requests:write may not place a hold')
    t.equal((await app.inject({ url: '/v1/holds', headers: auth('reader') })).statusCode, 403, 'nor requests:read list them')
    t.equal((await app.inject({ url: '/v1/holds' })).statusCode, 401)
    const counsel = await post(valid(), { authorization: `Bearer ${HOLDS_KEY}` })
    t.equal(counsel.statusCode, 201, counsel.body)
    t.equal(counsel.json().created_by, 'counsel')
    t.equal((await post(valid())).statusCode, 201, 'admin may too')
    const grounds = (await app.inject({ url: '/v1/holds/grounds', headers: { authorization: `Bearer ${HOLDS_KEY}` } })).json()
    t.match(grounds.data.find((g: { code: string }) => g.code === 'legal_claims'), { article: 'GDPR Art 17(3)(e)' })
    t.ok(grounds.data.length >= 5)
  })

  t.test('create, get, list, release once; identifiers never answered, stored or logged', async (t) => {
    const created = await post({ ...valid(), covers: [{ connector: 'crm', streams: ['deals'] }, { connector: 'support' }], note: 'Invoice dispute' })
    t.equal(created.statusCode, 201)
    const hold = created.json()
    t.match(hold, { status: 'active', ground: 'legal_claims', reference: 'CASE-1', identifiers: 2, covers: [{ connector: 'crm', streams: ['deals'] }, { connector: 'support' }], released_at: null })
    const got = await app.inject({ url: `/v1/holds/${hold.id}`, headers: auth() })
    t.strictSame(got.json(), hold)
    const stored = await dbh.rows<Record<string, unknown>>(sql`select * from legal_holds where id = ${hold.id}`)
    const raw = JSON.stringify(stored)
    // The identifiers as written: 'ada' or '7700' alone would also match inside a hex hash or a uuid.
    t.notOk(/ada@example|447700900001|7700 900001/i.test(raw), 'the row holds no identifier, only keyed hashes')
    t.equal((stored[0]!.person_keys as string[]).length, 2)

    const missing = await app.inject({ method: 'POST', url: `/v1/holds/${randomUUID()}/release`, headers: auth(), payload: { reason: 'x' } })
    t.equal(missing.statusCode, 404)
    t.equal(missing.json().code, 'DSR_HOLD_NOT_FOUND')
    t.equal((await app.inject({ url: `/v1/holds/${randomUUID()}`, headers: auth() })).json().code, 'DSR_HOLD_NOT_FOUND')
    t.equal((await app.inject({ method: 'POST', url: `/v1/holds/${hold.id}/release`, headers: auth(), payload: {} })).statusCode, 400, 'a release needs its reason')
    const released = await app.inject({ method: 'POST', url: `/v1/holds/${hold.id}/release`, headers: auth('admin'), payload: { reason: 'Settled out of court' } })
    t.equal(released.statusCode, 200)
    t.match(released.json(), { status: 'released', released_by: 'admin', release_reason: 'Settled out of court' })
    const again = await app.inject({ method: 'POST', url: `/v1/holds/${hold.id}/release`, headers: auth(), payload: { reason: 'again' } })
    t.equal(again.statusCode, 409)
    t.equal(again.json().code, 'DSR_HOLD_ALREADY_RELEASED')

    const active = (await app.inject({ url: '/v1/holds?status=active', headers: auth() })).json().data
    const releasedList = (await app.inject({ url: '/v1/holds?status=released', headers: auth() })).json().data
    t.notOk(active.some((h: { id: string }) => h.id === hold.id))
    t.strictSame(releasedList.map((h: { id: string }) => h.id), [hold.id])

    const events = await dbh.rows<{ action: string, actor: string, details: Record<string, unknown> }>(sql`
      select action, actor, details from system_events where details->>'hold_id' = ${hold.id} order by id`)
    t.strictSame(events.map((e) => [e.action, e.actor]), [['legal_hold_placed', 'admin'], ['legal_hold_released', 'admin']], 'each change is on the audit trail')
    t.match(events[0]!.details, { ground: 'legal_claims', reference: 'CASE-1', identifiers: 2 })
    t.notOk(/ada@example|447700900001|7700 900001|Invoice dispute|Settled/i.test(JSON.stringify(events)), 'the trail holds no identifier, note or reason')
    const leaked = logs.filter((l) => /ada@example|447700900001|7700 900001|Invoice dispute|Settled/i.test(l))
    t.strictSame(leaked.map((l) => l.slice(0, 300)), [], 'nor do the logs')
  })

  t.test('the monitor raises a hold past its review date once per review date', async (t) => {
    const repo = createHoldsRepository(dbh)
    const past = await repo.insert({ id: randomUUID(), personKeys: ['k'], ground: 'regulator_investigation', reference: 'REG-7', note: null, reviewAt: new Date(Date.now() - DAY), covers: [], createdBy: 'test' })
    const lines: string[] = []
    const log = pino({ level: 'info' }, { write: (s: string) => { lines.push(s) } }) as unknown as FastifyBaseLogger
    const first = await runDeadlineMonitor({ dbh, log, warningHours: 24 }, new Date())
    t.match(first, { hold_reviews_due: 1, hold_reviews_raised: 1 })
    const second = await runDeadlineMonitor({ dbh, log, warningHours: 24 }, new Date())
    t.match(second, { hold_reviews_due: 1, hold_reviews_raised: 0 }, 'still due, not raised again')
    const raised = await dbh.rows<{ details: Record<string, unknown> }>(sql`select details from system_events where action = 'hold_review_due'`)
    t.strictSame(raised.map((r) => r.details.hold_id), [past.id])
    const released = await app.inject({ method: 'POST', url: `/v1/holds/${past.id}/release`, headers: auth(), payload: { reason: 'reviewed: investigation closed' } })
    t.equal(released.statusCode, 200)
    t.strictSame(await runDeadlineMonitor({ dbh, log, warningHours: 24 }, new Date()), { due_soon: 0, overdue: 0, notified: 0, failed: 0 }, 'a released hold is not due')
    t.ok(lines.some((l) => l.includes('legal hold past its review date')))
  })
})
