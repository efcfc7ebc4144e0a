import t from 'tap'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { auth, build, testDb, testKeys, waitFor } from '../helper.js'
import { readZip } from '../archive/fixtures.js'
import { startSmtp } from '../verification/smtp.js'
import { createRegistry, readConnectorFile } from '../../src/connectors/registry.js'
import { ensureSampleData, SAMPLE_ACCOUNTS_FILE, SAMPLE_CONNECTORS_FILE } from '../../src/connectors/samples.js'
import { loadAccounts, readAccountsFile } from '../../src/connectors/accounts-file.js'
import { drivers } from '../../connectors/index.js'
import { hashKey } from '../../src/services/api-keys.js'
import { runDeadlineMonitor } from '../../src/engine/deadline-monitor.js'
import type { HostResolver } from '../../src/transfers/addresses.js'

/**
 * A managed account's end user, on the sample systems (connectors/samples: accounts.json and the
 * CRM's account column), through the HTTP API, on Postgres and embedded. Maya (maya@example.net) is
 * in the CRM twice: in Northwind's workspace and in Contoso's, both managed for those customers. Her
 * access request waits for their administrators; Contoso's declines, Northwind's instructs with a
 * key bound to Northwind; her archive then holds Northwind's records of her and nothing of Contoso's.
 */

const MAYA = 'maya@example.net'
const quiet = { debug () {}, info () {}, warn () {}, error () {} }
const TENANT = { northwind: 'tenant-northwind-key-000000000000', contoso: 'tenant-contoso-key-00000000000000' } as const
const as = (who: keyof typeof TENANT) => ({ authorization: `Bearer ${TENANT[who]}` })
const loopback: HostResolver = async () => [{ address: '127.0.0.1', family: 4 }]

/** A managed account's own system: keeps the callbacks it is sent. */
async function receiver (t: Parameters<typeof startSmtp>[0]) {
  const received: Array<{ headers: http.IncomingHttpHeaders, body: Record<string, unknown> }> = []
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      received.push({ headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString()) })
      res.writeHead(204).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }))
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received }
}

