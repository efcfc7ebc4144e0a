import t from 'tap'
import { sql } from 'drizzle-orm'
import { auth, build, registryOf, requestBody, waitFor } from '../helper.js'
import type { MemoryConnector } from '../../connectors/memory/index.js'

const ADA = 'ada@example.com'
const env = { TASK_RETRY_BASE_MS: '50', TASK_POLL_SECONDS: '0.5', TASK_LEASE_SECONDS: '5', SCHEDULER_ENABLED: 'false' }

const system = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  driver: 'memory',
  max_attempts: 2,
  health_check_seconds: 60,
  ...extra,
  settings: { streams: [{ name: 'contacts', match: { email: 'email' }, records: [{ id: `${id}-1`, email: ADA }] }] }
})

t.test('a down connector parks its tasks without using attempts, and they finish when it recovers', async (t) => {
  const registry = await registryOf([system('crm', { required: true }), system('support')])
  const app = await build(t, { registry, env })
  const crm = registry.get('crm')!.connector as MemoryConnector
  const down = { status: 503, times: 1_000_000 }

  // The scheduled health job, one period: both ok, nothing to resume. Ready.
  const t0 = Date.now()
  let tick = await app.scheduler.tick('connector_health', new Date(Math.ceil(t0 / 60_000) * 60_000 + 60_000))
  t.match(tick, { ran: true, details: { checked: 2, ok: 2, down: 0 } })
  t.equal((await app.inject('/health/ready')).statusCode, 200)

  // The system goes down: collect answers 503, so does health.
  crm.setFault('collect', down)
  crm.setFault('health', down)
  const first = (await app.inject({
    method: 'POST', url: '/v1/requests', headers: auth(), payload: requestBody({ subject: { email: ADA }, verification: { method: 'account_login' } })
  })).json()
  // The attempt fails with a 503, a quick live check confirms down: the task waits, its attempt given back.
  const waiting = await waitFor(async () => {
    const body = (await app.inject({ url: `/v1/requests/${first.id}`, headers: auth() })).json()
    const task = body.tasks.find((x: { connector: string }) => x.connector === 'crm')
    return task?.status === 'waiting' ? body : null
  }, 20_000, 'the crm task to wait')
  const crmTask = waiting.tasks.find((x: { connector: string }) => x.connector === 'crm')
  t.match(crmTask, { status: 'waiting', attempts: 0, waiting_on: 'crm', last_error_code: 'DSR_CONNECTOR_DOWN' })
  t.equal(waiting.status, 'in_progress', 'the request is not failed')
  t.equal(crm.calls.collect, 1, 'one attempt reached the system')

  // Within one period the health job marks it down; /health/ready names it.
  tick = await app.scheduler.tick('connector_health', new Date(Math.ceil(t0 / 60_000) * 60_000 + 2 * 60_000))
  t.match(tick, { ran: true, details: { down: 1 } })
  const ready = await app.inject('/health/ready')
  t.equal(ready.statusCode, 503)
  t.strictSame(ready.json().checks.connectors, { crm: 'down' })
  const summary = (await app.inject({ url: '/v1/connectors/health', headers: auth() })).json()
  t.strictSame(summary.counts, { ok: 1, down: 1, unknown: 0 })

  // A new request while it is down: the runner refuses to start its crm task at all.
  const second = (await app.inject({
    method: 'POST', url: '/v1/requests', headers: auth(), payload: requestBody({ subject: { email: ADA }, verification: { method: 'account_login' } })
  })).json()
  await waitFor(async () => {
    const rows = await app.dbh.rows<{ status: string }>(sql`select status from tasks where request_id = ${second.id} and connector_id = 'crm'`)
    return rows[0]?.status === 'waiting'
  }, 20_000, 'the second crm task to wait')
  t.equal(crm.calls.collect, 1, 'no attempt reached the down system')

  // Many ticks later still down: no attempt used, nothing failed (max_attempts is 2).
  for (let i = 3; i < 6; i++) await app.scheduler.tick('connector_health', new Date(Math.ceil(t0 / 60_000) * 60_000 + i * 60_000))
  const stillWaiting = await app.dbh.rows<{ status: string, attempts: number }>(sql`
    select status, attempts from tasks where connector_id = 'crm' order by created_at`)
  t.strictSame(stillWaiting.map((r) => [r.status, Number(r.attempts)]), [['waiting', 0], ['waiting', 0]])

  // It recovers: the next health tick resumes both tasks, and both requests complete.
  crm.setFault('collect', null)
  crm.setFault('health', null)
  tick = await app.scheduler.tick('connector_health', new Date(Math.ceil(t0 / 60_000) * 60_000 + 10 * 60_000))
  t.match(tick, { ran: true, details: { ok: 2, resumed: 2 } })
  for (const id of [first.id, second.id]) {
    const done = await waitFor(async () => {
      const body = (await app.inject({ url: `/v1/requests/${id}`, headers: auth() })).json()
      return body.status === 'completed' ? body : null
    }, 20_000, `request ${id} to complete`)
    t.match(done.tasks.find((x: { connector: string }) => x.connector === 'crm'), { status: 'succeeded', attempts: 1, waiting_on: null })
  }
  t.equal((await app.inject('/health/ready')).statusCode, 200)
  const events = (await app.inject({ url: `/v1/requests/${first.id}/events`, headers: auth() })).json().data.map((e: { action: string }) => e.action)
  t.ok(events.includes('task_waiting') && events.includes('task_resumed'), 'the wait and the resume are in the audit trail')
  const history = await app.dbh.rows<{ n: number }>(sql`select count(*)::int as n from connector_health where connector_id = 'crm'`)
  t.ok(Number(history[0]!.n) >= 7, 'every check kept as history')
})

t.test('connector routes', async (t) => {
  const registry = await registryOf([system('crm', { health_check_seconds: 30, required: true, display_name: 'The CRM' })])
  const app = await build(t, { registry, env })
  const list = (await app.inject({ url: '/v1/connectors', headers: auth('outsider') })).json()
  t.match(list.data[0], {
    id: 'crm',
    driver: 'memory',
    display_name: 'The CRM',
    capabilities: ['collect', 'erase'],
    required: true,
    health_check_seconds: 30,
    streams: [{ name: 'contacts' }],
    health: { status: 'unknown', checked_at: null }
  })
  t.equal((await app.inject({ url: '/v1/connectors', headers: auth('reader') })).statusCode, 403)
  t.match((await app.inject({ url: '/v1/connectors/crm/health', headers: auth() })).json(), { status: 'unknown' })
  const live = (await app.inject({ url: '/v1/connectors/crm/health?live=true', headers: auth() })).json()
  t.match(live, { connector: 'crm', status: 'ok', latency_ms: Number })
  t.match((await app.inject({ url: '/v1/connectors/crm/health', headers: auth() })).json(), { status: 'ok', checked_at: live.checked_at }, 'stored')
  t.equal((await app.inject({ url: '/v1/connectors/nope/health', headers: auth() })).json().code, 'DSR_CONNECTOR_NOT_FOUND')
  const sweep = await app.inject({ method: 'POST', url: '/v1/connectors/crm/retention/sweep?dry_run=true', headers: auth() })
  t.equal(sweep.json().code, 'DSR_RETENTION_NOT_CONFIGURED')
})
