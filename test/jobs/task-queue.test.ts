import t from 'tap'
import { sql } from 'drizzle-orm'
import { auth, build, registryOf, requestBody, testDb, waitFor } from '../helper.js'

/**
 * Tasks are their own queue (src/jobs/queue.ts): workers claim due tasks from the tasks table and
 * sleep only when none is due. With a poll interval of a minute, everything here finishing within
 * seconds shows the workers were woken: by the intake statement's own notification, by the
 * planner's after a later verification, and by the next retry coming due. On Postgres when
 * DATABASE_URL is set, and embedded.
 */

const ADA = 'ada@example.com'
const system = (id: string, faults?: Record<string, unknown>) => ({
  id,
  driver: 'memory',
  concurrency: 3,
  settings: { streams: [{ name: 'records', match: { email: 'email' }, records: [{ id: `${id}-1`, email: ADA }] }], ...(faults ? { faults } : {}) }
})
const env = { TASK_POLL_SECONDS: '60', TASK_RETRY_BASE_MS: '300', TASK_RETRY_MAX_MS: '600', TASK_LEASE_SECONDS: '30' }

for (const embedded of [false, true]) {
  const where = embedded ? 'embedded' : (process.env.DATABASE_URL ? 'Postgres' : 'embedded (no DATABASE_URL)')

  t.test(`${where}: idle task workers are woken, not polled`, async (t) => {
    const registry = await registryOf([system('crm'), system('support', { collect: { status: 503, times: 2 } })])
    const app = await build(t, { dbh: await testDb(t, { embedded }), registry, env })
    const settled = (id: string) => waitFor(async () => {
      const body = (await app.inject({ url: `/v1/requests/${id}`, headers: auth() })).json()
      return ['completed', 'partially_completed', 'failed'].includes(body.status) ? body : null
    }, 15_000, `request ${id} to settle well before the 60 s poll`)

    // Let the workers go idle: their first fetches found nothing, and they sleep.
    await new Promise((resolve) => setTimeout(resolve, 300))
    const started = Date.now()
    const atIntake = (await app.inject({
      method: 'POST',
      url: '/v1/requests',
      headers: auth(),
      payload: requestBody({ subject: { email: ADA }, verification: { method: 'account_login' } })
    })).json().id
    const done = await settled(atIntake)
    t.equal(done.status, 'completed', 'verified at intake: woken by the intake statement')
    const support = done.tasks.find((task: { connector: string }) => task.connector === 'support')
    t.match(support, { status: 'succeeded', attempts: 3 }, 'two 503s: each retry claimed when it came due')
    t.ok(Date.now() - started < 15_000, `in ${Date.now() - started} ms`)

    const later = (await app.inject({ method: 'POST', url: '/v1/requests', headers: auth(), payload: requestBody({ subject: { email: ADA } }) })).json().id
    await new Promise((resolve) => setTimeout(resolve, 300))
    t.equal((await app.inject({ method: 'POST', url: `/v1/requests/${later}/verify`, headers: auth(), payload: { method: 'email_link' } })).statusCode, 200)
    t.equal((await settled(later)).status, 'completed', 'verified later: woken by the planner')

    const runs = await app.dbh.rows<{ outcome: string }>(sql`
      select r.outcome from task_runs r join tasks k on k.id = r.task_id where k.request_id = ${atIntake} and k.connector_id = 'support' order by r.id`)
    t.strictSame(runs.map((r) => r.outcome), ['retry', 'retry', 'succeeded'], 'every attempt recorded, in order')
  })
}