for (const embedded of [false, true]) {
  const where = embedded ? 'embedded' : 'postgres'

  t.test(`${where}: a managed account's end user waits for the administrator, whose instruction releases only that account's data`, async (t) => {
    const smtp = await startSmtp(t)
    const dbh = await testDb(t, { embedded })
    await ensureSampleData(dbh)
    await loadAccounts(dbh, readAccountsFile(SAMPLE_ACCOUNTS_FILE))
    const registry = await createRegistry(readConnectorFile(SAMPLE_CONNECTORS_FILE), { drivers, env: {}, log: quiet, serviceDatabase: dbh })
    const apiKeys = testKeys()
    for (const account of ['northwind', 'contoso'] as const) {
      apiKeys.set(hashKey(TENANT[account]), { name: `${account}-admin`, scopes: ['requests:read', 'archives:read', 'accounts:instruct'], account })
    }
    const hooks = await receiver(t)
    const app = await build(t, {
      dbh,
      registry,
      apiKeys,
      env: { TASK_POLL_SECONDS: '0.5', SMTP_URL: smtp.url, PUBLIC_URL: 'https://dsar.example.com', CALLBACK_ALLOWLIST: hooks.origin, CALLBACK_SIGNING_KEYS: 'k1:callback-secret-one-00000000000000000000' }
    })
    const get = async (id: string, headers = auth()) => app.inject({ url: `/v1/requests/${id}`, headers })
    // Northwind's own system is told too; an address the deployment would never call is refused.
    const northwind = { name: 'Northwind Traders', managed: true, admins: [{ email: 'it-admin@northwind.example', name: 'Northwind IT' }], assistance_days: 10 }
    const refused = await app.inject({ method: 'PUT', url: '/v1/accounts/northwind', headers: auth(), payload: { ...northwind, callback_url: 'https://elsewhere.example/hooks' } })
    t.equal(refused.json().code, 'DSR_CALLBACK_URL_NOT_ALLOWED', 'a callback_url outside CALLBACK_ALLOWLIST is refused')
    const put = await app.inject({ method: 'PUT', url: '/v1/accounts/northwind', headers: auth(), payload: { ...northwind, callback_url: `${hooks.origin}/dsr` } })
    t.equal(put.statusCode, 200, 'the account is updated')

    const created = await app.inject({ method: 'POST', url: '/v1/requests', headers: auth(), payload: { type: 'access', regime: 'gdpr', subject: { email: MAYA }, verification: { method: 'account_login' } } })
    t.equal(created.statusCode, 202)
    const id = created.json().id as string
    const waiting = await waitFor(async () => { const b = (await get(id)).json(); return b.status === 'awaiting_controller' ? b : null }, 60_000, 'awaiting_controller')
    t.strictSame(waiting.tasks, [], 'nothing is asked of any system')

    const listed = await app.inject({ url: `/v1/requests/${id}/accounts`, headers: auth() })
    t.equal(listed.statusCode, 200, listed.body)
    const parts = listed.json().data as Array<Record<string, unknown>>
    t.strictSame(parts.map((p) => [p.account, p.state, p.systems]), [['contoso', 'awaiting', ['crm']], ['northwind', 'awaiting', ['crm']]], 'one waiting part per managed account, in the CRM')
    t.match(parts[1]!.message, /Northwind Traders's administrator\. Please contact your administrator first/, 'the person is told to contact their administrator, naming the account')
    const northwindDue = new Date(parts[1]!.due_at as string).getTime() - new Date(waiting.received_at).getTime()
    t.ok(Math.abs(northwindDue - 10 * 86_400_000) < 120_000, 'due after the account\'s own 10 assistance days')

    // The company tracks its assistance duty: the waiting parts are in the deadline report, and the deadline job warns of them once.
    const report = (await app.inject({ url: '/v1/reports/deadlines?window_hours=8760', headers: auth() })).json()
    t.strictSame(report.account_parts.map((p: { request_id: string, account: string }) => [p.request_id, p.account]), [[id, 'northwind'], [id, 'contoso']],
      "the waiting parts are in the deadline report, Northwind's (10 days) before Contoso's (14)")
    const warn = (now: Date) => runDeadlineMonitor({ dbh, log: app.log, webhookUrl: `${hooks.origin}/deadlines`, warningHours: 24 * 12, resolve: loopback }, now)
    t.match(await warn(new Date()), { notified: 1, failed: 0 }, "within 12 days, Northwind's part is due soon: one warning")
    t.match(await warn(new Date()), { notified: 0 }, 'not sent twice')
    const warning = hooks.received.find((r) => r.body.event === 'dsr.account_part_deadline')
    t.match(warning?.body, { kind: 'due_soon', account: 'northwind', request: { id } }, 'the warning names the account and the request')
    t.notOk(JSON.stringify(warning?.body).includes(MAYA), "and nothing of the person's")
    hooks.received.splice(hooks.received.indexOf(warning!), 1)

    // The administrators' e-mails, and the person's, at the test's SMTP server.
    await waitFor(async () => smtp.received.length >= 4 || null, 30_000, 'four e-mails')
    const to = (address: string) => smtp.received.filter((m) => m.to.includes(address))
    t.equal(to('it-admin@northwind.example').length, 1, "Northwind's administrator is e-mailed once")
    t.match(to('it-admin@northwind.example')[0]!.text, new RegExp(`Request: ${id}[\\s\\S]*POST https://dsar.example.com/v1/requests/${id}/controller-decision`), 'with the request and how to instruct')
    t.notOk(to('it-admin@northwind.example')[0]!.text.includes(MAYA), "the administrator's e-mail does not carry the person's address")
    t.equal(to('privacy@contoso.example').length, 1, "Contoso's administrator is e-mailed once")
    t.equal(to(MAYA).length, 2, 'the person is told, once per account')
    t.match(to(MAYA).map((m) => m.text).join('\n'), /Contoso's administrator/)

    const notice = await waitFor(async () => hooks.received[0], 30_000, "Northwind's callback")
    t.equal(hooks.received.length, 1, "only Northwind's system is called (Contoso names no callback_url)")
    t.match(notice.body, { event: 'account.instruction_requested', account: 'northwind', request_id: id, status: 'awaiting_controller' }, 'the notice names the account and the request')
    t.notOk(JSON.stringify(notice.body).includes(MAYA), "and nothing of the person's")
    t.match(String(notice.headers['dsr-signature']), /kid=k1,v1=[0-9a-f]{64}/, 'signed like any callback')

    // A key bound to Northwind sees this request and its own part only; not another person's request.
    t.equal((await get(id, as('northwind'))).statusCode, 200)
    const own = (await app.inject({ url: `/v1/requests/${id}/accounts`, headers: as('northwind') })).json().data as Array<{ account: string }>
    t.strictSame(own.map((p) => p.account), ['northwind'], "Northwind's key sees Northwind's part only")
    const ada = await app.inject({ method: 'POST', url: '/v1/requests', headers: auth(), payload: { type: 'access', regime: 'gdpr', subject: { email: 'ada@example.com' }, verification: { method: 'account_login' } } })
    t.equal((await get(ada.json().id, as('northwind'))).statusCode, 404, "a request with no part of Northwind's is not found with Northwind's key")
    const crossed = await app.inject({ method: 'POST', url: `/v1/requests/${id}/controller-decision`, headers: as('northwind'), payload: { account: 'contoso', decision: 'instruct', reference: 'NW-1' } })
    t.equal(crossed.statusCode, 404, "Northwind's key cannot decide Contoso's part")
    t.equal(crossed.json().code, 'DSR_ACCOUNT_NOT_FOUND')

    const declined = await app.inject({ method: 'POST', url: `/v1/requests/${id}/controller-decision`, headers: as('contoso'), payload: { account: 'contoso', decision: 'decline', reference: 'CT-2026-17' } })
    t.equal(declined.statusCode, 200)
    t.equal((await get(id)).json().status, 'awaiting_controller', "still waiting for Northwind's administrator")
    const instructed = await app.inject({ method: 'POST', url: `/v1/requests/${id}/controller-decision`, headers: as('northwind'), payload: { account: 'northwind', decision: 'instruct', reference: 'NW-DPA-7' } })
    t.equal(instructed.statusCode, 200)
    t.strictSame((instructed.json().data as Array<{ state: string }>).map((p) => p.state), ['instructed'])
    const again = await app.inject({ method: 'POST', url: `/v1/requests/${id}/controller-decision`, headers: as('northwind'), payload: { account: 'northwind', decision: 'decline', reference: 'NW-DPA-8' } })
    t.equal(again.json().code, 'DSR_ACCOUNT_PART_NOT_AWAITING', 'a part is decided once')

    const done = await waitFor(async () => {
      const b = (await get(id)).json()
      if (b.archive?.status === 'failed') throw new Error('the archive build failed')
      return b.archive?.status === 'ready' ? b : null
    }, 60_000, 'the archive')
    t.equal(done.status, 'completed')
    t.strictSame(done.tasks.map((k: { connector: string, account: string | null }) => [k.connector, k.account]), [['crm', 'northwind']], "one task, in the CRM, for Northwind's records")
    const download = await app.inject({ url: `/v1/requests/${id}/archive`, headers: as('northwind') })
    t.equal(download.statusCode, 200, "Northwind's administrator downloads the archive")
    const text = [...(await readZip(download.rawPayload)).values()].map((e) => e.data.toString('utf8')).join('\n')
    t.ok(text.includes('Northwind fleet renewal') && text.includes('Northwind: renewal signed by Maya.'), "Northwind's deal and note are in the archive")
    t.notOk(/Contoso pilot|Contoso: pilot/.test(text), "nothing of Contoso's records is")
    const trail = (await app.inject({ url: `/v1/requests/${id}/events`, headers: auth() })).json().data as Array<{ action: string }>
    const actions = trail.map((e) => e.action)
    t.ok(['controller_routed', 'controller_notified', 'controller_declined', 'controller_instructed'].every((a) => actions.includes(a)), 'routing, notices and both decisions are on the trail')
  })
}

t.test("postgres: a person both the company's customer and a managed account's end user: the company's part runs at once, the account's part waits", async (t) => {
  const smtp = await startSmtp(t)
  const dbh = await testDb(t)
  await ensureSampleData(dbh)
  await loadAccounts(dbh, readAccountsFile(SAMPLE_ACCOUNTS_FILE))
  // Ada, the company's own customer, also uses Northwind's workspace of the CRM.
  await dbh.executor.executeSql("insert into sample_crm.contacts (id, email, first_name, last_name, created_at, account_id) values (98, 'ada@example.com', 'Ada', 'Lovelace', now(), 'northwind')")
  await dbh.executor.executeSql("insert into sample_crm.notes values (98, 98, 'Northwind: Ada joined the fleet pilot.', now())")
  const registry = await createRegistry(readConnectorFile(SAMPLE_CONNECTORS_FILE), { drivers, env: {}, log: quiet, serviceDatabase: dbh })
  const app = await build(t, { dbh, registry, env: { TASK_POLL_SECONDS: '0.5', SMTP_URL: smtp.url } })
  const get = async (id: string) => (await app.inject({ url: `/v1/requests/${id}`, headers: auth() })).json()

  const created = await app.inject({ method: 'POST', url: '/v1/requests', headers: auth(), payload: { type: 'access', regime: 'gdpr', subject: { email: 'ada@example.com' }, verification: { method: 'account_login' } } })
  const id = created.json().id as string
  const waiting = await waitFor(async () => { const b = await get(id); return b.status === 'awaiting_controller' ? b : null }, 60_000, 'awaiting_controller')
  t.ok(waiting.tasks.length >= 5 && waiting.tasks.every((k: { status: string }) => k.status === 'succeeded'), "the company's own part ran at once, in every system")
  t.equal(waiting.archive, null, 'no archive while a part waits')
  const ownCrm = waiting.tasks.find((k: { connector: string }) => k.connector === 'crm')
  t.equal(ownCrm.account, null, "the CRM task is the company's own part")
  t.equal(ownCrm.result.streams.notes, 1, "it collected Ada's own note, not the one in Northwind's workspace")
  const events = (await app.inject({ url: `/v1/requests/${id}/events`, headers: auth() })).json().data as Array<{ action: string, to_status: string | null, details: Record<string, unknown> | null }>
  t.match(events.find((e) => e.action === 'controller_routed')?.details, { accounts: ['northwind'], own: true }, 'routed with an own part')
  t.ok(events.some((e) => e.to_status === 'awaiting_controller'), 'the request waits once its own part is done')

  const instructed = await app.inject({ method: 'POST', url: `/v1/requests/${id}/controller-decision`, headers: auth(), payload: { account: 'northwind', decision: 'instruct', reference: 'NW-MAIL-2026-12-07' } })
  t.equal(instructed.statusCode, 200, 'the company records an instruction the administrator sent by e-mail')
  const done = await waitFor(async () => { const b = await get(id); return b.archive?.status === 'ready' ? b : null }, 60_000, 'the archive')
  t.equal(done.status, 'completed')
  const download = await app.inject({ url: `/v1/requests/${id}/archive`, headers: auth() })
  const text = [...(await readZip(download.rawPayload)).values()].map((e) => e.data.toString('utf8')).join('\n')
  t.ok(text.includes('Prefers e-mail; interested in the annual plan.'), "the company's own records of Ada are in the archive")
  t.ok(text.includes('Northwind: Ada joined the fleet pilot.'), "and, as instructed, Northwind's")
  const crm = done.tasks.filter((k: { connector: string }) => k.connector === 'crm')
  t.strictSame(crm.map((k: { account: string | null, result: { streams: { notes: number } } }) => [k.account, k.result.streams.notes]).sort(), [['northwind', 1], [null, 1]].sort(),
    "two CRM tasks, the company's part and Northwind's, one note each")
})
