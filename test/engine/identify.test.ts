import t from 'tap'
import { auth, build, registryOf, testDb, waitFor } from '../helper.js'

/**
 * The identity check when a system cannot be searched: the queue retries its job; the last attempt
 * holds the request for a reviewer (here called directly as that last attempt), who may give the
 * right person's e-mail address. And with approval required, the check runs once the request is approved.
 */

const PHONE = '+15550100'
const systems = [
  { id: 'shop', driver: 'memory', settings: { streams: [{ name: 'customers', match: { email: 'email', phone: 'phone' }, records: [{ id: 1, email: 'ada@example.com', phone: PHONE }] }] } },
  {
    id: 'helpdesk',
    driver: 'memory',
    settings: {
      streams: [{ name: 'users', match: { email: 'email' }, records: [{ id: 1, email: 'ada@example.com' }] }],
      faults: { collect: { status: 503, times: 1000 } }
    }
  }
]
const env = { TASK_POLL_SECONDS: '0.5', TASK_RETRY_BASE_MS: '50', APPROVAL_REQUIRED: 'access' }

t.test('a system that cannot be searched holds the request on the last attempt; an e-mail address given by the reviewer resumes it', async (t) => {
  const app = await build(t, { dbh: await testDb(t), registry: await registryOf(systems), env })
  const created = await app.inject({ method: 'POST', url: '/v1/requests', headers: auth(), payload: { type: 'erasure', regime: 'gdpr', subject: { phone: PHONE }, verification: { method: 'account_login' } } })
  t.equal(created.statusCode, 202)
  const id = created.json().id as string
  t.equal(created.json().status, 'ready')

  await app.engine.identity.run(id, { lastAttempt: false }).then(() => t.fail('should throw'), (err: Error) => {
    t.match(err.message, /helpdesk \(DSR_CONNECTOR_UNAVAILABLE\)/, 'a failed attempt names the system and the code')
    t.notOk(err.message.includes(PHONE) || err.message.includes('ada@'), 'and no identifier')
  })
  t.equal((await app.inject({ url: `/v1/requests/${id}`, headers: auth() })).json().status, 'ready', 'still ready: the queue retries')
  await app.engine.identity.run(id, { lastAttempt: true })
  const held = (await app.inject({ url: `/v1/requests/${id}`, headers: auth() })).json()
  t.equal(held.status, 'on_hold')
  t.strictSame(held.tasks, [])
  const review = (await app.inject({ url: `/v1/requests/${id}/identity`, headers: auth() })).json()
  t.equal(review.status, 'failed')

  const chosen = await app.inject({ method: 'POST', url: `/v1/requests/${id}/identity/choose`, headers: auth(), payload: { email: 'ada@example.com' } })
  t.equal(chosen.statusCode, 200, chosen.body)
  t.equal(chosen.json().status, 'in_progress')
  t.strictSame(chosen.json().tasks.map((x: { connector: string }) => x.connector).sort(), ['helpdesk', 'shop'])
  await app.engine.identity.run(id, { lastAttempt: true })
  t.equal((await app.inject({ url: `/v1/requests/${id}`, headers: auth() })).json().status, 'in_progress', 'a late retry of the job changes nothing')
})

t.test('a request held for approval is checked once approved', async (t) => {
  const app = await build(t, { dbh: await testDb(t), registry: await registryOf([systems[0]!]), env })
  const created = await app.inject({ method: 'POST', url: '/v1/requests', headers: auth(), payload: { type: 'access', regime: 'gdpr', subject: { phone: PHONE }, verification: { method: 'account_login' } } })
  const id = created.json().id as string
  t.equal(created.json().status, 'awaiting_approval')
  const approved = await app.inject({ method: 'POST', url: `/v1/requests/${id}/approve`, headers: auth(), payload: {} })
  t.equal(approved.json().status, 'ready', 'approved: the identity check runs first')
  const done = await waitFor(async () => {
    const body = (await app.inject({ url: `/v1/requests/${id}`, headers: auth() })).json()
    return body.status === 'completed' ? body : null
  }, 30_000, 'the request to complete')
  t.equal(done.tasks.length, 1)
  t.equal((await app.inject({ url: `/v1/requests/${id}/identity`, headers: auth() })).json().status, 'resolved')
})
