import t from 'tap'
import { sql } from 'drizzle-orm'
import { auth, build, describedFile, registryOf, requestBody, testDb, waitFor } from '../helper.js'
import { createRegistry } from '../../src/connectors/registry.js'
import { drivers } from '../../connectors/index.js'
import { redactClosedRequests } from '../../src/engine/redaction.js'
import type { MemoryConnector } from '../../connectors/memory/index.js'
import type { DbHandle } from '../../src/db/client.js'
import { SCHEMA_SQL, SEED_SQL, shopConfig } from '../fixtures/postgres-connector.js'

/**
 * Restriction of processing (GDPR Art 18) and objection (Art 21), end to end: a restriction request
 * marks the person's rows in a real Postgres system and only theirs; an objection also stops direct
 * marketing; a restriction is lifted once, explicitly, after the person was told, which plans
 * unrestrict tasks and leaves the request completed with the lift on record.
 */

type App = Awaited<ReturnType<typeof build>>
interface Task { id: string, connector: string, action: string, status: string, result: { outcomes?: Array<{ status: string, stream: string, count?: number }> } | null }
interface Resource {
  id: string
  status: string
  restriction: null | { placed_at: string, lifted_at: string | null, lifted_by: string | null, lift_reason: string | null, notified_subject_at: string | null }
  tasks: Task[]
}

const env = { TASK_RETRY_BASE_MS: '50', TASK_POLL_SECONDS: '0.5', TASK_LEASE_SECONDS: '5', SCHEDULER_ENABLED: 'false' }
const ADA = 'ada.lovelace@example.com'
// Phrases no other part of the service writes: a log line holding one leaked it.
const REASON = 'Zq-4410 accuracy of Mrs Quigley-Farnsworth address confirmed by phone'
const quiet = { debug () {}, info () {}, warn () {}, error () {} }

async function get (app: App, id: string): Promise<Resource> {
  return (await app.inject({ url: `/v1/requests/${id}`, headers: auth() })).json()
}

/** Until the request is closed and none of its tasks is still open (lift tasks included). */
function settle (app: App, id: string): Promise<Resource> {
  return waitFor(async () => {
    const body = await get(app, id)
    const open = body.tasks.some((k) => !['succeeded', 'failed', 'skipped'].includes(k.status))
    return ['completed', 'partially_completed', 'failed'].includes(body.status) && !open ? body : null
  }, 30_000, `request ${id} and its tasks to settle`)
}

async function create (app: App, over: Record<string, unknown>): Promise<Resource> {
  // Received two days ago, so "the person was told a minute ago" falls after receipt.
  const receivedAt = new Date(Date.now() - 2 * 86_400_000).toISOString()
  const res = await app.inject({ method: 'POST', url: '/v1/requests', headers: auth('writer'), payload: requestBody({ received_at: receivedAt, ...over }) })
  if (res.statusCode !== 202) throw new Error(`create failed: ${res.statusCode} ${res.body}`)
  return res.json()
}

const lift = (app: App, id: string, payload: Record<string, unknown>) =>
  app.inject({ method: 'POST', url: `/v1/requests/${id}/restriction/lift`, headers: auth('writer'), payload })

async function events (app: App, id: string) {
  return (await app.inject({ url: `/v1/requests/${id}/events`, headers: auth() })).json().data as Array<{ action: string, to_status: string | null, reason: string | null, details: Record<string, unknown> | null }>
}

/**
 * The connector test shop, in the service's own database (a real Postgres with DATABASE_URL, PGlite
 * otherwise), with restriction marks: a boolean and its timestamp on customers, a boolean on orders
 * (reached only through the reference to customers), a text status on the newsletter (another dataset).
 */
