import t from 'tap'
import { auth, build, registryOf, requestBody, waitFor } from '../helper.js'
import { ConsoleClient, consoleKeys, KEYS } from './session.js'

/** The request page's other forms, each reaching its service under its scope: approve, verify, skip a task, take the extension. */
const registry = await registryOf([{ id: 'paper', driver: 'manual', display_name: 'Paper archive' }])
const app = await build(t, { registry, apiKeys: consoleKeys(), env: { APPROVAL_REQUIRED: 'erasure', TASK_POLL_SECONDS: '0.5' } })
const c = new ConsoleClient(app)
await c.signIn(KEYS.admin)
const read = async (id: string) => (await app.inject({ url: `/v1/requests/${id}`, headers: auth() })).json<{ status: string, extension: unknown, tasks: Array<{ id: string, status: string, skip_reason: string | null }> }>()
const create = async (over: Record<string, unknown>) => (await app.inject({ method: 'POST', url: '/v1/requests', headers: auth(), payload: requestBody(over) })).json<{ id: string }>().id
const csrfOn = async (id: string) => ConsoleClient.csrfOf((await c.get(`/console/requests/${id}`)).body)

t.test('verify, then skip its manual task with a reason', async (t) => {
  const id = await create({ subject: { email: 'verify@example.com' } })
  t.equal((await c.post(`/console/requests/${id}/verify`, { _csrf: await csrfOn(id), method: 'document_check' })).statusCode, 303)
  const task = await waitFor(async () => (await read(id)).tasks.find((x) => x.status === 'manual'), 20_000, 'the manual task')
  const skipped = await c.post(`/console/requests/${id}/tasks/${task.id}/skip`, { _csrf: await csrfOn(id), reason: 'The paper archive holds nothing from after 2010' })
  t.equal(skipped.statusCode, 303)
  t.match((await read(id)).tasks.find((x) => x.id === task.id), { status: 'skipped', skip_reason: 'The paper archive holds nothing from after 2010' })
})

t.test('approve an erasure held for approval', async (t) => {
  const id = await create({ type: 'erasure', subject: { email: 'approve@example.com' }, verification: { method: 'account_login' } })
  await waitFor(async () => (await read(id)).status === 'awaiting_approval', 20_000, 'awaiting approval')
  const page = await c.get(`/console/requests/${id}`)
  t.match(page.body, /action="\/console\/requests\/[^"]+\/approve"/, 'the approve form is offered')
  t.equal((await c.post(`/console/requests/${id}/approve`, { _csrf: ConsoleClient.csrfOf(page.body), note: 'Checked with the DPO' })).statusCode, 303)
  t.not((await read(id)).status, 'awaiting_approval')
  const again = await c.post(`/console/requests/${id}/approve`, { _csrf: ConsoleClient.csrfOf(page.body) })
  t.equal(again.statusCode, 409, 'approved once: the API\'s rule')
})

t.test('take the extension, with the day the person was told', async (t) => {
  const id = await create({ subject: { email: 'extend@example.com' } })
  const today = new Date().toISOString().slice(0, 10)
  const res = await c.post(`/console/requests/${id}/extension`, { _csrf: await csrfOn(id), reason: 'Many requests this month', notified_subject_at: today })
  t.equal(res.statusCode, 303, /data-code>([A-Z_]+)</.exec(res.body)?.[1] ?? '')
  t.match((await read(id)).extension, { reason: 'Many requests this month', by: 'admin', notified_subject_at: new RegExp(`^${today}T`) }, 'told today: recorded as now')
  const bad = await c.post(`/console/requests/${id}/extension`, { _csrf: await csrfOn(id), reason: 'x', notified_subject_at: 'yesterday' })
  t.equal(bad.statusCode, 400, 'a day that is not a date is a 400')
})

t.test('a key without the action\'s scope may sign in but not act', async (t) => {
  const id = await create({ subject: { email: 'scope@example.com' } })
  const reader = new ConsoleClient(app)
  await reader.signIn('test-operator-key-0000000000000000')
  // The operator key lacks admin: rebuilding an archive is the API's admin-only action.
  const res = await reader.post(`/console/requests/${id}/archive/rebuild`, { _csrf: ConsoleClient.csrfOf((await reader.get(`/console/requests/${id}`)).body) })
  t.equal(res.statusCode, 403)
  t.match(res.body, /data-code>DSR_FORBIDDEN</)
})

t.test('lift a restriction a manual task placed, with the day the person was told', async (t) => {
  const id = await create({ type: 'restriction', subject: { email: 'restrict@example.com' }, verification: { method: 'account_login' } })
  const task = await waitFor(async () => (await read(id)).tasks.find((x) => x.status === 'manual'), 20_000, 'the manual restrict task')
  t.equal((await c.post(`/console/requests/${id}/tasks/${task.id}/complete`, { _csrf: await csrfOn(id), outcome: 'done', note: 'Marked the paper file' })).statusCode, 303)
  await waitFor(async () => (await read(id)).status === 'completed', 20_000, 'completed')
  const page = await c.get(`/console/requests/${id}`)
  t.match(page.body, /action="\/console\/requests\/[^"]+\/restriction\/lift"/, 'the lift form is offered')
  const today = new Date().toISOString().slice(0, 10)
  const lifted = await c.post(`/console/requests/${id}/restriction/lift`, { _csrf: ConsoleClient.csrfOf(page.body), reason: 'Accuracy confirmed', notified_subject_at: today })
  t.equal(lifted.statusCode, 303)
  const events = (await app.inject({ url: `/v1/requests/${id}/events`, headers: auth() })).json<{ data: Array<{ action: string, actor: string }> }>().data
  t.match(events.find((e) => e.action === 'restriction_lifted'), { actor: 'admin' })
  const again = await c.post(`/console/requests/${id}/restriction/lift`, { _csrf: ConsoleClient.csrfOf(page.body), reason: 'Again', notified_subject_at: today })
  t.equal(again.statusCode, 409, 'lifted once: the API\'s rule')
  t.match(again.body, /data-code>DSR_RESTRICTION_ALREADY_LIFTED</)
})
