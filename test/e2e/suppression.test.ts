import t from 'tap'
import { sql } from 'drizzle-orm'
import { auth, build, describedFile, KEYS, registryOf, requestBody, testDb, testKeys, waitFor } from '../helper.js'
import { createRegistry } from '../../src/connectors/registry.js'
import { drivers } from '../../connectors/index.js'
import { hashKey } from '../../src/services/api-keys.js'
import type { MemoryConnector } from '../../connectors/memory/index.js'
import type { DbHandle } from '../../src/db/client.js'
import { SCHEMA_SQL, SEED_SQL, shopConfig } from '../fixtures/postgres-connector.js'

/**
 * The suppression list, end to end through the HTTP API and the engine: a verified marketing
 * opt-out suppresses marketing and leaves transactional mail alone; two restrictions of the same
 * person suppress every purpose, and lifting one leaves the other in force, on the list and in the
 * system's restriction mark; a cancelled request withdraws its entries; entries outlive redaction.
 */

type App = Awaited<ReturnType<typeof build>>
interface Task { id: string, connector: string, action: string, status: string, result: { outcomes?: Array<{ status: string, stream: string, count?: number }>, kept?: { reason: string, restrictions: Array<{ request_id: string, type: string }> } } | null }
interface Resource { id: string, status: string, tasks: Task[] }
interface Answer { purpose: string, result: 'allowed' | 'suppressed', entries: Array<{ request_id: string, type: string, purposes: string[], since: string }> }

const env = { TASK_RETRY_BASE_MS: '50', TASK_POLL_SECONDS: '0.5', TASK_LEASE_SECONDS: '5', SCHEDULER_ENABLED: 'false' }
const ADA = 'ada.lovelace@example.com'
const ADA_PHONE = '+44 20 7946 0001'
const CHECKER = 'test-checker-key-0000000000000000'
const quiet = { debug () {}, info () {}, warn () {}, error () {} }

/** The test keys, and one that may only check suppressions. */
function keys () {
  return new Map([...testKeys(), [hashKey(CHECKER), { name: 'newsletter-sender', scopes: ['suppressions:check' as const] }]])
}
const checker = { authorization: `Bearer ${CHECKER}` }

async function check (app: App, subject: Record<string, unknown>, purpose: string): Promise<Answer> {
  const res = await app.inject({ method: 'POST', url: '/v1/suppressions/check', headers: checker, payload: { subject, purpose } })
  if (res.statusCode !== 200) throw new Error(`check failed: ${res.statusCode} ${res.body}`)
  return res.json()
}

async function get (app: App, id: string): Promise<Resource> {
  return (await app.inject({ url: `/v1/requests/${id}`, headers: auth() })).json()
}

function settle (app: App, id: string): Promise<Resource> {
  return waitFor(async () => {
    const body = await get(app, id)
    const open = body.tasks.some((k) => !['succeeded', 'failed', 'skipped'].includes(k.status))
    return ['completed', 'partially_completed', 'failed'].includes(body.status) && !open ? body : null
  }, 30_000, `request ${id} and its tasks to settle`)
}

async function create (app: App, over: Record<string, unknown>): Promise<Resource> {
  const receivedAt = new Date(Date.now() - 2 * 86_400_000).toISOString()
  const res = await app.inject({ method: 'POST', url: '/v1/requests', headers: auth('writer'), payload: requestBody({ received_at: receivedAt, ...over }) })
  if (res.statusCode !== 202) throw new Error(`create failed: ${res.statusCode} ${res.body}`)
  return res.json()
}

const lift = (app: App, id: string) => app.inject({
  method: 'POST',
  url: `/v1/requests/${id}/restriction/lift`,
  headers: auth('writer'),
  payload: { reason: 'accuracy verified', notified_subject_at: new Date(Date.now() - 60_000).toISOString() }
})