async function shop (dbh: DbHandle) {
  await dbh.executor.executeSql(SCHEMA_SQL + SEED_SQL + `
    alter table crm.customers add column processing_restricted boolean not null default false, add column restricted_since timestamptz;
    alter table crm.orders add column on_hold boolean not null default false;
    alter table public.newsletter_subscriptions add column processing text not null default 'active';`)
  const config = shopConfig('embedded:')
  const tables = config.datasets.flatMap((d) => d.tables)
  tables.find((x) => x.table === 'crm.customers')!.restrict = { column: 'processing_restricted', value: true, lifted: false, since_column: 'restricted_since' }
  tables.find((x) => x.table === 'crm.orders')!.restrict = { column: 'on_hold' }
  tables.find((x) => x.table === 'public.newsletter_subscriptions')!.restrict = { column: 'processing', value: 'restricted', lifted: 'active' }
  const registry = await createRegistry(describedFile({ connectors: [{ id: 'shop', driver: 'postgres', settings: { ...config, salt: { env: 'SHOP_SALT' } } }] }),
    { drivers, env: { SHOP_SALT: config.salt! }, log: quiet, serviceDatabase: dbh })
  return registry
}

/** Which rows carry a restriction mark, per table, by key. */
async function marked (dbh: DbHandle) {
  const ids = async (q: ReturnType<typeof sql>) => (await dbh.rows<{ id: number }>(q)).map((r) => Number(r.id)).sort((a, b) => a - b)
  return {
    customers: await ids(sql`select id from crm.customers where processing_restricted`),
    since: await ids(sql`select id from crm.customers where restricted_since is not null`),
    orders: await ids(sql`select id from crm.orders where on_hold`),
    newsletter: await ids(sql`select id from public.newsletter_subscriptions where processing = 'restricted'`)
  }
}

