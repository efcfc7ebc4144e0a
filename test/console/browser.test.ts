import t, { type Test } from 'tap'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { auth, build, registryOf, requestBody, waitFor } from '../helper.js'
import { axeSource, browserAvailable, checkAccessible, openPage } from '../browser.js'
import { fromRoot } from '../paths.js'
import { startSmtp } from '../verification/smtp.js'
import { createAccountsRepository } from '../../src/db/repositories/accounts-repository.js'
import { consoleKeys, KEYS, OPERATOR_KEY } from './session.js'

/** Where the console's screenshots are written, for a person to look at (git-ignored; see README). */
const SCREENSHOTS = fromRoot('test-output/screenshots/console/')
const DAY = 86_400_000
const PHONE = '+447700900123'

if (browserAvailable(t, 'the operator console in a browser')) {
  const axe = await axeSource()
  // A shop where one phone number belongs to two customers, for a request the identity check holds.
  const registry = await registryOf([
    { id: 'paper', driver: 'manual', display_name: 'Paper archive' },
    { id: 'shop', driver: 'memory', settings: { streams: [{ name: 'customers', match: { email: 'email', phone: 'phone' }, records: [{ id: 1, email: 'a1@example.com', phone: PHONE }, { id: 2, email: 'a2@example.com', phone: PHONE }] }] } }
  ])
  const smtp = await startSmtp(t)
  const app = await build(t, { registry, apiKeys: consoleKeys(), env: { TASK_POLL_SECONDS: '0.5', SMTP_URL: smtp.url } })
  const create = async (over: Record<string, unknown>) =>
    (await app.inject({ method: 'POST', url: '/v1/requests', headers: auth(), payload: requestBody(over) })).json<{ id: string }>().id
  // The most urgent: received 40 days ago under the GDPR (a month), so overdue, and verified: its manual task waits.
  const urgent = await create({ subject: { email: 'urgent@example.com' }, received_at: new Date(Date.now() - 40 * DAY).toISOString(), verification: { method: 'account_login' } })
  const toReject = await create({ subject: { email: 'excessive@example.com' } })
  await create({ subject: { email: 'later@example.com' }, regime: 'ccpa' })
  await waitFor(async () => {
    const r = (await app.inject({ url: `/v1/requests/${urgent}`, headers: auth() })).json<{ tasks: Array<{ status: string }> }>()
    return r.tasks.some((x) => x.status === 'manual')
  }, 30_000, 'the manual task')
  // Some health history for the connectors page's chart.
  for (let i = 0; i < 3; i++) await app.inject({ url: '/v1/connectors/paper/health?live=true', headers: auth() })
  const base = await app.listen({ host: '127.0.0.1', port: 0 })

  const page = await openPage(t)
  await mkdir(SCREENSHOTS, { recursive: true })
  const shot = (name: string) => page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true })

  t.test('an operator signs in, completes the most urgent request\'s manual task, rejects another, and sees both in the trails', async (t) => {
    await page.goto(`${base}/console`)
    t.match(page.url(), /\/console\/sign-in$/, 'sent to sign in')
    await shot('1-sign-in')
    await page.fill('#key', OPERATOR_KEY)
    await page.click('button[type=submit]')
    t.match(page.url(), /\/console$/, 'the queue after signing in')
    const rows = await page.$$eval('tr[data-request]', (trs) => trs.map((tr) => ({ id: tr.getAttribute('data-request'), overdue: tr.classList.contains('overdue') })))
    t.equal(rows.length, 3, 'three open requests')
    t.strictSame(rows[0], { id: urgent, overdue: true }, 'the overdue one first')
    await shot('2-queue')

    await page.click(`tr[data-request="${urgent}"] a`)
    t.match(page.url(), new RegExp(`/console/requests/${urgent}$`))
    await shot('3-request')
    await page.fill('textarea[name=note]', 'Copied the paper file and sent it to the person')
    await page.fill('input[name=evidence_ref]', 'TICKET-42')
    await page.click('article[data-task] form[action$="/complete"] button[type=submit]')
    t.match(page.url(), new RegExp(`/console/requests/${urgent}$`), 'back on the request')
    t.equal(await page.getAttribute('article[data-task]', 'data-task-status'), 'succeeded', 'the task succeeded')
    t.ok(await page.$('tr[data-action="task_completed_manually"]'), 'the completion is in the trail')
    t.equal(await page.getAttribute('[data-chain]', 'data-chain'), 'ok', 'the chain verifies')
    await shot('4-task-completed')

    await page.click('a[href="/console"]')
    await page.click(`tr[data-request="${toReject}"] a`)
    await page.selectOption('#reject-ground', 'manifestly_unfounded_or_excessive')
    await page.fill('#reject-explanation', 'The fifth identical request this month; you may complain to the supervisory authority.')
    // The console's script asks before a rejection is sent.
    const asked: string[] = []
    page.once('dialog', (d) => { asked.push(d.message()); void d.accept() })
    await page.click('form[action$="/reject"] button[type=submit]')
    t.match(asked, [/Reject this request/], 'asked to confirm')
    t.equal((await page.textContent('[data-status]'))?.trim(), 'rejected')
    t.match(await page.textContent('[data-refusal]'), /manifestly_unfounded_or_excessive/)
    const trail = await page.$$eval('tr[data-action]', (trs) => trs.map((tr) => tr.textContent ?? ''))
    t.ok(trail.some((x) => /operator/.test(x) && /rejected/.test(x)), 'the rejection, by the operator, in the trail')
    await shot('5-rejected')

    const events = (await app.inject({ url: `/v1/requests/${urgent}/events`, headers: auth() })).json<{ data: Array<{ action: string, actor: string }> }>().data
    t.match(events.find((e) => e.action === 'task_completed_manually'), { actor: 'operator' }, 'the API reads the same trail')
  })

  /** axe-core on a page as `load` leaves it, at 1280 and 375 px wide: no violations, and nothing scrolls sideways. */
  const accessible = async (t: Test, name: string, load: () => Promise<unknown>) => {
    for (const width of [1280, 375]) {
      await page.setViewportSize({ width, height: 900 })
      await load()
      await checkAccessible(t, page, axe, `${name} at ${width} px`)
      await shot(`${name}-${width}`)
    }
  }

  t.test('axe-core finds no accessibility violations on the sign-in page, the queue, requests, the connectors and the audit trail; nothing scrolls sideways at 375 px', async (t) => {
    // An erasure not yet verified, with the extension taken (the person not told yet) and a part of a
    // managed account waiting; and an access request whose manual task waits, which can be refused.
    const erasure = await create({ type: 'erasure', subject: { email: 'erase@example.com' } })
    t.equal((await app.inject({ method: 'POST', url: `/v1/requests/${erasure}/extension`, headers: auth(), payload: { reason: 'Three archives to search' } })).statusCode, 200)
    await app.inject({ method: 'PUT', url: '/v1/accounts/northwind', headers: auth(), payload: { name: 'Northwind Traders', managed: true, admins: [{ email: 'it@northwind.example' }] } })
    await app.dbh.transaction((tx) => createAccountsRepository(app.dbh).addParts([{ requestId: erasure, accountId: 'northwind', connectors: ['paper'], dueAt: new Date(Date.now() + 10 * DAY) }], tx))
    const refusable = await create({ subject: { email: 'refusable@example.com' }, verification: { method: 'account_login' } })
    await waitFor(async () => (await app.inject({ url: `/v1/requests/${refusable}`, headers: auth() })).json<{ tasks: Array<{ status: string }> }>().tasks.some((x) => x.status === 'manual'), 30_000, 'the manual task')

    // One waiting for the code e-mailed to the person, and one the identity check held.
    const confirming = await create({ subject: { email: 'confirming@example.com' } })
    t.equal((await app.inject({ method: 'POST', url: `/v1/requests/${confirming}/verification`, headers: auth() })).statusCode, 201)
    const held = await create({ type: 'erasure', subject: { phone: PHONE }, verification: { method: 'account_login' } })
    await waitFor(async () => (await app.inject({ url: `/v1/requests/${held}`, headers: auth() })).json<{ status: string }>().status === 'on_hold' || null, 30_000, 'the hold')

    // Signed out, to the sign-in page; then in again with a key that may do every action, so that every form is shown.
    await page.goto(`${base}/console`)
    await page.click('form.signout button[type=submit]')
    t.match(page.url(), /\/console\/sign-in$/, 'signed out')
    await accessible(t, 'sign-in', () => page.goto(`${base}/console/sign-in`))
    await page.fill('#key', KEYS.admin)
    await page.click('main button[type=submit]')
    t.match(page.url(), /\/console$/, 'signed in again')

    for (const [name, path] of [
      ['queue', '/console'], ['request', `/console/requests/${toReject}`], ['request-erasure', `/console/requests/${erasure}`],
      ['request-task', `/console/requests/${refusable}`], ['request-verification', `/console/requests/${confirming}`],
      ['request-identity', `/console/requests/${held}`], ['connectors', '/console/connectors'], ['audit', '/console/audit']
    ] as const) await accessible(t, name, () => page.goto(`${base}${path}`))
    t.ok(await page.$('[data-audit="ok"]'), 'the audit page: the trail verifies')

    await page.goto(`${base}/console/requests/${erasure}`)
    for (const form of ['/erasure-preview', '/cancel', '/extension/notice', '/controller-decision']) t.ok(await page.$(`form[action$="${form}"]`), `the erasure's page offers ${form}`)
    t.ok(await page.$('[data-part="northwind"]'), "the managed account's part")
    await page.goto(`${base}/console/requests/${confirming}`)
    for (const form of ['/verification', '/verification/confirm']) t.ok(await page.$(`form[action$="${form}"]`), `a request waiting for its code offers ${form}`)
    await page.goto(`${base}/console/requests/${held}`)
    t.ok(await page.$('form[action$="/identity/choose"]'), 'a held request offers the choice of person')
    await page.goto(`${base}/console/requests/${refusable}`)
    t.ok(await page.$('article[data-task] form[action$="/refuse"]'), 'the task offers its refusal')
    await accessible(t, 'erasure-preview', async () => {
      await page.goto(`${base}/console/requests/${erasure}`)
      await page.click('form[action$="/erasure-preview"] button[type=submit]')
      await page.waitForSelector('[data-preview]')
    })
    t.equal(await page.getAttribute('tr[data-preview-connector="paper"]', 'data-preview-status'), 'not_previewable', 'the preview, per system')
  })
}