/** The connector test shop in the service's own database, with a restriction mark on customers and orders. */
async function shop (dbh: DbHandle) {
  await dbh.executor.executeSql(SCHEMA_SQL + SEED_SQL + `
    alter table crm.customers add column processing_restricted boolean not null default false;
    alter table crm.orders add column on_hold boolean not null default false;`)
  const config = shopConfig('embedded:')
  const tables = config.datasets.flatMap((d) => d.tables)
  tables.find((x) => x.table === 'crm.customers')!.restrict = { column: 'processing_restricted', value: true, lifted: false }
  tables.find((x) => x.table === 'crm.orders')!.restrict = { column: 'on_hold' }
  return createRegistry(describedFile({ connectors: [{ id: 'shop', driver: 'postgres', settings: { ...config, salt: { env: 'SHOP_SALT' } } }] }),
    { drivers, env: { SHOP_SALT: config.salt! }, log: quiet, serviceDatabase: dbh })
}

async function marked (dbh: DbHandle) {
  const ids = async (q: ReturnType<typeof sql>) => (await dbh.rows<{ id: number }>(q)).map((r) => Number(r.id)).sort((a, b) => a - b)
  return { customers: await ids(sql`select id from crm.customers where processing_restricted`), orders: await ids(sql`select id from crm.orders where on_hold`) }
}

const verdicts = async (app: App, subject: Record<string, unknown>) => {
  const out: Record<string, string> = {}
  for (const purpose of ['marketing', 'partner_sharing', 'profiling', 'transactional', 'processing']) out[purpose] = (await check(app, subject, purpose)).result
  return out
}

