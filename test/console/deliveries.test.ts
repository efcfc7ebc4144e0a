import t from 'tap'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { auth, build, registryOf, waitFor } from '../helper.js'
import { assertRefused, ConsoleClient, consoleKeys, KEYS } from './session.js'

/**
 * The request page's record of where the data went and who was told: direct transfers (and sending
 * one), status callbacks (and sending a failed one again), suppressions. Each action reaches the
 * service its API route calls, under the same scope.
 */
const receiverCalls: string[] = []
let callbackAnswer = 400
const receiver = http.createServer((req, res) => {
  receiverCalls.push(req.url ?? '')
  req.resume()
  req.on('end', () => res.writeHead(req.url === '/hooks' ? callbackAnswer : 201, { 'content-type': 'application/json' }).end('{"received":true}'))
})
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
t.teardown(() => new Promise<void>((resolve) => { receiver.closeAllConnections(); receiver.close(() => resolve()) }))
const origin = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`

const registry = await registryOf([{ id: 'crm', driver: 'memory', settings: { streams: [{ name: 'contacts', match: { email: 'email' }, records: [{ id: 'c1', email: 'ada@example.com', plan: 'pro' }] }] } }])
const app = await build(t, {
  registry,
  apiKeys: consoleKeys(),
  env: { TASK_POLL_SECONDS: '0.5', TRANSFER_ALLOWLIST: origin, CALLBACK_ALLOWLIST: origin, CALLBACK_SIGNING_KEYS: 'k1:callback-secret-one-00000000000000000000' }
})
const c = new ConsoleClient(app)
await c.signIn(KEYS.admin)
const csrfOn = async (id: string) => ConsoleClient.csrfOf((await c.get(`/console/requests/${id}`)).body)
const codeOf = (html: string) => /data-code>([A-Z_]+)</.exec(html)?.[1]

const created = await app.inject({
  method: 'POST',
  url: '/v1/requests',
  headers: auth(),
  payload: { type: 'portability', regime: 'gdpr', subject: { email: 'ada@example.com' }, verification: { method: 'account_login' }, callback_url: `${origin}/hooks` }
})
const id = created.json().id as string
await waitFor(async () => (await app.inject({ url: `/v1/requests/${id}`, headers: auth() })).json().archive?.status === 'ready' || null, 60_000, 'the archive')

t.test('a direct transfer of the ready archive, sent from the console and listed there', async (t) => {
  const page = await c.get(`/console/requests/${id}`)
  t.match(page.body, /Send the archive to another company/)
  const url = `/console/requests/${id}/transfers`
  await assertRefused(t, app, c, url, { destination: `${origin}/import` })
  const outside = await c.post(url, { _csrf: ConsoleClient.csrfOf(page.body), destination: 'https://elsewhere.example/import' })
  t.equal(codeOf(outside.body), 'DSR_TRANSFER_DESTINATION_NOT_ALLOWED', 'a destination outside TRANSFER_ALLOWLIST, as the API refuses it')
  t.equal((await app.inject({ url: `/v1/requests/${id}/transfers`, headers: auth() })).json().data.length, 0, 'nothing was sent by refused forms')

  const sent = await c.post(url, { _csrf: await csrfOn(id), destination: `${origin}/import`, notes: 'Asked by e-mail', authorization: '' })
  t.equal(sent.statusCode, 303, codeOf(sent.body) ?? '')
  const transfer = await waitFor(async () => {
    const [x] = (await app.inject({ url: `/v1/requests/${id}/transfers`, headers: auth() })).json().data
    return x?.status === 'delivered' ? x : null
  }, 30_000, 'the transfer')
  t.match(transfer, { destination: `${origin}/import`, created_by: 'admin', notes: 'Asked by e-mail' })
  t.ok(receiverCalls.includes('/import'), 'the receiver got the archive')
  t.match((await c.get(`/console/requests/${id}`)).body, new RegExp(`data-transfer="${transfer.id}" data-transfer-status="delivered"`), 'listed on the page')
})

t.test('a status callback the receiver refused is sent again from the console', async (t) => {
  const failed = await waitFor(async () => {
    const data = (await app.inject({ url: `/v1/requests/${id}/callbacks`, headers: auth() })).json().data as Array<{ id: string, status: string }>
    return data.length > 0 && data.every((d) => d.status === 'failed') ? data[0] : null
  }, 30_000, 'the refused callbacks')
  const page = await c.get(`/console/requests/${id}`)
  t.match(page.body, new RegExp(`data-callback="${failed!.id}" data-callback-status="failed"`), 'listed as failed')
  const url = `/console/requests/${id}/callbacks/${failed!.id}/redeliver`
  t.match(page.body, new RegExp(`action="${url}"`), 'with a button to send it again')
  await assertRefused(t, app, c, url, {})

  callbackAnswer = 204
  const again = await c.post(url, { _csrf: ConsoleClient.csrfOf(page.body) })
  t.equal(again.statusCode, 200, codeOf(again.body) ?? '')
  t.match(again.body, /queued to be sent again/)
  const delivered = await waitFor(async () => {
    const data = (await app.inject({ url: `/v1/requests/${id}/callbacks`, headers: auth() })).json().data as Array<{ id: string, status: string, attempts: number }>
    const d = data.find((x) => x.id === failed!.id)
    return d?.status === 'delivered' ? d : null
  }, 30_000, 'the delivery')
  t.equal(delivered.attempts, 2, 'delivered on the second attempt, the same delivery')
})

t.test('the suppressions a request put in force are listed', async (t) => {
  const optOut = await app.inject({
    method: 'POST', url: '/v1/requests', headers: auth(), payload: { type: 'marketing_opt_out', regime: 'gdpr', subject: { email: 'ada@example.com' }, verification: { method: 'account_login' } }
  })
  const optOutId = optOut.json().id as string
  const page = await waitFor(async () => {
    const body = (await c.get(`/console/requests/${optOutId}`)).body
    return body.includes('data-suppression="marketing"') ? body : null
  }, 30_000, 'the suppression')
  t.match(page, /marketing: since [^<]*, in force/)
})
