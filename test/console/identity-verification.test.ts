import t from 'tap'
import { auth, build, registryOf, waitFor } from '../helper.js'
import { secretsOf, startSmtp } from '../verification/smtp.js'
import { assertRefused, ConsoleClient, consoleKeys, KEYS } from './session.js'

/**
 * The request page's forms for the identity check's review and the service's e-mail verification:
 * each reaches the service its API route calls (identity/choose, verification, verification/confirm),
 * under the same scope, and the trail records it as it records the API's.
 */
const PHONE = '+447700900123'
const smtp = await startSmtp(t)
const registry = await registryOf([{
  id: 'shop',
  driver: 'memory',
  settings: {
    streams: [{
      name: 'customers',
      match: { email: 'email', phone: 'phone' },
      records: [{ id: 1, email: 'ada@example.com', phone: PHONE }, { id: 2, email: 'ada.alt@example.com', phone: PHONE }]
    }]
  }
}])
const app = await build(t, { registry, apiKeys: consoleKeys(), env: { TASK_POLL_SECONDS: '0.5', SMTP_URL: smtp.url } })
const c = new ConsoleClient(app)
await c.signIn(KEYS.admin)
const read = async (id: string) => (await app.inject({ url: `/v1/requests/${id}`, headers: auth() })).json<{ status: string }>()
const actions = async (id: string) => (await app.inject({ url: `/v1/requests/${id}/events`, headers: auth() })).json<{ data: Array<{ action: string, actor: string }> }>().data
const csrfOn = async (id: string) => ConsoleClient.csrfOf((await c.get(`/console/requests/${id}`)).body)
const codeOf = (html: string) => /data-code>([A-Z_]+)</.exec(html)?.[1]

t.test('a request held because its phone number leads to two people: the reviewer picks the one who asked', async (t) => {
  const created = await app.inject({ method: 'POST', url: '/v1/requests', headers: auth(), payload: { type: 'erasure', regime: 'gdpr', subject: { phone: PHONE }, verification: { method: 'account_login' } } })
  const id = created.json().id as string
  await waitFor(async () => (await read(id)).status === 'on_hold' || null, 30_000, 'the hold')
  const page = await c.get(`/console/requests/${id}`)
  t.match(page.body, /data-identity="conflict"/, 'the identity check\'s finding is shown')
  t.match(page.body, /data-candidate="1"/, 'with both people, masked')
  t.notMatch(page.body, /ada\.alt@example\.com/, 'no address in clear')
  const url = `/console/requests/${id}/identity/choose`
  await assertRefused(t, app, c, url, { candidate: '0' })
  t.equal((await read(id)).status, 'on_hold', 'refused forms changed nothing')

  const none = await c.post(url, { _csrf: await csrfOn(id) })
  t.equal(none.statusCode, 400, 'neither a person nor an address')
  t.equal(codeOf(none.body), 'DSR_VALIDATION_FAILED')
  const unknown = await c.post(url, { _csrf: await csrfOn(id), candidate: '7' })
  t.equal(codeOf(unknown.body), 'DSR_IDENTITY_CANDIDATE_UNKNOWN', 'a person not in the list, as the API says it')

  const chosen = await c.post(url, { _csrf: await csrfOn(id), candidate: '0', email: '' })
  t.equal(chosen.statusCode, 303, codeOf(chosen.body) ?? '')
  await waitFor(async () => (await read(id)).status !== 'on_hold' || null, 30_000, 'fulfilment to start')
  const trail = await actions(id)
  t.ok(trail.some((e) => e.actor === 'admin' && e.action === 'transition'), 'the choice moves the request, by the operator')
  const review = (await app.inject({ url: `/v1/requests/${id}/identity`, headers: auth() })).json()
  t.match(review, { status: 'chosen', chosen_by: 'admin' }, 'the API reads the same choice')
  t.notMatch((await c.get(`/console/requests/${id}`)).body, /identity\/choose/, 'no form once chosen')
})

t.test('e-mail verification from the console: send the code and link, then confirm the code the person reads out', async (t) => {
  const created = await app.inject({ method: 'POST', url: '/v1/requests', headers: auth(), payload: { type: 'access', regime: 'gdpr', subject: { email: 'grace@example.com' } } })
  const id = created.json().id as string
  const page = await c.get(`/console/requests/${id}`)
  t.match(page.body, /No code or link was sent/)
  const send = `/console/requests/${id}/verification`
  await assertRefused(t, app, c, send, {})
  t.equal(smtp.received.length, 0, 'refused forms sent nothing')

  const sent = await c.post(send, { _csrf: ConsoleClient.csrfOf(page.body) })
  t.equal(sent.statusCode, 200, codeOf(sent.body) ?? '')
  t.match(sent.body, /A code and a link were e-mailed/)
  t.match(sent.body, /data-verification="open"/)
  t.equal((await read(id)).status, 'verifying')
  const message = await waitFor(async () => smtp.received[0], 10_000, 'the e-mail')
  t.strictSame(message.to, ['grace@example.com'])
  const { code } = secretsOf(message)

  const confirm = `/console/requests/${id}/verification/confirm`
  await assertRefused(t, app, c, confirm, { code })
  const wrong = await c.post(confirm, { _csrf: ConsoleClient.csrfOf(sent.body), code: code === '000000' ? '111111' : '000000' })
  t.equal(codeOf(wrong.body), 'DSR_VERIFICATION_CODE_WRONG', 'a wrong code, counted as the API counts it')
  t.match((await c.get(`/console/requests/${id}`)).body, /1 of 5/, 'the wrong code is shown')
  const right = await c.post(confirm, { _csrf: await csrfOn(id), code })
  t.equal(right.statusCode, 303, codeOf(right.body) ?? '')
  t.not((await read(id)).status, 'verifying', 'fulfilment started')
  t.match((await actions(id)).find((e) => e.action === 'verification_confirmed'), { actor: 'admin' }, 'confirmed by the operator, on the trail')
})
