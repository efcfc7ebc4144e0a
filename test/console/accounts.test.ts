import t from 'tap'
import { auth, build, testDb, waitFor } from '../helper.js'
import { createRegistry, readConnectorFile } from '../../src/connectors/registry.js'
import { ensureSampleData, SAMPLE_ACCOUNTS_FILE, SAMPLE_CONNECTORS_FILE } from '../../src/connectors/samples.js'
import { loadAccounts, readAccountsFile } from '../../src/connectors/accounts-file.js'
import { drivers } from '../../connectors/index.js'
import { assertRefused, ConsoleClient, consoleKeys, KEYS, OPERATOR_KEY } from './session.js'

/**
 * A managed account's part of a request on its page, and the administrator's decision recorded from the
 * console as POST /v1/requests/{id}/controller-decision records it (scope accounts:instruct). On the
 * sample systems: Maya (maya@example.net) is in the CRM in Northwind's workspace and in Contoso's.
 */
const quiet = { debug () {}, info () {}, warn () {}, error () {} }
const dbh = await testDb(t)
await ensureSampleData(dbh)
await loadAccounts(dbh, readAccountsFile(SAMPLE_ACCOUNTS_FILE))
const registry = await createRegistry(readConnectorFile(SAMPLE_CONNECTORS_FILE), { drivers, env: {}, log: quiet, serviceDatabase: dbh })
const app = await build(t, { dbh, registry, apiKeys: consoleKeys(), env: { TASK_POLL_SECONDS: '0.5' } })

interface Part { account: string, state: string, reference: string | null }
const get = async (id: string) => (await app.inject({ url: `/v1/requests/${id}`, headers: auth() })).json<{ status: string, tasks: Array<{ connector: string, account: string | null }> }>()
const parts = async (id: string) => (await app.inject({ url: `/v1/requests/${id}/accounts`, headers: auth() })).json<{ data: Part[] }>().data
const events = async (id: string) => (await app.inject({ url: `/v1/requests/${id}/events`, headers: auth() })).json<{ data: Array<{ action: string, actor: string, details: Record<string, unknown> | null }> }>().data
const codeOf = (html: string) => /data-code>([A-Z_]+)</.exec(html)?.[1]

t.test("each administrator's decision, recorded from the request's page", async (t) => {
  const created = await app.inject({ method: 'POST', url: '/v1/requests', headers: auth(), payload: { type: 'access', regime: 'gdpr', subject: { email: 'maya@example.net' }, verification: { method: 'account_login' } } })
  const id = created.json<{ id: string }>().id
  await waitFor(async () => (await get(id)).status === 'awaiting_controller', 60_000, 'awaiting_controller')
  const c = new ConsoleClient(app)
  await c.signIn(KEYS.admin)
  const page = await c.get(`/console/requests/${id}`)
  t.match(page.body, /<article class="card" data-part="contoso" data-part-state="awaiting">/, "Contoso's part waits")
  t.match(page.body, /<article class="card" data-part="northwind" data-part-state="awaiting">[\s\S]*?Please contact your administrator first/, "Northwind's, with what the person is told")
  t.equal(page.body.match(/action="\/console\/requests\/[^"]+\/controller-decision"/g)?.length, 2, 'a decision form per waiting part')

  const url = `/console/requests/${id}/controller-decision`
  const decline = { account: 'contoso', decision: 'decline', reference: 'CT-2026-17' }
  await assertRefused(t, app, c, url, decline)
  t.strictSame((await parts(id)).map((p) => p.state), ['awaiting', 'awaiting'], 'refused forms decided nothing')
  const operator = new ConsoleClient(app)
  await operator.signIn(OPERATOR_KEY)
  t.notMatch((await operator.get(`/console/requests/${id}`)).body, /controller-decision"/, 'a key without accounts:instruct is offered no form')

  t.equal((await c.post(url, { _csrf: ConsoleClient.csrfOf(page.body), ...decline })).statusCode, 303)
  t.match((await parts(id)).find((p) => p.account === 'contoso'), { state: 'declined', reference: 'CT-2026-17' })
  t.match((await events(id)).find((e) => e.action === 'controller_declined'), { actor: 'admin', details: { account: 'contoso', reference: 'CT-2026-17' } })
  t.equal((await get(id)).status, 'awaiting_controller', "still waiting for Northwind's administrator")

  const instructed = await c.post(url, { _csrf: ConsoleClient.csrfOf(page.body), account: 'northwind', decision: 'instruct', reference: 'NW-DPA-7', explanation: '' })
  t.equal(instructed.statusCode, 303, codeOf(instructed.body) ?? '')
  t.match((await parts(id)).find((p) => p.account === 'northwind'), { state: 'instructed', reference: 'NW-DPA-7' })
  t.match((await events(id)).find((e) => e.action === 'controller_instructed'), { actor: 'admin', details: { account: 'northwind', reference: 'NW-DPA-7' } })
  const planned = await waitFor(async () => { const r = await get(id); return r.status !== 'awaiting_controller' ? r : null }, 30_000, 'planned')
  t.strictSame(planned.tasks.map((k) => [k.connector, k.account]), [['crm', 'northwind']], "one task, in the CRM, for Northwind's records")

  const after = await c.get(`/console/requests/${id}`)
  t.notMatch(after.body, /controller-decision"/, 'nothing left to decide')
  const again = await c.post(url, { _csrf: ConsoleClient.csrfOf(after.body), account: 'northwind', decision: 'decline', reference: 'NW-DPA-8' })
  t.equal(again.statusCode, 409, 'decided once: the API\'s rule')
  t.equal(codeOf(again.body), 'DSR_ACCOUNT_PART_NOT_AWAITING')
})