t.test('opt-out and two restrictions of one person: suppressed per purpose, one lift leaves the other in force', async (t) => {
  const dbh = await testDb(t)
  const registry = await shop(dbh)
  const logs: string[] = []
  const app = await build(t, { dbh, registry, env, logs, apiKeys: keys() })

  t.strictSame(await check(app, { email: ADA }, 'marketing'), { purpose: 'marketing', result: 'allowed', entries: [] }, 'nobody is on the list yet')

  // Ada's marketing opt-out: suppressed for marketing as soon as she is verified, not for transactional mail.
  const optOut = await create(app, { type: 'marketing_opt_out', subject: { email: ADA }, verification: { method: 'account_login' } })
  const marketing = await check(app, { email: ADA }, 'marketing')
  t.equal(marketing.result, 'suppressed', 'marketing suppressed after her opt-out')
  t.strictSame(marketing.entries.map((e) => [e.request_id, e.type, e.purposes]), [[optOut.id, 'marketing_opt_out', ['marketing']]], 'and why: her request')
  t.ok(Date.parse(marketing.entries[0]!.since) > Date.now() - 60_000, 'since her verification')
  t.strictSame(await check(app, { email: ADA }, 'transactional'), { purpose: 'transactional', result: 'allowed', entries: [] }, 'transactional mail is allowed')
  t.strictSame(await verdicts(app, { email: 'Ada.Lovelace@Example.COM' }),
    { marketing: 'suppressed', partner_sharing: 'allowed', profiling: 'allowed', transactional: 'allowed', processing: 'allowed' },
    'per purpose, and the e-mail matched as intake normalises it')
  const emailSha = (await dbh.rows<{ h: string }>(sql`select encode(sha256(convert_to(${ADA}, 'UTF8')), 'hex') as h`))[0]!.h
  t.equal((await check(app, { email_sha256: emailSha }, 'marketing')).result, 'suppressed', 'a caller holding only the SHA-256 of her e-mail gets the same answer')
  t.equal((await check(app, { email: 'grace@example.com' }, 'marketing')).result, 'allowed', 'another person is not suppressed')

  // Two restrictions of Ada, one after the other (the second also by phone).
  const r1 = await settle(app, (await create(app, { type: 'restriction', subject: { email: ADA }, verification: { method: 'account_login' } })).id)
  const r2 = await settle(app, (await create(app, { type: 'restriction', subject: { email: ADA, phone: ADA_PHONE }, verification: { method: 'account_login' } })).id)
  t.strictSame([r1.status, r2.status], ['completed', 'completed'])
  t.strictSame(await marked(dbh), { customers: [1], orders: [101, 102] }, 'her rows are marked')
  t.strictSame(await verdicts(app, { email: ADA }),
    { marketing: 'suppressed', partner_sharing: 'suppressed', profiling: 'suppressed', transactional: 'suppressed', processing: 'suppressed' },
    'a restriction stops every purpose')
  const processing = await check(app, { email: ADA }, 'processing')
  t.strictSame(processing.entries.map((e) => [e.request_id, e.type, e.purposes]), [[r1.id, 'restriction', ['processing']], [r2.id, 'restriction', ['processing']]], 'both restrictions say why')
  t.equal((await check(app, { phone: '+442079460001' }, 'profiling')).result, 'suppressed', 'her phone finds the second restriction')

  // Lifting the first: its entry ends, the second stays, and the system's mark stays with it.
  t.equal((await lift(app, r1.id)).statusCode, 202)
  const lifted = await settle(app, r1.id)
  const unrestrict = lifted.tasks.find((k) => k.action === 'unrestrict')!
  t.equal(unrestrict.status, 'succeeded')
  t.strictSame(unrestrict.result!.outcomes, [], 'the connector was not asked to unmark')
  t.strictSame(unrestrict.result!.kept?.restrictions, [{ request_id: r2.id, type: 'restriction' }], 'the task records which restriction keeps the mark')
  t.match(unrestrict.result!.kept?.reason, /1 other restriction of the person still in force/)
  t.strictSame(await marked(dbh), { customers: [1], orders: [101, 102] }, 'the mark stays while the second restriction is in force')
  const afterOne = await check(app, { email: ADA }, 'transactional')
  t.equal(afterOne.result, 'suppressed', 'still suppressed')
  t.strictSame(afterOne.entries.map((e) => e.request_id), [r2.id], 'by the second restriction alone')
  t.strictSame((await check(app, { email: ADA }, 'marketing')).entries.map((e) => e.request_id), [optOut.id, r2.id], 'marketing: her opt-out and the second restriction')
  const trail = (await app.inject({ url: `/v1/requests/${r1.id}/events`, headers: auth() })).json().data as Array<{ action: string, details: Record<string, unknown> | null }>
  t.match(trail.find((e) => e.action === 'task_succeeded' && e.details?.action === 'unrestrict')?.details, { result: { kept: { restrictions: [{ request_id: r2.id }] } } }, 'why, in the audit trail')

  const listed = await app.inject({ url: `/v1/requests/${r1.id}/suppressions`, headers: auth('reader') })
  t.equal(listed.statusCode, 200)
  t.match(listed.json(), { request_id: r1.id, in_force: false, entries: [{ purpose: 'processing', in_force: false, ended_at: String, end_reason: 'lifted' }] })
  t.match((await app.inject({ url: `/v1/requests/${r2.id}/suppressions`, headers: auth('reader') })).json(), { in_force: true, entries: [{ purpose: 'processing', in_force: true, ended_at: null, end_reason: null }] })

  // Lifting the second: now the mark goes, and only the opt-out remains.
  t.equal((await lift(app, r2.id)).statusCode, 202)
  const second = await settle(app, r2.id)
  t.strictSame(second.tasks.find((k) => k.action === 'unrestrict')!.result!.outcomes!.map((o) => o.status), ['unrestricted', 'unrestricted'], 'the connector unmarked')
  t.strictSame(await marked(dbh), { customers: [], orders: [] }, 'no mark once no restriction is in force')
  t.strictSame(await verdicts(app, { email: ADA }),
    { marketing: 'suppressed', partner_sharing: 'allowed', profiling: 'allowed', transactional: 'allowed', processing: 'allowed' },
    'back to her opt-out alone')

  // Entries outlive the redaction of the request's identifiers.
  await dbh.rows(sql`update requests set subject = '{}'::jsonb, subject_keys = '{}', identifiers_redacted_at = now() where id = ${optOut.id}`)
  t.equal((await check(app, { email: ADA }, 'marketing')).result, 'suppressed', 'still suppressed once her request is redacted')
  const stored = await dbh.rows<{ person_key: string }>(sql`select person_key from suppressions`)
  t.ok(stored.length > 0 && stored.every((r) => /^[0-9a-f]{64}$/.test(r.person_key)), 'the list holds keyed hashes only')

  const text = logs.join('')
  t.ok(text.includes('suppressions/check'), 'checks were logged (so the check below looks at real lines)')
  t.notOk(text.toLowerCase().includes(ADA), 'her e-mail is never logged')
  for (const phone of [ADA_PHONE, '7946 0001', '442079460001']) t.notOk(text.includes(phone), `nor her phone (${phone})`)
})