t.test('restriction: the subject\'s rows are marked and only theirs; lifted once, after notice, the marks go', async (t) => {
  const dbh = await testDb(t)
  const registry = await shop(dbh)
  const logs: string[] = []
  const app = await build(t, { dbh, registry, env, logs })
  t.strictSame(await marked(dbh), { customers: [], since: [], orders: [], newsletter: [] }, 'nothing marked before')

  const created = await create(app, { type: 'restriction', subject: { email: ADA }, verification: { method: 'account_login' } })
  t.equal(created.status, 'in_progress', 'verified at intake: planned and started')
  t.equal(created.restriction, null, 'not placed until a system marked the data')
  const done = await settle(app, created.id)
  t.equal(done.status, 'completed')
  t.equal(done.tasks.length, 1)
  t.match(done.tasks[0], { connector: 'shop', action: 'restrict', status: 'succeeded' })
  t.strictSame(done.tasks[0]!.result!.outcomes, [
    { status: 'restricted', stream: 'customers', count: 1 },
    { status: 'restricted', stream: 'orders', count: 2 },
    { status: 'restricted', stream: 'newsletter', count: 1 }
  ], 'one outcome per table with a restrict setting, in config order')
  t.strictSame(await marked(dbh), { customers: [1], since: [1], orders: [101, 102], newsletter: [801] },
    'Ada\'s customer row, her orders (through the reference) and her subscription; nobody else\'s')
  t.match(done.restriction, { placed_at: String, lifted_at: null, lifted_by: null, lift_reason: null, notified_subject_at: null })
  const [since] = await dbh.rows<{ at: Date | string }>(sql`select restricted_since as at from crm.customers where id = 1`)

  // A re-run marks nothing more and keeps the original time.
  const again = await registry.get('shop')!.connector.restrict!({ requestId: created.id, subject: { email: ADA }, signal: AbortSignal.timeout(10_000), log: quiet })
  const rerun = []
  for await (const o of again) rerun.push(o)
  t.strictSame(rerun.map((o) => o.status === 'not_found' ? o.status : o.count), [0, 0, 0], 'idempotent: a re-run changes nothing')
  const [sinceAfter] = await dbh.rows<{ at: Date | string }>(sql`select restricted_since as at from crm.customers where id = 1`)
  t.equal(new Date(sinceAfter!.at).toISOString(), new Date(since!.at).toISOString(), 'restricted_since keeps the first marking')

  // Art 18(3): no lift without the person having been told, and not "told" in the future.
  const missing = await lift(app, created.id, { reason: REASON })
  t.equal(missing.statusCode, 400)
  t.equal(missing.json().code, 'DSR_VALIDATION_FAILED')
  t.match(missing.json().message, /notified_subject_at/)
  const future = await lift(app, created.id, { reason: REASON, notified_subject_at: new Date(Date.now() + 86_400_000).toISOString() })
  t.equal(future.statusCode, 400)
  t.match(future.json(), { code: 'DSR_VALIDATION_FAILED', details: [{ field: '/notified_subject_at', message: /future/ }] })
  const early = await lift(app, created.id, { reason: REASON, notified_subject_at: '2001-01-01T00:00:00Z' })
  t.match(early.json(), { code: 'DSR_VALIDATION_FAILED', details: [{ field: '/notified_subject_at', message: /before the request was received/ }] })
  t.strictSame(await marked(dbh), { customers: [1], since: [1], orders: [101, 102], newsletter: [801] }, 'refused lifts change nothing')
  t.equal((await get(app, created.id)).restriction!.lifted_at, null)

  const notified = new Date(Date.now() - 60_000).toISOString()
  const lifted = await lift(app, created.id, { reason: REASON, notified_subject_at: notified })
  t.equal(lifted.statusCode, 202, lifted.body)
  const body = lifted.json() as Resource
  t.equal(body.status, 'completed', 'the request stays completed')
  t.match(body.restriction, { placed_at: done.restriction!.placed_at, lifted_at: String, lifted_by: 'writer', lift_reason: REASON, notified_subject_at: notified })
  t.match(body.tasks.find((k) => k.action === 'unrestrict'), { connector: 'shop' }, 'an unrestrict task for the system that restricted')

  const after = await settle(app, created.id)
  t.equal(after.status, 'completed', 'completed again once the lift is done')
  t.strictSame(after.tasks.map((k) => [k.action, k.status]), [['restrict', 'succeeded'], ['unrestrict', 'succeeded']])
  t.strictSame(after.tasks.find((k) => k.action === 'unrestrict')!.result!.outcomes, [
    { status: 'unrestricted', stream: 'customers', count: 1 },
    { status: 'unrestricted', stream: 'orders', count: 2 },
    { status: 'unrestricted', stream: 'newsletter', count: 1 }
  ])
  t.strictSame(await marked(dbh), { customers: [], since: [], orders: [], newsletter: [] }, 'every mark lifted, the time cleared')

  const trail = await events(app, created.id)
  t.strictSame(trail.filter((e) => e.action === 'transition').map((e) => e.to_status), ['ready', 'in_progress', 'completed'],
    'the lift does not reopen the request: its deadline and overdue state stay as they were')
  t.match(trail.find((e) => e.action === 'restriction_lifted'), { reason: REASON, details: { notified_subject_at: notified, connectors: ['shop'], placed_at: done.restriction!.placed_at } })
  t.ok(trail.some((e) => e.action === 'task_succeeded' && e.details?.action === 'unrestrict'), 'the unrestrict outcome is in the trail')

  const twice = await lift(app, created.id, { reason: 'again', notified_subject_at: notified })
  t.equal(twice.statusCode, 409)
  t.equal(twice.json().code, 'DSR_RESTRICTION_ALREADY_LIFTED')
  t.equal((await get(app, created.id)).tasks.length, 2, 'no second unrestrict task')

  const text = logs.join('')
  t.ok(text.includes('"action":"unrestrict"'), 'the lift was logged (so the check below looks at real lines)')
  t.notOk(text.toLowerCase().includes(ADA), 'the subject\'s e-mail is never logged')
  t.notOk(text.includes('Quigley'), 'the lift reason is never logged')
})

