import t from 'tap'
import { sql } from 'drizzle-orm'
import { auth, build, testDb, waitFor } from '../helper.js'
import { startSmtp } from '../verification/smtp.js'
import { createRegistry, readConnectorFile } from '../../src/connectors/registry.js'
import { ensureSampleData, SAMPLE_ACCOUNTS_FILE, SAMPLE_CONNECTORS_FILE } from '../../src/connectors/samples.js'
import { loadAccounts, readAccountsFile } from '../../src/connectors/accounts-file.js'
import { drivers } from '../../connectors/index.js'

/**
 * Telling a managed account's administrators and the person, when the relay refuses the person's
 * address for a while: a retry sends only what is missing (the administrators are e-mailed once),
 * and the deadline job, run by the scheduler, tells whoever is still untold once the relay accepts.
 * On the sample systems: Maya is an end user of Northwind and of Contoso, both managed.
 */

const MAYA = 'maya@example.net'
const quiet = { debug () {}, info () {}, warn () {}, error () {} }

t.test('a refused e-mail to the person is sent again alone, by the retry or the deadline job', async (t) => {
  let refuseMaya = true
  const smtp = await startSmtp(t, { refuse: (address) => refuseMaya && address === MAYA })
  const dbh = await testDb(t)
  await ensureSampleData(dbh)
  await loadAccounts(dbh, readAccountsFile(SAMPLE_ACCOUNTS_FILE))
  const registry = await createRegistry(readConnectorFile(SAMPLE_CONNECTORS_FILE), { drivers, env: {}, log: quiet, serviceDatabase: dbh })
  const app = await build(t, { dbh, registry, env: { TASK_POLL_SECONDS: '0.5', SMTP_URL: smtp.url } })
  const created = await app.inject({ method: 'POST', url: '/v1/requests', headers: auth(), payload: { type: 'access', regime: 'gdpr', subject: { email: MAYA }, verification: { method: 'account_login' } } })
  const id = created.json().id as string
  const to = (address: string) => smtp.received.filter((m) => m.to.includes(address)).length
  const admins = () => [to('it-admin@northwind.example'), to('privacy@contoso.example')]

  // The identity check's job tells the first account's administrators, then fails on the person: retried.
  await waitFor(async () => smtp.refused.length >= 2 || null, 60_000, 'the job retried after the refusal')
  const first = admins()
  t.ok(first.some((n) => n === 1), 'an administrator was e-mailed')
  t.ok(first.every((n) => n <= 1), 'no administrator is e-mailed twice by the retry')
  t.equal(to(MAYA), 0, 'the person was not reached')

  // The relay accepts again; the deadline job (as the scheduler runs it) tells whoever is still untold.
  refuseMaya = false
  const run = await app.scheduler.tick('deadline_monitor', new Date(Date.now() + 10 * 60_000))
  t.equal(run.ran, true)
  await waitFor(async () => to(MAYA) === 2 || null, 60_000, 'the person told, once per account')
  t.strictSame(admins(), [1, 1], 'each administrator e-mailed exactly once')
  const parts = await dbh.rows<{ notified: boolean, told: boolean }>(sql`select notified_at is not null as notified, person_told_at is not null as told from request_accounts where request_id = ${id}`)
  t.strictSame(parts, [{ notified: true, told: true }, { notified: true, told: true }], 'both parts marked for both')
  const actions = (await app.inject({ url: `/v1/requests/${id}/events`, headers: auth() })).json<{ data: Array<{ action: string }> }>().data.map((e) => e.action)
  t.equal(actions.filter((a) => a === 'controller_notified').length, 2, 'the administrators\' notice on the trail, once per account')
  t.equal(actions.filter((a) => a === 'controller_person_told').length, 2, 'and the person\'s')

  // As if the person's e-mail had failed through every retry: the next deadline job sends that alone.
  await dbh.rows(sql`update request_accounts set person_told_at = null where request_id = ${id} and account_id = 'northwind'`)
  const again = await app.scheduler.tick('deadline_monitor', new Date(Date.now() + 20 * 60_000))
  t.match(again.details, { untold_told: 1, untold_failed: 0 }, 'the job counts what it told')
  t.equal(to(MAYA), 3, 'the person is told of Northwind again')
  t.strictSame(admins(), [1, 1], 'the administrators are not')
  const after = (await app.inject({ url: `/v1/requests/${id}/events`, headers: auth() })).json<{ data: Array<{ action: string }> }>().data.map((e) => e.action)
  t.equal(after.filter((a) => a === 'controller_person_told').length, 3, 'the person\'s new notice is on the trail')
})
