import t from 'tap'
import { sql } from 'drizzle-orm'
import { auth, build, registryOf, requestBody, waitFor } from '../helper.js'
import type { MemoryConnector } from '../../connectors/memory/index.js'

const ADA = 'ada@example.com'
const GRACE = 'grace@example.com'

/** Three small systems, each holding Ada and Grace. */
function systems (faults: Record<string, unknown> = {}) {
  const system = (id: string, stream: string) => ({
    id,
    driver: 'memory',
    settings: {
      streams: [{
        name: stream,
        match: { email: 'email' },
        records: [
          { id: `${id}-1`, email: ADA, note: `${id} record of Ada` },
          { id: `${id}-2`, email: GRACE, note: `${id} record of Grace` },
          { id: `${id}-3`, email: ADA, note: `second ${id} record of Ada` }
        ]
      }],
      ...(faults[id] ? { faults: faults[id] } : {})
    }
  })
  return [system('crm', 'contacts'), system('support', 'tickets'), system('newsletter', 'members')]
}

const env = { TASK_RETRY_BASE_MS: '50', TASK_POLL_SECONDS: '0.5', TASK_LEASE_SECONDS: '5' }

async function settle (app: Awaited<ReturnType<typeof build>>, id: string) {
  return waitFor(async () => {
    const res = await app.inject({ url: `/v1/requests/${id}`, headers: auth() })
    const body = res.json()
    return ['completed', 'partially_completed', 'failed'].includes(body.status) ? body : null
  }, 30_000, `request ${id} to settle`)
}

t.test('an access request over 3 connectors completes although one answers 503 twice', async (t) => {
  const registry = await registryOf(systems({ support: { collect: { status: 503, times: 2 } } }))
  const app = await build(t, { registry, env })
  const created = await app.inject({
    method: 'POST',
    url: '/v1/requests',
    headers: auth(),
    payload: requestBody({ subject: { email: ADA }, verification: { method: 'account_login' } })
  })
  t.equal(created.statusCode, 202)
  t.equal(created.json().status, 'in_progress', 'verified at intake: planned and started')
  const done = await settle(app, created.json().id)
  t.equal(done.status, 'completed')
  const byConnector = Object.fromEntries(done.tasks.map((task: { connector: string }) => [task.connector, task]))
  t.match(byConnector.support, { status: 'succeeded', attempts: 3, result: { records: 2, streams: { tickets: 2 } } }, 'two 503s, then success')
  t.match(byConnector.crm, { status: 'succeeded', attempts: 1, result: { records: 2 } })
  t.match(byConnector.newsletter, { status: 'succeeded', attempts: 1, result: { records: 2 } })
  t.equal((registry.get('support')!.connector as MemoryConnector).calls.collect, 3, 'the system was called three times')

  const runs = await app.dbh.rows<{ outcome: string }>(sql`
    select r.outcome from task_runs r join tasks k on k.id = r.task_id
    where k.request_id = ${done.id} and k.connector_id = 'support' order by r.id`)
  t.strictSame(runs.map((r) => r.outcome), ['retry', 'retry', 'succeeded'], 'every attempt recorded')

  const items = (await app.inject({ url: `/v1/requests/${done.id}/items?limit=100`, headers: auth() })).json()
  t.equal(items.data.length, 6, 'two records from each system')
  t.ok(items.data.every((i: { data: { email: string } }) => i.data.email === ADA), 'only the subject\'s records')

  const events = (await app.inject({ url: `/v1/requests/${done.id}/events`, headers: auth() })).json().data
  t.strictSame(events.filter((e: { action: string }) => e.action === 'transition').map((e: { to_status: string }) => e.to_status),
    ['ready', 'in_progress', 'completed'])
})

