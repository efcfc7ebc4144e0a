import t from 'tap'
import { auth, build, registryOf, requestBody, waitFor } from '../helper.js'
import { assertRefused, ConsoleClient, consoleKeys, KEYS, VIEWER_KEY } from './session.js'

/**
 * The request page's forms for what the API does and the console did not yet: each reaches the service
 * its API route calls, under the same scope, and the request's trail records it as it records the API's.
 */
const ADA = 'ada@example.com'
const registry = await registryOf([
  { id: 'paper', driver: 'manual', display_name: 'Paper archive' },
  { id: 'crm', driver: 'memory', display_name: 'CRM', settings: { streams: [{ name: 'contacts', match: { email: 'email' }, records: [{ id: 'c1', email: ADA }, { id: 'c2', email: ADA }, { id: 'c3', email: 'grace@example.com' }] }] } }
])
const app = await build(t, { registry, apiKeys: consoleKeys(), env: { TASK_POLL_SECONDS: '0.5' } })
const c = new ConsoleClient(app)
await c.signIn(KEYS.admin)

interface Task { id: string, connector: string, status: string, skip_reason: string | null, result: Record<string, unknown> | null }
interface Event { action: string, actor: string, to_status: string | null, reason: string | null, details: Record<string, unknown> | null }
const read = async (id: string) => (await app.inject({ url: `/v1/requests/${id}`, headers: auth() }))
  .json<{ status: string, extension: { notified_subject_at: string | null } | null, tasks: Task[] }>()
const events = async (id: string) => (await app.inject({ url: `/v1/requests/${id}/events`, headers: auth() })).json<{ data: Event[] }>().data
const create = async (over: Record<string, unknown>) => (await app.inject({ method: 'POST', url: '/v1/requests', headers: auth(), payload: requestBody(over) })).json<{ id: string }>().id
const csrfOn = async (id: string) => ConsoleClient.csrfOf((await c.get(`/console/requests/${id}`)).body)
const codeOf = (html: string) => /data-code>([A-Z_]+)</.exec(html)?.[1]

t.test("refuse one system's part on a ground: its task is skipped with the refusal, as the API does it", async (t) => {
  const id = await create({ subject: { email: 'refuse@example.com' }, verification: { method: 'account_login' } })
  const task = await waitFor(async () => (await read(id)).tasks.find((x) => x.connector === 'paper' && x.status === 'manual'), 20_000, 'the manual task')
  const page = await c.get(`/console/requests/${id}`)
  t.match(page.body, new RegExp(`action="/console/requests/${id}/tasks/${task.id}/refuse"`), 'the refuse form is on the task')
  t.match(page.body, new RegExp(`<select id="refuse-${task.id}-ground" name="ground" required>[\\s\\S]*?value="rights_of_others"`), 'with the grounds of the regime and type')
  const url = `/console/requests/${id}/tasks/${task.id}/refuse`
  const form = { ground: 'rights_of_others', explanation: 'The paper file is about your neighbour as much as about you.' }
  await assertRefused(t, app, c, url, form)
  t.equal((await read(id)).tasks.find((x) => x.id === task.id)?.status, 'manual', 'refused forms changed nothing')

  const res = await c.post(url, { _csrf: ConsoleClient.csrfOf(page.body), ...form })
  t.equal(res.statusCode, 303, codeOf(res.body) ?? '')
  t.equal(res.headers.location, `/console/requests/${id}`)
  const refused = (await read(id)).tasks.find((x) => x.id === task.id)!
  t.match(refused, { status: 'skipped', skip_reason: 'refused (rights_of_others, GDPR Art 15(4) and 20(4))' })
  t.match(refused.result, { refusal: { ground: 'rights_of_others', explanation: form.explanation, by: 'admin' } })
  t.match((await events(id)).find((e) => e.action === 'task_refused'), { actor: 'admin', details: { task_id: task.id, connector: 'paper', ground: 'rights_of_others' } })
  const again = await c.post(url, { _csrf: ConsoleClient.csrfOf(page.body), ...form })
  t.equal(again.statusCode, 409, 'refused once: the API\'s rule')
  t.equal(codeOf(again.body), 'DSR_ILLEGAL_TASK_ACTION')
  const bad = await c.post(url, { _csrf: ConsoleClient.csrfOf(page.body), ground: 'not_a_ground', explanation: 'x' })
  t.equal(bad.statusCode, 400, 'a ground not in the catalogue')
})

t.test('cancel an open request with a reason', async (t) => {
  const id = await create({ subject: { email: 'cancel@example.com' } })
  const url = `/console/requests/${id}/cancel`
  const form = { reason: 'Withdrawn by the person by e-mail' }
  await assertRefused(t, app, c, url, form)
  t.equal((await read(id)).status, 'received', 'refused forms changed nothing')
  t.match((await c.get(`/console/requests/${id}`)).body, new RegExp(`action="${url}"`), 'the cancel form is offered')

  const res = await c.post(url, { _csrf: await csrfOn(id), ...form })
  t.equal(res.statusCode, 303, codeOf(res.body) ?? '')
  t.equal((await read(id)).status, 'cancelled')
  t.match((await events(id)).at(-1), { action: 'transition', actor: 'admin', to_status: 'cancelled', reason: form.reason })
  const page = await c.get(`/console/requests/${id}`)
  t.notMatch(page.body, new RegExp(`action="${url}"`), 'a closed request offers no cancel')
  const again = await c.post(url, { _csrf: ConsoleClient.csrfOf(page.body), ...form })
  t.equal(again.statusCode, 409, 'the API\'s rule: a closed request is not cancelled again')
  t.equal(codeOf(again.body), 'DSR_ILLEGAL_TRANSITION')
})