t.test('lifting is refused where there is nothing to lift', async (t) => {
  const dbh = await testDb(t)
  const registry = await shop(dbh)
  const app = await build(t, { dbh, registry, env })
  const notified = new Date(Date.now() - 60_000).toISOString()

  const access = await settle(app, (await create(app, { subject: { email: ADA }, verification: { method: 'account_login' } })).id)
  t.equal(access.restriction, null, 'other types have no restriction')
  t.match((await lift(app, access.id, { reason: REASON, notified_subject_at: notified })).json(), { statusCode: 409, code: 'DSR_RESTRICTION_NOT_PLACED', message: /access request/ })

  const unverified = await create(app, { type: 'restriction', subject: { email: ADA } })
  t.match((await lift(app, unverified.id, { reason: REASON, notified_subject_at: notified })).json(), { statusCode: 409, code: 'DSR_RESTRICTION_NOT_COMPLETED', message: /received/ })

  const nobody = await settle(app, (await create(app, { type: 'restriction', subject: { email: 'nobody@example.invalid' }, verification: { method: 'account_login' } })).id)
  t.equal(nobody.status, 'completed')
  t.ok(nobody.tasks[0]!.result!.outcomes!.every((o) => o.status === 'not_found'), 'the system holds nothing of the person')
  t.equal(nobody.restriction, null, 'nothing marked: no restriction placed')
  t.match((await lift(app, nobody.id, { reason: REASON, notified_subject_at: notified })).json(), { statusCode: 409, code: 'DSR_RESTRICTION_NOT_PLACED' })

  t.equal((await lift(app, '00000000-0000-4000-8000-000000000000', { reason: REASON, notified_subject_at: notified })).statusCode, 404)

  // The redaction job leaves a restriction in force alone, so it can always be lifted...
  const placed = await settle(app, (await create(app, { type: 'restriction', subject: { email: 'bob@example.com' }, verification: { method: 'account_login' } })).id)
  t.ok(placed.restriction, 'placed for Bob')
  await redactClosedRequests(dbh, { now: new Date(Date.now() + 3 * 86_400_000), retentionDays: 1 })
  const [kept] = await dbh.rows<{ subject: { email?: string }, redacted: Date | null }>(sql`select subject, identifiers_redacted_at as redacted from requests where id = ${placed.id}`)
  t.match(kept, { subject: { email: 'bob@example.com' }, redacted: null }, 'a restriction in force keeps its identifiers')
  // ...but one whose identifiers are gone (redacted before that rule) cannot be found again: refused, and said so.
  await dbh.rows(sql`update requests set subject = '{}'::jsonb, identifiers_redacted_at = now() where id = ${placed.id}`)
  t.match((await lift(app, placed.id, { reason: REASON, notified_subject_at: notified })).json(), { statusCode: 409, code: 'DSR_RESTRICTION_SUBJECT_REDACTED' })
  t.equal(Number((await dbh.rows<{ n: number }>(sql`select count(*)::int as n from tasks where action = 'unrestrict'`))[0]!.n), 0, 'no lift planned by any refusal')
})

/** A memory CRM that marks restriction and stores a marketing flag; a newsletter that only unsubscribes; a webinar system that can do neither. */
function memorySystems (faults: Record<string, unknown> = {}) {
  return [
    {
      id: 'crm',
      driver: 'memory',
      settings: {
        streams: [{
          name: 'contacts',
          match: { email: 'email' },
          restrict: { field: 'restricted' },
          opt_out: { field: 'marketing', value: false },
          records: [{ id: 1, email: ADA, marketing: true, restricted: false }, { id: 2, email: 'grace@example.com', marketing: true, restricted: false }]
        }],
        ...(faults.crm ? { faults: faults.crm } : {})
      }
    },
    {
      id: 'newsletter',
      driver: 'memory',
      settings: {
        streams: [{
          name: 'members',
          match: { email: 'email' },
          opt_out: { field: 'status', value: 'unsubscribed' },
          records: [{ id: 7, email: ADA, status: 'subscribed' }, { id: 8, email: 'grace@example.com', status: 'subscribed' }]
        }]
      }
    },
    { id: 'webinar', driver: 'memory', settings: { streams: [{ name: 'registrations', match: { email: 'email' }, records: [{ id: 9, email: ADA }] }] } }
  ]
}

