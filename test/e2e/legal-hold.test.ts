import t from 'tap'
import { createHmac } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { sql } from 'drizzle-orm'
import { auth, build, requestBody, testDb, waitFor } from '../helper.js'
import { createRegistry, parseConnectorFile, readConnectorFile } from '../../src/connectors/registry.js'
import { ensureSampleData, SAMPLE_CONNECTORS_FILE } from '../../src/connectors/samples.js'
import { cronQueue } from '../../src/jobs/queue.js'
import { drivers } from '../../connectors/index.js'

const quiet = { debug () {}, info () {}, warn () {}, error () {} }
const ADA = 'ada@example.com'
const SECRET = 'hold-review-webhook-secret-0123456789'

interface Outcome { stream: string, status: string, count?: number, reason?: string, ground?: string, reference?: string }
interface ReceiptConnector { connector: string, outcomes: Outcome[], verification: { status: string, retained?: Record<string, number> } }

for (const embedded of [false, true]) {
  t.test(`a held person's erasure keeps what the holds cover, reported retained with the ground, and erases the rest; past review, the monitor warns through pg-boss (${embedded ? 'PGlite' : 'Postgres'})`, async (t) => {
    const dbh = await testDb(t, { embedded })
    await ensureSampleData(dbh)
    const deliveries: Array<{ headers: Record<string, unknown>, raw: string }> = []
    const receiver = createServer((req, res) => {
      let raw = ''
      req.on('data', (c: Buffer) => { raw += c.toString() })
      req.on('end', () => { deliveries.push({ headers: req.headers, raw }); res.writeHead(204).end() })
    })
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
    t.teardown(() => new Promise((resolve) => receiver.close(resolve)))

    // The five sample systems, and a memory system, which cannot keep a single stream.
    const memory = {
      id: 'loyalty',
      driver: 'memory',
      processing: { purposes: ['Loyalty points'], retention: { rule: 'While a member' } },
      settings: {
        streams: [
          { name: 'cards', match: { email: 'email' }, records: [{ id: 1, email: ADA, points: 10 }, { id: 2, email: 'grace@example.com' }] },
          { name: 'visits', match: { email: 'email' }, records: [{ id: 1, email: ADA, at: '2024-05-01' }] }
        ]
      }
    }
    const file = readConnectorFile(SAMPLE_CONNECTORS_FILE)
    const registry = await createRegistry(parseConnectorFile({ connectors: [...file.connectors, memory] }), { drivers, env: {}, log: quiet, serviceDatabase: dbh })
    const app = await build(t, {
      dbh,
      registry,
      env: {
        TASK_POLL_SECONDS: '0.5',
        TASK_RETRY_BASE_MS: '50',
        APPROVAL_REQUIRED: 'erasure',
        SCHEDULER_ENABLED: 'true',
        // Never on its own during the test: the test sends the monitor's job itself.
        DEADLINE_CRON: '0 0 1 1 *',
        DEADLINE_WEBHOOK_URL: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/deadlines`,
        DEADLINE_WEBHOOK_SECRET: SECRET
      }
    })

    const reviewAt = new Date(Date.now() + 4000).toISOString()
    // A litigation hold on Ada's support tickets and on the loyalty cards; by her e-mail, written differently.
    const placed = await app.inject({
      method: 'POST',
      url: '/v1/holds',
      headers: auth(),
      payload: {
        subject: { email: 'Ada@Example.COM' },
        ground: 'legal_claims',
        reference: 'CASE-2026-17',
        review_at: reviewAt,
        covers: [{ connector: 'support', streams: ['tickets'] }, { connector: 'loyalty', streams: ['cards'] }],
        note: 'Dispute over invoice 100'
      }
    })
    t.equal(placed.statusCode, 201, placed.body)
    const hold = placed.json()
    t.match(hold, { status: 'active', ground: 'legal_claims', article: 'GDPR Art 17(3)(e)', reference: 'CASE-2026-17', identifiers: 1, review_due: false })
    t.notOk(placed.body.toLowerCase().includes('ada@'), 'the hold does not answer the identifier')
    // A hold on every system of someone else, and one on Ada's CRM released before her erasure: neither keeps anything of hers.
    const grace = await app.inject({ method: 'POST', url: '/v1/holds', headers: auth(), payload: { subject: { email: 'grace@example.com' }, ground: 'regulator_investigation', reference: 'REG-9', review_at: new Date(Date.now() + 86_400_000).toISOString() } })
    t.equal(grace.statusCode, 201)
    const crmHold = (await app.inject({ method: 'POST', url: '/v1/holds', headers: auth(), payload: { subject: { email: ADA }, ground: 'tax_and_accounting', reference: 'TAX-1', review_at: new Date(Date.now() + 86_400_000).toISOString(), covers: [{ connector: 'crm' }] } })).json()
    const released = await app.inject({ method: 'POST', url: `/v1/holds/${crmHold.id}/release`, headers: auth(), payload: { reason: 'audit closed' } })
    t.equal(released.statusCode, 200, released.body)
    t.equal(released.json().status, 'released')

    const erasure = (await app.inject({
      method: 'POST', url: '/v1/requests', headers: auth(), payload: requestBody({ type: 'erasure', subject: { email: ADA }, verification: { method: 'account_login' } })
    })).json()
    t.equal(erasure.status, 'awaiting_approval')

    // The preview shows the held streams retained, with the ground.
    const preview = (await app.inject({ method: 'POST', url: `/v1/requests/${erasure.id}/erasure-preview`, headers: auth() })).json()
    const previewed = Object.fromEntries(preview.connectors.map((c: { connector: string }) => [c.connector, c]))
    t.match(previewed.support.streams.find((s: { stream: string }) => s.stream === 'tickets'), { erase: 0, retain: 1, reasons: [/^legal hold CASE-2026-17: .*GDPR Art 17\(3\)\(e\)/] })
    t.match(previewed.support.streams.find((s: { stream: string }) => s.stream === 'comments'), { erase: 2, retain: 0 })
    t.match(previewed.loyalty.streams, [{ stream: 'cards', erase: 0, retain: 1 }, { stream: 'visits', erase: 0, retain: 1 }], 'a memory system cannot keep one stream: all of it is kept')

    t.equal((await app.inject({ method: 'POST', url: `/v1/requests/${erasure.id}/approve`, headers: auth(), payload: {} })).statusCode, 200)
    const done = await waitFor(async () => {
      const body = (await app.inject({ url: `/v1/requests/${erasure.id}`, headers: auth() })).json()
      return ['completed', 'partially_completed', 'failed'].includes(body.status) ? body : null
    }, 90_000, 'the erasure to close')
    t.equal(done.status, 'completed')

    const receipt = (await app.inject({ url: `/v1/requests/${erasure.id}/receipt`, headers: auth() })).json().receipt
    const byConnector = Object.fromEntries((receipt.connectors as ReceiptConnector[]).map((c) => [c.connector, c]))
    const support = byConnector.support!
    const tickets = support.outcomes.filter((o) => o.stream === 'tickets')
    t.match(tickets, [{ status: 'retained', count: 1, ground: 'legal_claims', reference: 'CASE-2026-17', reason: /^legal hold CASE-2026-17: Establishment, exercise or defence of legal claims/ }])
    t.match(support.outcomes.filter((o) => o.stream === 'users'), [{ status: 'retained', ground: 'legal_claims', reference: 'CASE-2026-17', reason: /kept because held records of tickets refer to it/ }],
      'the user row the held tickets point at is kept too')
    t.match(support.outcomes.filter((o) => o.stream === 'comments'), [{ status: 'erased', count: 2 }], 'the comments on the held ticket are erased')
    t.match(support.verification, { status: 'verified', retained: { tickets: 1, users: 1 } }, 'the search after the erasure counts the held records as retained, not residue')
    const loyalty = byConnector.loyalty!
    t.strictSame(loyalty.outcomes.map((o) => [o.stream, o.status, o.ground, o.reference]), [['cards', 'retained', 'legal_claims', 'CASE-2026-17'], ['visits', 'retained', 'legal_claims', 'CASE-2026-17']])
    t.match(loyalty.outcomes[0]!.reason, /cannot keep single streams/)
    for (const id of ['crm', 'newsletter', 'webinar', 'test_results']) {
      const c = byConnector[id]!
      t.ok(c.outcomes.some((o) => o.status === 'erased'), `${id}: erased as usual`)
      t.notOk(c.outcomes.some((o) => o.reference !== undefined), `${id}: no hold applies`)
    }
    // The data itself: the held ticket and its user are there, everything else of Ada's is gone.
    const count = async (q: string) => Number((await dbh.executor.executeSql(q)).rows[0].n)
    t.equal(await count('select count(*)::int as n from sample_support.tickets where requester_id = 1'), 1)
    t.equal(await count("select count(*)::int as n from sample_support.users where email = 'ada@example.com'"), 1)
    t.equal(await count('select count(*)::int as n from sample_support.comments where ticket_id = 100'), 0)
    t.equal(await count("select count(*)::int as n from sample_crm.contacts where email = 'ada@example.com'"), 0)
    t.equal(await count("select count(*)::int as n from sample_newsletter.members where email = 'ada@example.com'"), 0)
    t.equal(await count("select count(*)::int as n from sample_support.users where email = 'grace@example.com'"), 1, "Grace's hold touched nothing of Ada's, nor was Grace erased")
    t.equal((registry.get('loyalty')!.connector as unknown as { data: Map<string, unknown[]> }).data.get('cards')!.length, 2, 'the loyalty system kept its records')

    // Past the review date: the monitor, run by pg-boss, raises the hold once.
    await waitFor(async () => Date.now() > Date.parse(reviewAt) + 500 ? true : null, 10_000, 'the review date to pass')
    await app.engine.boss.send(cronQueue('deadline_monitor'), {})
    const events = await waitFor(async () => {
      const rows = await dbh.rows<{ details: Record<string, unknown> }>(sql`select details from system_events where action = 'hold_review_due' order by id`)
      return rows.length > 0 ? rows : null
    }, 30_000, 'the hold review warning')
    t.strictSame(events.map((e) => e.details), [{ hold_id: hold.id, ground: 'legal_claims', reference: 'CASE-2026-17', review_at: reviewAt }], 'one warning, about the hold past review only')
    const delivery = await waitFor(async () => deliveries.find((d) => d.raw.includes('dsr.hold_review')) ?? null, 30_000, 'the review webhook')
    const ts = String(delivery.headers['x-dsr-timestamp'])
    t.equal(delivery.headers['x-dsr-signature'], `v1=${createHmac('sha256', SECRET).update(`${ts}.${delivery.raw}`).digest('hex')}`, 'signed like deadline warnings')
    t.match(JSON.parse(delivery.raw), { event: 'dsr.hold_review', kind: 'hold_review_due', hold: { id: hold.id, ground: 'legal_claims', article: 'GDPR Art 17(3)(e)', reference: 'CASE-2026-17', review_at: reviewAt } })
    t.notOk(delivery.raw.toLowerCase().includes('ada@example'), 'no identifier in the warning') // not 'ada' alone: a uuid can hold it
    const run = await waitFor(async () => {
      const rows = await dbh.rows<{ details: Record<string, unknown> }>(sql`select details from job_runs where name = 'deadline_monitor' and outcome = 'succeeded'`)
      return rows.length > 0 ? rows : null
    }, 30_000, 'the monitor run to be recorded')
    t.match(run[0]?.details, { hold_reviews_due: 1, hold_reviews_raised: 1, hold_reviews_notified: 1 }, 'the run through pg-boss counted it')
    t.equal((await app.inject({ url: `/v1/holds/${hold.id}`, headers: auth() })).json().review_due, true)
  })
}