t.test('the extension with its reason, and when the person was told of it, recorded afterwards', async (t) => {
  const id = await create({ subject: { email: 'notice@example.com' } })
  t.equal((await c.post(`/console/requests/${id}/extension`, { _csrf: await csrfOn(id), reason: 'Records in three archives to search' })).statusCode, 303)
  const before = await c.get(`/console/requests/${id}`)
  t.match(before.body, /data-extension-reason>Records in three archives to search</, 'the reason is shown')
  t.match(before.body, /data-extension-told>not recorded</, 'not told yet')
  const url = `/console/requests/${id}/extension/notice`
  t.match(before.body, new RegExp(`action="${url}"`), 'the notice form is offered')
  const today = new Date().toISOString().slice(0, 10)
  await assertRefused(t, app, c, url, { notified_subject_at: today })
  t.equal((await read(id)).extension?.notified_subject_at, null, 'refused forms changed nothing')

  const res = await c.post(url, { _csrf: ConsoleClient.csrfOf(before.body), notified_subject_at: today })
  t.equal(res.statusCode, 303, codeOf(res.body) ?? '')
  const told = (await read(id)).extension?.notified_subject_at
  t.match(told, new RegExp(`^${today}T`), 'told today: recorded as now')
  t.match((await events(id)).find((e) => e.action === 'extension_notice_recorded'), { actor: 'admin' })
  const after = await c.get(`/console/requests/${id}`)
  t.match(after.body, new RegExp(`data-extension-told>${told!.replace(/\./g, '\\.')} \\(within the first period`), 'when, and that it was within the first period')
  t.notMatch(after.body, new RegExp(`action="${url}"`), 'recorded once: no more form')
  // Told "today" again is now a later instant than the one on record: another date, which the API refuses.
  const again = await c.post(url, { _csrf: ConsoleClient.csrfOf(after.body), notified_subject_at: today })
  t.equal(again.statusCode, 409)
  t.equal(codeOf(again.body), 'DSR_EXTENSION_NOTICE_ALREADY_RECORDED')
})

t.test("an erasure's preview: per system, what would be erased; nothing is", async (t) => {
  const id = await create({ type: 'erasure', subject: { email: ADA } })
  const page = await c.get(`/console/requests/${id}`)
  const url = `/console/requests/${id}/erasure-preview`
  t.match(page.body, new RegExp(`action="${url}"`), 'the preview form is offered on an erasure')
  await assertRefused(t, app, c, url, {})
  t.notOk((await events(id)).some((e) => e.action === 'erasure_previewed'), 'refused forms previewed nothing')

  const res = await c.post(url, { _csrf: ConsoleClient.csrfOf(page.body) })
  t.equal(res.statusCode, 200, codeOf(res.body) ?? '')
  t.match(res.body, /<tr data-preview-connector="crm" data-preview-status="previewed">[\s\S]*?<td class="num" data-erase>2<\/td>/, 'the CRM would erase two records')
  t.match(res.body, /data-preview-stream="crm\/contacts"/, 'per stream')
  t.match(res.body, /<tr data-preview-connector="paper" data-preview-status="not_previewable">/, 'the paper archive: a person erases there')
  t.match((await events(id)).find((e) => e.action === 'erasure_previewed'), { actor: 'admin', details: { connectors: { crm: { status: 'previewed', erase: 2 } } } })
  t.equal((await read(id)).status, 'received', 'nothing changed')

  const access = await create({ subject: { email: 'preview@example.com' } })
  const accessPage = await c.get(`/console/requests/${access}`)
  t.notMatch(accessPage.body, /\/erasure-preview"/, 'not offered on an access request')
  const notErasure = await c.post(`/console/requests/${access}/erasure-preview`, { _csrf: ConsoleClient.csrfOf(accessPage.body) })
  t.equal(notErasure.statusCode, 409, 'the API\'s rule')
  t.equal(codeOf(notErasure.body), 'DSR_ERASURE_PREVIEW_NOT_AVAILABLE')
})

t.test('a viewer is shown none of these forms, which an admin is shown', async (t) => {
  const id = await create({ type: 'erasure', subject: { email: 'viewer@example.com' } })
  t.equal((await app.inject({ method: 'POST', url: `/v1/requests/${id}/extension`, headers: auth(), payload: { reason: 'Many requests this month' } })).statusCode, 200)
  const forms = (html: string) => [...html.matchAll(/action="\/console\/requests\/[^"]+\/(cancel|erasure-preview|extension\/notice)"/g)].map((m) => m[1]).sort()
  t.strictSame(forms((await c.get(`/console/requests/${id}`)).body), ['cancel', 'erasure-preview', 'extension/notice'])
  const viewer = new ConsoleClient(app)
  await viewer.signIn(VIEWER_KEY)
  const page = await viewer.get(`/console/requests/${id}`)
  t.equal(page.statusCode, 200)
  t.strictSame(forms(page.body), [])
})
