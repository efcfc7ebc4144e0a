import t from 'tap'
import { sql } from 'drizzle-orm'
import { auth, build, registryOf, requestBody, waitFor } from '../helper.js'
import { redactClosedRequests } from '../../src/engine/redaction.js'
import { loadConfig } from '../../src/config.js'

/**
 * A closed request keeps the record of what was asked and done, but not the person: after
 * REQUEST_IDENTIFIERS_RETENTION_DAYS its identifiers and every free text people wrote are removed.
 */

const ADA = 'ada.redaction@example.com'
const AGENT = 'agent.smith@lawfirm.example'
const DAY = 86_400_000
const env = {
  TASK_RETRY_BASE_MS: '50',
  TASK_POLL_SECONDS: '0.5',
  CALLBACK_ALLOWLIST: 'https://hooks.example',
  CALLBACK_SIGNING_KEYS: 'k1:test-callback-secret-000000000000000'
}
// hooks.example has no address: the request's callbacks wait for DNS, and say nothing of it in the logs.
const resolveHost = async () => { throw Object.assign(new Error('no such host'), { code: 'ENOTFOUND' }) }

const registry = await registryOf([{
  id: 'crm',
  driver: 'memory',
  settings: {
    streams: [{ name: 'contacts', match: { email: 'email' }, records: [{ id: 1, email: ADA }] }],
    faults: { collect: { status: 403, times: 1 } }
  }
}])
const logs: string[] = []
const app = await build(t, { registry, env, logs, resolveHost })
const dbh = app.dbh

const PERSONAL = [ADA, AGENT, 'Agent Smith', '+447700900123', 'cust-4711', 'https://hooks.example/ada-4711',
  'Ada phoned: she moved to Leeds', 'Ada.New@example.com', 'withdrawn by Ada on the phone', 'her account was merged into cust-4711',
  'complex: Ada holds 3 accounts', 'Ada asked five times since March', 'Ada has no paper file', 'kept for the claim Ada filed']

async function create (over: Record<string, unknown>) {
  const res = await app.inject({ method: 'POST', url: '/v1/requests', headers: auth(), payload: requestBody(over) })
  if (res.statusCode !== 202) throw new Error(`not created: ${res.body}`)
  return res.json().id as string
}
const read = async (id: string) => (await app.inject({ url: `/v1/requests/${id}`, headers: auth() })).json()
const events = async (id: string) => (await app.inject({ url: `/v1/requests/${id}/events`, headers: auth() })).json().data as Array<Record<string, unknown>>

// A completed access request whose task was skipped with a reason naming the person.
const access = await create({
  subject: { email: ADA, phone: '+447700900123', customer_id: 'cust-4711' },
  requester: { kind: 'authorised_agent', name: 'Agent Smith', email: AGENT, authority_reference: 'LPA 2026/17' },
  callback_url: 'https://hooks.example/ada-4711',
  notes: 'Ada phoned: she moved to Leeds',
  verification: { method: 'document_check' }
})
const failed = await waitFor(async () => {
  const body = await read(access)
  return ['partially_completed', 'failed'].includes(body.status) ? body : null
}, 30_000, 'the task to fail')
const taskId = failed.tasks[0].id as string
const skipped = await app.inject({ method: 'POST', url: `/v1/requests/${access}/tasks/${taskId}/skip`, headers: auth(), payload: { reason: 'her account was merged into cust-4711' } })
if (skipped.json().status !== 'completed') throw new Error(`not completed: ${skipped.body}`)

// A cancelled rectification, extended first, with the new value and a cancel reason.
const rectification = await create({ type: 'rectification', subject: { email: ADA }, changes: [{ field: 'email', value: 'Ada.New@example.com' }] })
const extended = await app.inject({ method: 'POST', url: `/v1/requests/${rectification}/extension`, headers: auth(), payload: { reason: 'complex: Ada holds 3 accounts' } })
if (extended.statusCode !== 200) throw new Error(`not extended: ${extended.body}`)
await app.inject({ method: 'POST', url: `/v1/requests/${rectification}/cancel`, headers: auth(), payload: { reason: 'withdrawn by Ada on the phone' } })
// A rejected erasure: the explanation the person was given names her; so do the notes on its tasks
// (one done by hand, one refused), written here as a person's outcome and a refusal would leave them.
const rejected = await create({ type: 'erasure', subject: { email: ADA } })
const refusedRes = await app.inject({
  method: 'POST', url: `/v1/requests/${rejected}/reject`, headers: auth(), payload: { ground: 'manifestly_unfounded_or_excessive', explanation: 'Ada asked five times since March' }
})
if (refusedRes.statusCode !== 200) throw new Error(`not rejected: ${refusedRes.body}`)
await dbh.rows(sql`insert into tasks (request_id, connector_id, action, status, max_attempts, result, skip_reason) values
  (${rejected}, 'paper', 'erase', 'succeeded', 1, ${JSON.stringify({ manual: { outcome: 'nothing_found', note: 'Ada has no paper file', evidence_ref: 'T-1', by: 'admin' } })}::jsonb, null),
  (${rejected}, 'crm', 'erase', 'skipped', 1, ${JSON.stringify({ refusal: { ground: 'legal_claims', provision: 'GDPR Art 17(3)(e) and 21(1)', explanation: 'kept for the claim Ada filed', by: 'admin', at: new Date().toISOString() } })}::jsonb, 'refused (legal_claims, GDPR Art 17(3)(e) and 21(1))')`)
// Still open: never touched, however old.
const open = await create({ subject: { email: ADA } })

// Every request closed 100 days ago, the open one received then too.
await dbh.rows(sql`update requests set updated_at = now() - interval '100 days'`)