t.test('a permanent failure leaves the request not completed; retry after the fix completes it', async (t) => {
  const registry = await registryOf(systems({ crm: { collect: { status: 401, times: 1 } } }))
  const app = await build(t, { registry, env })
  const id = (await app.inject({ method: 'POST', url: '/v1/requests', headers: auth(), payload: requestBody({ subject: { email: ADA } }) })).json().id
  t.equal((await app.inject({ url: `/v1/requests/${id}`, headers: auth() })).json().status, 'received', 'nothing runs before verification')

  const verified = await app.inject({ method: 'POST', url: `/v1/requests/${id}/verify`, headers: auth(), payload: { method: 'email_link' } })
  t.equal(verified.statusCode, 200)
  const settled = await settle(app, id)
  t.equal(settled.status, 'partially_completed', 'one system failed, two did their part')
  const crm = settled.tasks.find((task: { connector: string }) => task.connector === 'crm')
  t.match(crm, { status: 'failed', attempts: 1, last_error_code: 'DSR_CONNECTOR_AUTH' }, 'permanent errors are not retried')

  // The fault is fixed (credentials rotated, say); the operator retries.
  ;(registry.get('crm')!.connector as MemoryConnector).setFault('collect', null)
  const retried = await app.inject({ method: 'POST', url: `/v1/requests/${id}/tasks/${crm.id}/retry`, headers: auth() })
  t.equal(retried.statusCode, 200)
  t.equal(retried.json().status, 'in_progress', 'the request reopens')
  const again = await settle(app, id)
  t.equal(again.status, 'completed')
  t.match(again.tasks.find((task: { connector: string }) => task.connector === 'crm'), { status: 'succeeded' })

  const retryAgain = await app.inject({ method: 'POST', url: `/v1/requests/${id}/tasks/${crm.id}/retry`, headers: auth() })
  t.equal(retryAgain.statusCode, 409, 'only failed tasks can be retried')
  t.equal(retryAgain.json().code, 'DSR_ILLEGAL_TASK_ACTION')
})

t.test('skip closes a request with the reason on record', async (t) => {
  const registry = await registryOf(systems({ newsletter: { collect: { status: 403, times: 1 } } }))
  const app = await build(t, { registry, env })
  const id = (await app.inject({
    method: 'POST',
    url: '/v1/requests',
    headers: auth(),
    payload: requestBody({ subject: { email: ADA }, verification: { method: 'account_login' } })
  })).json().id
  const settled = await settle(app, id)
  const task = settled.tasks.find((x: { connector: string }) => x.connector === 'newsletter')
  const noReason = await app.inject({ method: 'POST', url: `/v1/requests/${id}/tasks/${task.id}/skip`, headers: auth(), payload: {} })
  t.equal(noReason.statusCode, 400)
  const skipped = await app.inject({
    method: 'POST', url: `/v1/requests/${id}/tasks/${task.id}/skip`, headers: auth('writer'), payload: { reason: 'list retired in 2024' }
  })
  t.equal(skipped.statusCode, 200)
  t.equal(skipped.json().status, 'completed')
  t.match(skipped.json().tasks.find((x: { connector: string }) => x.connector === 'newsletter'), { status: 'skipped', skip_reason: 'list retired in 2024' })
  const events = (await app.inject({ url: `/v1/requests/${id}/events`, headers: auth() })).json().data
  t.match(events.find((e: { action: string }) => e.action === 'task_skipped'), { actor: 'writer', reason: 'list retired in 2024' })
  const wrong = await app.inject({ method: 'POST', url: `/v1/requests/${id}/tasks/00000000-0000-4000-8000-000000000000/skip`, headers: auth(), payload: { reason: 'x' } })
  t.equal(wrong.statusCode, 404)
})

t.test('an erasure removes the subject everywhere and leaves others intact', async (t) => {
  const registry = await registryOf(systems())
  const app = await build(t, { registry, env })
  const id = (await app.inject({
    method: 'POST',
    url: '/v1/requests',
    headers: auth(),
    payload: requestBody({ type: 'erasure', subject: { email: ADA }, verification: { method: 'document_check' } })
  })).json().id
  const done = await settle(app, id)
  t.equal(done.status, 'completed')
  for (const task of done.tasks) t.match(task.result.outcomes, [{ status: 'erased', count: 2 }], `${task.connector} erased 2`)
  for (const [name, instance] of registry) {
    const rows = [...(instance.connector as MemoryConnector).data.values()].flat()
    t.equal(rows.filter((r) => r.email === ADA).length, 0, `${name}: nothing of Ada`)
    t.equal(rows.filter((r) => r.email === GRACE).length, 1, `${name}: Grace untouched`)
  }
  t.equal((await app.inject({ url: `/v1/requests/${id}/items`, headers: auth() })).json().data.length, 0, 'an erasure collects nothing')
})