t.test('a cancelled or rejected request withdraws its entries; unverified requests make none', async (t) => {
  const app = await build(t, { registry: await registryOf([]), env: { ...env, APPROVAL_REQUIRED: 'objection' }, apiKeys: keys() })
  const bob = { email: 'bob@example.com' }
  const withdrawal = await create(app, { type: 'consent_withdrawal', subject: bob, verification: { method: 'account_login' } })
  t.strictSame(await verdicts(app, bob),
    { marketing: 'suppressed', partner_sharing: 'suppressed', profiling: 'suppressed', transactional: 'allowed', processing: 'allowed' },
    'a consent withdrawal stops every opt-out purpose')
  const cancelled = await app.inject({ method: 'POST', url: `/v1/requests/${withdrawal.id}/cancel`, headers: auth('writer'), payload: { reason: 'sent by mistake' } })
  t.equal(cancelled.statusCode, 200, 'cancelled')
  t.equal((await check(app, bob, 'marketing')).result, 'allowed', 'withdrawn with its request')
  t.match((await app.inject({ url: `/v1/requests/${withdrawal.id}/suppressions`, headers: auth() })).json(),
    { in_force: false, entries: [{ purpose: 'marketing', end_reason: 'cancelled' }, { purpose: 'partner_sharing', end_reason: 'cancelled' }, { purpose: 'profiling', end_reason: 'cancelled' }] })

  // Held for approval, verified: in force while it waits; refused, withdrawn.
  const held = await create(app, { type: 'objection', subject: bob, verification: { method: 'account_login' } })
  t.equal(held.status, 'awaiting_approval')
  t.strictSame((await check(app, bob, 'processing')).entries.map((e) => [e.type, e.purposes]), [['objection', ['marketing', 'processing']]], 'an objection stops processing while it is weighed')
  const rejected = await app.inject({ method: 'POST', url: `/v1/requests/${held.id}/reject`, headers: auth(), payload: { ground: 'manifestly_unfounded_or_excessive', explanation: 'Bob asked five times since March' } })
  t.equal(rejected.statusCode, 200, 'rejected')
  t.strictSame(await verdicts(app, bob), { marketing: 'allowed', partner_sharing: 'allowed', profiling: 'allowed', transactional: 'allowed', processing: 'allowed' }, 'withdrawn with its rejection')

  const unverified = await create(app, { type: 'marketing_opt_out', subject: bob })
  t.equal((await check(app, bob, 'marketing')).result, 'allowed', 'not before the person is verified')
  t.strictSame((await app.inject({ url: `/v1/requests/${unverified.id}/suppressions`, headers: auth() })).json(), { request_id: unverified.id, in_force: false, entries: [] })
  const verified = await app.inject({ method: 'POST', url: `/v1/requests/${unverified.id}/verify`, headers: auth('writer'), payload: { method: 'document_check' } })
  t.equal(verified.statusCode, 200, 'verified later')
  t.equal((await check(app, bob, 'marketing')).result, 'suppressed', 'from its verification')

  const access = await create(app, { type: 'access', subject: bob, verification: { method: 'account_login' } })
  t.strictSame((await app.inject({ url: `/v1/requests/${access.id}/suppressions`, headers: auth() })).json().entries, [], 'an access request suppresses nothing')
})