t.test('objection: restricted where a system can mark, marketing stopped where it can; the lift leaves the opt-out alone', async (t) => {
  const registry = await registryOf(memorySystems())
  const app = await build(t, { registry, env })
  const created = await create(app, { type: 'objection', subject: { email: ADA }, verification: { method: 'account_login' } })
  const done = await settle(app, created.id)
  t.equal(done.status, 'completed')
  t.strictSame(done.tasks.map((k) => `${k.connector}/${k.action}/${k.status}`).sort(),
    ['crm/opt_out/succeeded', 'crm/restrict/succeeded', 'newsletter/opt_out/succeeded'],
    'restrict + opt_out on the CRM, opt_out on the newsletter, nothing on the webinar system')
  const planned = (await events(app, created.id)).find((e) => e.action === 'planned')
  t.match(planned?.details, { actions: ['restrict', 'opt_out'], connectors: ['crm', 'newsletter'] })
  const crm = registry.get('crm')!.connector as MemoryConnector
  const newsletter = registry.get('newsletter')!.connector as MemoryConnector
  t.strictSame(crm.data.get('contacts'), [
    { id: 1, email: ADA, marketing: false, restricted: true },
    { id: 2, email: 'grace@example.com', marketing: true, restricted: false }
  ], 'Ada restricted and opted out in the CRM; Grace untouched')
  t.strictSame(newsletter.data.get('members')!.map((m) => m.status), ['unsubscribed', 'subscribed'])
  t.ok(done.restriction?.placed_at, 'the restriction is placed')

  const lifted = await lift(app, created.id, { reason: 'Compelling legitimate grounds weighed and documented', notified_subject_at: new Date().toISOString() })
  t.equal(lifted.statusCode, 202)
  const after = await settle(app, created.id)
  t.strictSame(after.tasks.filter((k) => k.action === 'unrestrict').map((k) => `${k.connector}/${k.status}`), ['crm/succeeded'], 'unrestrict only where restricted')
  t.strictSame(crm.data.get('contacts')![0], { id: 1, email: ADA, marketing: false, restricted: false }, 'the mark is lifted; the marketing opt-out stays (Art 21(3))')
  t.strictSame(newsletter.data.get('members')!.map((m) => m.status), ['unsubscribed', 'subscribed'], 'still unsubscribed')
  t.equal(after.status, 'completed')
})

t.test('an objection no system can restrict: opt-out only, nothing to lift', async (t) => {
  const registry = await registryOf(memorySystems().filter((s) => s.id !== 'crm'))
  const app = await build(t, { registry, env })
  const done = await settle(app, (await create(app, { type: 'objection', subject: { email: ADA }, verification: { method: 'account_login' } })).id)
  t.strictSame(done.tasks.map((k) => `${k.connector}/${k.action}`), ['newsletter/opt_out'])
  t.equal(done.restriction, null)
  t.match((await lift(app, done.id, { reason: REASON, notified_subject_at: new Date().toISOString() })).json(), { code: 'DSR_RESTRICTION_NOT_PLACED' })

  const none = await registryOf(memorySystems().filter((s) => s.id === 'webinar'))
  const app2 = await build(t, { registry: none, env })
  const waiting = await create(app2, { type: 'restriction', subject: { email: ADA }, verification: { method: 'account_login' } })
  t.equal(waiting.status, 'ready', 'no system can restrict: it waits for a person, as before')
  t.equal(waiting.restriction, null)
})

t.test('a failed unrestrict leaves the request completed, shows on its task, and is retried', async (t) => {
  const registry = await registryOf(memorySystems({ crm: { unrestrict: { status: 401, times: 1 } } }))
  const app = await build(t, { registry, env })
  const done = await settle(app, (await create(app, { type: 'restriction', subject: { email: ADA }, verification: { method: 'account_login' } })).id)
  t.strictSame(done.tasks.map((k) => `${k.connector}/${k.action}/${k.status}`), ['crm/restrict/succeeded'])
  t.equal((await lift(app, done.id, { reason: REASON, notified_subject_at: new Date().toISOString() })).statusCode, 202)
  const failed = await settle(app, done.id)
  t.equal(failed.status, 'completed', 'the request stays completed')
  const task = failed.tasks.find((k) => k.action === 'unrestrict')!
  t.match(task, { status: 'failed', last_error_code: 'DSR_CONNECTOR_AUTH' })
  const crm = registry.get('crm')!.connector as MemoryConnector
  t.equal(crm.data.get('contacts')![0]!.restricted, true, 'still marked')

  const retried = await app.inject({ method: 'POST', url: `/v1/requests/${done.id}/tasks/${task.id}/retry`, headers: auth() })
  t.equal(retried.statusCode, 200, retried.body)
  const after = await settle(app, done.id)
  t.match(after.tasks.find((k) => k.action === 'unrestrict'), { status: 'succeeded' })
  t.equal(crm.data.get('contacts')![0]!.restricted, false, 'lifted on retry')
  t.equal(after.status, 'completed')
  t.equal(crm.calls.unrestrict, 2)
})