t.test('before the retention period nothing is removed', async (t) => {
  const result = await redactClosedRequests(dbh, { now: new Date(Date.now() - 20 * DAY), retentionDays: 90 })
  t.same(result, { redacted: 0 }, 'closed 80 days before that "now": kept')
  t.equal((await read(access)).subject.email, ADA)
})

t.test('after it, the closed requests keep their record but lose the person', async (t) => {
  const before = await read(access)
  const result = await redactClosedRequests(dbh, { now: new Date(), retentionDays: 90 })
  t.same(result, { redacted: 3 }, 'the three closed requests, not the open one')

  const after = await read(access)
  t.match(after.identifiers_redacted_at, /^\d{4}-/)
  t.strictSame(after.subject, {}, 'no identifiers of the subject')
  t.strictSame(after.requester, { kind: 'authorised_agent' }, 'the requester keeps only its kind')
  t.equal(after.callback_url, null)
  t.equal(after.notes, null)
  for (const field of ['id', 'type', 'status', 'regime', 'received_at', 'due_at', 'effective_due_at', 'deadline']) {
    t.same(after[field], before[field], `${field} stays`)
  }
  t.same(after.tasks.map((x: Record<string, unknown>) => [x.connector, x.status, x.attempts, x.last_error_code]),
    before.tasks.map((x: Record<string, unknown>) => [x.connector, x.status, x.attempts, x.last_error_code]), 'what each system did stays')
  t.equal(after.tasks[0].skip_reason, '[redacted]')

  const rect = await read(rectification)
  t.strictSame(rect.changes, [{ field: 'email', value: null }], 'the field that was to be corrected stays, its value goes')
  t.match(rect.extension, { reason: '[redacted]', taken_at: String }, 'the extension is on record, its reason is not')
  t.equal(rect.status, 'cancelled')

  const refused = await read(rejected)
  t.match(refused.refusal, { ground: 'manifestly_unfounded_or_excessive', provision: 'GDPR Art 12(5)(b)', explanation: '[redacted]' }, 'the ground stays, the explanation goes')
  t.match(refused.tasks.find((x: { connector: string }) => x.connector === 'paper').result.manual, { outcome: 'nothing_found', note: '[redacted]', evidence_ref: 'T-1' }, "a person's outcome stays, their note goes")
  t.match(refused.tasks.find((x: { connector: string }) => x.connector === 'crm').result.refusal, { ground: 'legal_claims', explanation: '[redacted]' })

  const history = [...await events(access), ...await events(rectification)]
  t.ok(history.some((e) => e.action === 'identifiers_redacted'), 'the removal is itself on record')
  t.ok(history.some((e) => e.action === 'transition' && e.to_status === 'cancelled' && e.reason === '[redacted]'), 'the cancel reason is gone, the cancellation is not')
  const engineReasons = history.filter((e) => e.actor === 'engine' && typeof e.reason === 'string')
  t.ok(engineReasons.length > 0 && engineReasons.every((e) => e.reason !== '[redacted]'), 'reasons the service wrote stay')

  const stillOpen = await read(open)
  t.equal(stillOpen.subject.email, ADA, 'an open request is never redacted')
  t.equal(stillOpen.identifiers_redacted_at, null)

  const everything = JSON.stringify(await dbh.rows(sql`
    select r.*, (select json_agg(e) from request_events e where e.request_id = r.id) as events,
           (select json_agg(k) from tasks k where k.request_id = r.id) as tasks
    from requests r where r.id <> ${open}`))
  for (const text of PERSONAL) t.notOk(everything.toLowerCase().includes(text.toLowerCase()), `"${text}" is nowhere in the closed requests' rows`)
  const [system] = await dbh.rows<{ details: Record<string, unknown> }>(sql`select details from system_events where action = 'identifiers_redacted'`)
  t.same(system?.details, { requests: 3, restore_notes: 0, retention_days: 90 }, 'counts only')

  t.same(await redactClosedRequests(dbh, { now: new Date(), retentionDays: 90 }), { redacted: 0 }, 'a second run finds nothing to do')
  t.notOk(logs.some((line) => PERSONAL.some((p) => line.toLowerCase().includes(p.toLowerCase()))), 'no personal data in the logs')
})

t.test('the record may not be kept for less than the archive', async (t) => {
  t.throws(() => loadConfig({ ARCHIVE_RETENTION_DAYS: '30', REQUEST_IDENTIFIERS_RETENTION_DAYS: '10' }), /REQUEST_IDENTIFIERS_RETENTION_DAYS: must be at least ARCHIVE_RETENTION_DAYS/)
  t.equal(loadConfig({}).REQUEST_IDENTIFIERS_RETENTION_DAYS, 90)
})

t.test('a restriction in force keeps its identifiers until it is lifted', async (t) => {
  const restriction = await create({ type: 'restriction', subject: { email: ADA } })
  await dbh.rows(sql`update requests set status = 'completed', restriction_placed_at = now() - interval '120 days',
    updated_at = now() - interval '100 days' where id = ${restriction}`)
  t.same(await redactClosedRequests(dbh, { now: new Date(), retentionDays: 90 }), { redacted: 0 }, 'in force: kept')
  await dbh.rows(sql`update requests set restriction_lifted_at = now() - interval '95 days', restriction_lifted_by = 'admin',
    restriction_lift_reason = 'Ada agreed on the phone', restriction_notified_subject_at = now() - interval '96 days',
    updated_at = now() - interval '95 days' where id = ${restriction}`)
  t.same(await redactClosedRequests(dbh, { now: new Date(), retentionDays: 90 }), { redacted: 1 }, 'lifted and past the period: redacted')
  const after = await read(restriction)
  t.strictSame(after.subject, {})
  t.equal(after.restriction?.lift_reason, '[redacted]')
})