t.test('a request that names its purposes stops those, and no others', async (t) => {
  const app = await build(t, { registry: await registryOf([]), env, apiKeys: keys() })
  const carol = { email: 'carol@example.com' }
  await create(app, { type: 'marketing_opt_out', purposes: ['partner_sharing'], subject: carol, verification: { method: 'account_login' } })
  t.strictSame(await verdicts(app, carol),
    { marketing: 'allowed', partner_sharing: 'suppressed', profiling: 'allowed', transactional: 'allowed', processing: 'allowed' },
    'a partner-sharing opt-out stops partner sharing only')

  // Named purposes are kept through a later verification too.
  const dave = { email: 'dave@example.com' }
  const later = await create(app, { type: 'consent_withdrawal', purposes: ['profiling', 'marketing'], subject: dave })
  t.equal((await check(app, dave, 'profiling')).result, 'allowed', 'nothing before verification')
  const verified = await app.inject({ method: 'POST', url: `/v1/requests/${later.id}/verify`, headers: auth('writer'), payload: { method: 'document_check' } })
  t.equal(verified.statusCode, 200, 'verified later')
  t.strictSame(await verdicts(app, dave),
    { marketing: 'suppressed', partner_sharing: 'allowed', profiling: 'suppressed', transactional: 'allowed', processing: 'allowed' },
    'a withdrawal of two consents stops those two')
  t.strictSame((await app.inject({ url: `/v1/requests/${later.id}/suppressions`, headers: auth() })).json().entries.map((e: { purpose: string }) => e.purpose).sort(),
    ['marketing', 'profiling'], 'its entries are the purposes it named')
})

t.test('on the embedded database: an opt-out suppresses, a kept restriction mark, a lift', async (t) => {
  const dbh = await testDb(t, { embedded: true })
  const registry = await registryOf([{
    id: 'crm',
    driver: 'memory',
    settings: { streams: [{ name: 'contacts', match: { email: 'email' }, restrict: { field: 'restricted' }, records: [{ id: 1, email: ADA, restricted: false }] }] }
  }])
  const app = await build(t, { dbh, registry, env, apiKeys: keys() })
  await create(app, { type: 'marketing_opt_out', subject: { email: ADA }, verification: { method: 'account_login' } })
  t.equal((await check(app, { email: ADA }, 'marketing')).result, 'suppressed')
  t.equal((await check(app, { email: ADA }, 'transactional')).result, 'allowed')

  const crm = registry.get('crm')!.connector as MemoryConnector
  const r1 = await settle(app, (await create(app, { type: 'restriction', subject: { email: ADA }, verification: { method: 'account_login' } })).id)
  const objection = await settle(app, (await create(app, { type: 'objection', subject: { email: ADA }, verification: { method: 'account_login' } })).id)
  t.equal(crm.data.get('contacts')![0]!.restricted, true)
  t.equal((await lift(app, r1.id)).statusCode, 202)
  const kept = (await settle(app, r1.id)).tasks.find((k) => k.action === 'unrestrict')!
  t.strictSame(kept.result!.kept?.restrictions, [{ request_id: objection.id, type: 'objection' }], 'the objection being weighed keeps the mark')
  t.equal(crm.data.get('contacts')![0]!.restricted, true, 'still marked in the memory system')
  t.equal(crm.calls.unrestrict, 0, 'the connector was not asked to unmark')
  t.equal((await check(app, { email: ADA }, 'transactional')).result, 'suppressed')

  t.equal((await lift(app, objection.id)).statusCode, 202)
  await settle(app, objection.id)
  t.equal(crm.data.get('contacts')![0]!.restricted, false, 'unmarked once the objection is weighed and lifted')
  t.equal((await check(app, { email: ADA }, 'transactional')).result, 'allowed')
  const marketing = await check(app, { email: ADA }, 'marketing')
  t.strictSame(marketing.entries.map((e) => e.type).sort(), ['marketing_opt_out', 'objection'], 'the objection\'s stop on marketing stays (Art 21(3))')
})

