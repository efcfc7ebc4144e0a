import t from 'tap'
import { sql } from 'drizzle-orm'
import postgres from 'postgres'
import { auth, build, registryOf, requestBody, testDb, waitFor } from '../helper.js'

/**
 * How a request closes. A task's outcome commits on its own, with a count of the request's tasks
 * read after that commit (TasksRepository.finish), and only a worker that finds none open takes
 * the request's lock to close it. So tasks finishing at once never wait on each other, at least
 * one of them closes the request, and a request whose closing worker died is closed by the reaper.
 * On Postgres when DATABASE_URL is set, and embedded.
 */

const people = ['ada@example.com', 'grace@example.com', 'alan@example.com']
const systems = ['crm', 'support', 'newsletter', 'webinar', 'quiz'].map((id) => ({
  id,
  driver: 'memory',
  concurrency: 4,
  settings: { streams: [{ name: 'records', match: { email: 'email' }, records: people.map((email, i) => ({ id: `${id}-${i}`, email })) }] }
}))
const env = { TASK_POLL_SECONDS: '0.5', TASK_LEASE_SECONDS: '2' }

for (const embedded of [false, true]) {
  const where = embedded ? 'embedded' : (process.env.DATABASE_URL ? 'Postgres' : 'embedded (no DATABASE_URL)')

  t.test(`${where}: 30 requests of 5 tasks finishing together each close exactly once, with one archive`, async (t) => {
    const app = await build(t, { dbh: await testDb(t, { embedded }), registry: await registryOf(systems), env })
    const ids = await Promise.all(Array.from({ length: 30 }, async (_, i) => {
      const res = await app.inject({
        method: 'POST',
        url: '/v1/requests',
        headers: auth(),
        payload: requestBody({ subject: { email: people[i % people.length] }, verification: { method: 'account_login' } })
      })
      t.equal(res.statusCode, 202)
      return res.json().id as string
    }))
    await waitFor(async () => {
      const [row] = await app.dbh.rows<{ n: number }>(sql`select count(*)::int as n from archives where status = 'ready'`)
      return row!.n === ids.length
    }, 60_000, 'every archive ready')
    const closings = await app.dbh.rows<{ request_id: string, n: number }>(sql`
      select request_id, count(*)::int as n from request_events
      where action = 'transition' and to_status = 'completed' group by request_id`)
    t.equal(closings.length, ids.length, 'every request completed')
    t.ok(closings.every((c) => c.n === 1), 'each by one transition')
    const archives = await app.dbh.rows<{ n: number }>(sql`select count(*)::int as n from archives group by request_id`)
    t.ok(archives.length === ids.length && archives.every((a) => a.n === 1), 'one archive each, none superseded')
    const [open] = await app.dbh.rows<{ n: number }>(sql`select count(*)::int as n from tasks where status <> 'succeeded'`)
    t.equal(open!.n, 0, 'all 150 tasks succeeded')
  })

  t.test(`${where}: a request whose last task finished without closing it is closed by the reaper`, async (t) => {
    const app = await build(t, { dbh: await testDb(t, { embedded }), registry: await registryOf(systems.slice(0, 2)), env })
    const created = await app.inject({ method: 'POST', url: '/v1/requests', headers: auth(), payload: requestBody({ subject: { email: 'ada@example.com' } }) })
    const id = created.json().id as string
    // As a worker leaves it when it stops between committing the last outcome and closing the
    // request: in progress, every task finished.
    await app.dbh.rows(sql`update requests set status = 'in_progress' where id = ${id}`)
    await app.dbh.rows(sql`
      insert into tasks (request_id, connector_id, action, status, attempts, max_attempts, started_at, finished_at)
      values (${id}, 'crm', 'collect', 'succeeded', 1, 6, now(), now()), (${id}, 'support', 'collect', 'failed', 1, 6, now(), now())`)
    const closed = await waitFor(async () => {
      const body = (await app.inject({ url: `/v1/requests/${id}`, headers: auth() })).json()
      return body.status === 'in_progress' ? null : body
    }, 20_000, 'the reaper to close the request')
    t.equal(closed.status, 'partially_completed', 'closed as its tasks say: one system did its part, one failed')
    const events = (await app.inject({ url: `/v1/requests/${id}/events`, headers: auth() })).json().data as Array<{ action: string, actor: string, to_status: string | null }>
    t.match(events.filter((e) => e.action === 'transition').at(-1), { actor: 'engine', to_status: 'partially_completed' })
    await waitFor(async () => {
      const [row] = await app.dbh.rows<{ status: string }>(sql`select status from archives where request_id = ${id}`)
      return row?.status === 'ready'
    }, 20_000, 'its archive, built from what was found')
    t.pass('the archive of a partially completed access request was built')
  })
}

// Another session holding the request's lock needs a second connection: Postgres only.
t.test('a worker that finds a finished request locked does not wait: it closes it once the lock is let go', { skip: process.env.DATABASE_URL ? false : 'DATABASE_URL is not set' }, async (t) => {
  // A minute's lease: the reaper sweeps every 30 s, so a close within seconds is the worker's own.
  const dbh = await testDb(t)
  const registry = await registryOf([{ ...systems[0]!, settings: { ...systems[0]!.settings, faults: { collect: { status: 503, times: 1, retry_after_seconds: 1 } } } }])
  const app = await build(t, { dbh, registry, env: { TASK_POLL_SECONDS: '0.5', TASK_LEASE_SECONDS: '60' } })
  const created = await app.inject({
    method: 'POST',
    url: '/v1/requests',
    headers: auth(),
    payload: requestBody({ subject: { email: 'ada@example.com' }, verification: { method: 'account_login' } })
  })
  const id = created.json().id as string
  const taskStatus = async () => (await dbh.rows<{ status: string }>(sql`select status from tasks where request_id = ${id}`))[0]?.status
  await waitFor(async () => (await taskStatus()) === 'retry_wait', 10_000, 'the first attempt to fail with a 503')

  // Someone else (an operator's action, say) holds the request's lock while its last task finishes.
  const other = postgres(dbh.url!, { max: 1, onnotice: () => {} })
  t.teardown(() => other.end({ timeout: 5 }))
  const holder = await other.reserve()
  await holder`begin`
  await holder`select 1 from requests where id = ${id} for no key update`
  await waitFor(async () => (await taskStatus()) === 'succeeded', 10_000, 'the retry to succeed')

  const started = Date.now()
  const answer = await app.engine.finalizer.closeIfDone(id, 'test', { ifFree: true })
  t.equal(answer, 'busy', 'a closer that may not wait answers busy')
  t.ok(Date.now() - started < 2000, 'at once, without waiting for the lock')
  await new Promise((resolve) => setTimeout(resolve, 600))
  const [held] = await dbh.rows<{ status: string }>(sql`select status from requests where id = ${id}`)
  t.equal(held!.status, 'in_progress', 'not closed while the lock is held')

  await holder`commit`
  holder.release()
  await waitFor(async () => {
    const [row] = await dbh.rows<{ status: string }>(sql`select status from requests where id = ${id}`)
    return row!.status === 'completed'
  }, 5_000, 'the worker to close the request once the lock was let go')
  const [closings] = await dbh.rows<{ n: number }>(sql`
    select count(*)::int as n from request_events where request_id = ${id} and action = 'transition' and to_status = 'completed'`)
  t.equal(closings!.n, 1, 'closed once')
})