t.test('the check asks for its scope and valid input', async (t) => {
  const app = await build(t, { registry: await registryOf([]), env, apiKeys: keys() })
  const post = (headers: Record<string, string>, payload: unknown) => app.inject({ method: 'POST', url: '/v1/suppressions/check', headers, payload: payload as Record<string, unknown> })
  const ok = { subject: { email: ADA }, purpose: 'marketing' }
  t.equal((await post({}, ok)).statusCode, 401)
  t.match((await post(auth('reader'), ok)).json(), { statusCode: 403 }, 'requests:read is not enough')
  t.match((await post(auth('outsider'), ok)).json(), { statusCode: 403 })
  t.equal((await post(checker, ok)).statusCode, 200, 'suppressions:check')
  t.equal((await post({ authorization: `Bearer ${KEYS.admin}` }, ok)).statusCode, 200, 'admin')
  t.equal((await app.inject({ url: '/v1/requests/00000000-0000-4000-8000-000000000000/suppressions', headers: checker })).statusCode, 403, 'the check scope does not read requests')

  for (const [payload, field] of [
    [{ subject: { email: ADA }, purpose: 'spam' }, '/purpose'],
    [{ subject: { email: ADA } }, 'purpose'],
    [{ subject: {}, purpose: 'marketing' }, '/subject'],
    [{ subject: { email: 'not-an-address' }, purpose: 'marketing' }, '/subject/email'],
    [{ subject: { email: ADA, name: 'Ada' }, purpose: 'marketing' }, '/subject'],
    [{ subject: { phone: '+1 ((((( ))' }, purpose: 'marketing' }, '/subject/phone'],
    [{ subject: { email_sha256: 'abc' }, purpose: 'marketing' }, '/subject/email_sha256']
  ] as const) {
    const res = await post(checker, payload)
    t.equal(res.statusCode, 400, `${JSON.stringify(payload)}: 400`)
    t.equal(res.json().code, 'DSR_VALIDATION_FAILED')
    t.match(JSON.stringify(res.json().details ?? res.json().message), field, `names ${field}`)
  }
  t.match((await app.inject({ url: '/v1/requests/00000000-0000-4000-8000-000000000000/suppressions', headers: auth() })).json(), { statusCode: 404, code: 'DSR_REQUEST_NOT_FOUND' })
  t.match((await app.inject({ url: '/v1/requests/nope/suppressions', headers: auth() })).json(), { statusCode: 400, code: 'DSR_VALIDATION_FAILED' })
})

t.test('a restriction lifted by hand: the person is told to leave the mark while another restriction is in force', async (t) => {
  const app = await build(t, { registry: await registryOf([{ id: 'paper', driver: 'manual', display_name: 'Paper archive' }]), env, apiKeys: keys() })
  /** Creates a restriction whose manual restrict task a person completes, so it is placed. */
  const placed = async (subject: Record<string, unknown>) => {
    const created = await create(app, { type: 'restriction', subject, verification: { method: 'account_login' } })
    const task = created.tasks.find((k) => k.action === 'restrict')! as Task & { links: { complete: string } }
    t.equal(task.status, 'manual')
    const done = await app.inject({ method: 'POST', url: task.links.complete, headers: auth(), payload: { outcome: 'done', note: 'file marked' } })
    t.equal(done.statusCode, 200, 'restricted by hand')
    return created.id
  }
  const r1 = await placed({ email: ADA })
  const r2 = await placed({ email: ADA })
  const instructions = async (id: string) => {
    const res = await lift(app, id)
    t.equal(res.statusCode, 202, 'lifted')
    return (res.json().tasks as Array<Task & { instructions: string | null }>).find((k) => k.action === 'unrestrict')!.instructions ?? ''
  }
  const first = await instructions(r1)
  t.match(first, /^Lift the restriction/)
  t.match(first, `Another restriction of this person is still in force (request ${r2}): leave the mark in place`)
  const last = await instructions(r2)
  t.match(last, /^Lift the restriction/)
  t.notMatch(last, /Another restriction/, 'the last lift removes the mark')
})
