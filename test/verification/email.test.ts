import t from 'tap'
import { sql } from 'drizzle-orm'
import { auth, build, registryOf, requestBody, testDb, waitFor } from '../helper.js'
import { secretsOf, startSmtp, type Received } from './smtp.js'

const ADA = 'ada.lovelace@example.com'
const KEY = 'verification-code-key-0123456789abcdef'
const DAY = 86_400_000

/**
 * Identity verification run by the service, against a real SMTP server the test starts: the code
 * and link are read from the message it received, as the person would read them.
 */
t.test('e-mail verification', async (t) => {
  const smtp = await startSmtp(t)
  const dbh = await testDb(t)
  const logs: string[] = []
  const app = await build(t, {
    dbh,
    logs,
    registry: await registryOf([{ id: 'crm', driver: 'memory', settings: { streams: [{ name: 'contacts', match: { email: 'email' }, records: [{ id: 'c1', email: ADA }] }] } }]),
    env: { SMTP_URL: smtp.url, MAIL_FROM: 'privacy@example.test', VERIFICATION_CODE_KEY: KEY, PUBLIC_URL: 'https://dsar.example.test', VERIFICATION_TTL_MINUTES: '10080' }
  })
  const create = async (over: Record<string, unknown> = {}) => {
    const res = await app.inject({ method: 'POST', url: '/v1/requests', headers: auth('writer'), payload: requestBody({ subject: { email: ADA }, ...over }) })
    t.equal(res.statusCode, 202, 'request created')
    return res.json().id as string
  }
  const status = async (id: string) => (await app.inject({ method: 'GET', url: `/v1/requests/${id}`, headers: auth() })).json().status as string
  const events = async (id: string) => dbh.rows<{ action: string, from_status: string | null, to_status: string | null, details: Record<string, unknown> | null }>(
    sql`select action, from_status, to_status, details from request_events where request_id = ${id} order by id`)
  /** Starts a verification through the API and returns the message it sent. */
  const start = async (id: string): Promise<Received> => {
    const before = smtp.received.length
    const res = await app.inject({ method: 'POST', url: `/v1/requests/${id}/verification`, headers: auth('writer') })
    t.equal(res.statusCode, 201, 'verification started')
    t.match(res.json(), { request_id: id, channel: 'email', status: 'open', attempts: 0, max_attempts: 5 }, 'an open challenge, never its code')
    return waitFor(async () => smtp.received[before], 10_000, 'the verification e-mail')
  }
  const confirm = (id: string, code: string) =>
    app.inject({ method: 'POST', url: `/v1/requests/${id}/verification/confirm`, headers: auth('writer'), payload: { code } })

  await t.test('the code read from the received message confirms the request, and fulfilment starts', async (t) => {
    const id = await create()
    const message = await start(id)
    t.strictSame(message.to, [ADA], 'sent to the e-mail address on the request')
    t.equal(await status(id), 'verifying')
    const { code, token } = secretsOf(message)
    t.match(message.text, /https:\/\/dsar\.example\.test\/v1\/verification-links\?token=/, 'the link points at PUBLIC_URL')

    const res = await confirm(id, code)
    t.equal(res.statusCode, 200, 'the code is accepted')
    t.ok(['in_progress', 'completed'].includes(res.json().status), `fulfilment started (${res.json().status})`)
    t.equal(res.json().tasks.length, 1, 'one task planned, for the CRM')

    const trail = await events(id)
    t.strictSame(trail.filter((e) => e.action === 'transition').map((e) => `${e.from_status}>${e.to_status}`).slice(0, 3),
      ['received>verifying', 'verifying>ready', 'ready>in_progress'])
    t.strictSame(trail.map((e) => e.action).filter((a) => a.startsWith('verification_')),
      ['verification_started', 'verification_sent', 'verification_confirmed', 'verification_wait_ended'])
    const stored = JSON.stringify(await dbh.rows(sql`select * from verification_challenges where request_id = ${id}`))
    for (const secret of [code, token]) {
      t.notOk(JSON.stringify(trail).includes(secret), 'neither the code nor the token is in the audit trail')
      t.notOk(stored.includes(secret), 'nor stored in the clear')
    }
    t.equal((await confirm(id, code)).json().code, 'DSR_VERIFICATION_NOT_STARTED', 'the code is good once')
  })

  await t.test('5 wrong codes lock the verification: then even the right code is refused, until an operator starts a new one', async (t) => {
    const id = await create({ type: 'erasure' })
    const { code } = secretsOf(await start(id))
    const wrong = code === '000000' ? '111111' : '000000'
    for (let i = 1; i <= 4; i++) {
      const res = await confirm(id, wrong)
      t.equal(res.statusCode, 422)
      t.match(res.json(), { code: 'DSR_VERIFICATION_CODE_WRONG', message: `The code is wrong; ${5 - i} attempts left` })
    }
    const fifth = await confirm(id, wrong)
    t.equal(fifth.statusCode, 423)
    t.equal(fifth.json().code, 'DSR_VERIFICATION_LOCKED', 'the 5th wrong code locks')
    const right = await confirm(id, code)
    t.equal(right.statusCode, 423)
    t.equal(right.json().code, 'DSR_VERIFICATION_LOCKED', 'and the right code is refused after it')
    t.equal(await status(id), 'verifying')
    t.match((await app.inject({ method: 'GET', url: `/v1/requests/${id}/verification`, headers: auth() })).json(), { status: 'locked', attempts: 5 })

    const again = secretsOf(await start(id))
    const trail = await events(id)
    t.match(trail.find((e) => e.action === 'verification_restarted')?.details, { replaces: { status: 'locked' } }, 'the restart is audited with what it replaces')
    t.equal(trail.filter((e) => e.action === 'verification_code_wrong').length, 4)
    t.equal(trail.filter((e) => e.action === 'verification_locked').length, 1)
    t.equal((await confirm(id, again.code)).statusCode, 200, 'the new code confirms')
  })

  await t.test('the link: opening it shows a button, posting confirms once; an expired link is refused', async (t) => {
    const id = await create()
    const { token } = secretsOf(await start(id))
    const page = await app.inject({ method: 'GET', url: `/v1/verification-links?token=${token}` })
    t.equal(page.statusCode, 200)
    t.match(page.headers['content-type'], /text\/html/)
    t.equal(await status(id), 'verifying', 'opening the link confirms nothing')
    const form = await app.inject({ method: 'POST', url: `/v1/verification-links?token=${token}`, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: '' })
    t.equal(form.statusCode, 200, 'the form post is answered')
    t.match(form.body, /Your request is confirmed/, 'with a page')
    t.not(await status(id), 'verifying', 'the form post confirmed it')
    const reused = await app.inject({ method: 'POST', url: `/v1/verification-links?token=${token}` })
    t.equal(reused.json().code, 'DSR_VERIFICATION_LINK_INVALID', 'a link works once')

    // A verification sent 8 days ago: its link (valid 7 days) has expired.
    const old = await create()
    const before = smtp.received.length
    await app.verificationService.start(old, 'writer', new Date(Date.now() - 8 * DAY))
    const expired = secretsOf(await waitFor(async () => smtp.received[before], 10_000, 'the e-mail'))
    const res = await app.inject({ method: 'POST', url: `/v1/verification-links?token=${expired.token}` })
    t.equal(res.statusCode, 410)
    t.equal(res.json().code, 'DSR_VERIFICATION_EXPIRED')
    t.equal((await confirm(old, expired.code)).json().code, 'DSR_VERIFICATION_EXPIRED', 'so has its code')
    t.equal(await status(old), 'verifying')
    t.equal((await app.inject({ method: 'POST', url: `/v1/verification-links?token=${'x'.repeat(43)}` })).json().code, 'DSR_VERIFICATION_LINK_INVALID')
    t.equal((await app.inject({ method: 'POST', url: '/v1/verification-links' })).json().code, 'DSR_VERIFICATION_LINK_INCOMPLETE')
  })

  await t.test('the clock: a UK GDPR due date moves by exactly the whole days waited; a GDPR one does not', async (t) => {
    // Received Monday 1 June 2026: due Wednesday 1 July under both. Verification sent on 3 June,
    // confirmed 6 days and 3 hours later.
    const sent = new Date('2026-06-03T09:00:00Z')
    const confirmed = new Date(sent.getTime() + 6 * DAY + 3 * 3_600_000)
    const results: Record<string, { before: string, after: string }> = {}
    for (const regime of ['uk_gdpr', 'gdpr']) {
      const id = await create({ regime, received_at: '2026-06-01T10:00:00Z' })
      const before = (await app.inject({ method: 'GET', url: `/v1/requests/${id}`, headers: auth() })).json()
      const count = smtp.received.length
      await app.verificationService.start(id, 'writer', sent)
      const { code } = secretsOf(await waitFor(async () => smtp.received[count], 10_000, 'the e-mail'))
      const waiting = (await app.inject({ method: 'GET', url: `/v1/requests/${id}`, headers: auth() })).json().deadline.clock
      t.strictSame(waiting, { waiting_on_subject_since: sent.toISOString(), paused_since: regime === 'uk_gdpr' ? sent.toISOString() : null, paused_days: 0 },
        `${regime}: the request shows the wait${regime === 'uk_gdpr' ? ' and the paused clock' : ''}`)
      if (regime === 'gdpr') {
        const report = (await app.inject({ method: 'GET', url: '/v1/reports/deadlines', headers: auth() })).json()
        t.match(report.overdue.find((e: { id: string }) => e.id === id), { waiting_on_subject_since: sent.toISOString() }, 'GDPR: the wait shows in the deadline report')
      } else {
        const report = (await app.inject({ method: 'GET', url: '/v1/reports/deadlines', headers: auth() })).json()
        t.notOk([...report.overdue, ...report.due_soon].some((e: { id: string }) => e.id === id), 'UK GDPR: a paused request is not due')
      }
      await app.verificationService.confirmCode(id, code, 'writer', confirmed)
      const after = (await app.inject({ method: 'GET', url: `/v1/requests/${id}`, headers: auth() })).json()
      results[regime] = { before: before.due_at, after: after.due_at }
      t.strictSame(after.deadline.clock, { waiting_on_subject_since: null, paused_since: null, paused_days: regime === 'uk_gdpr' ? 6 : 0 }, `${regime}: the wait is over`)
      const trail = await events(id)
      if (regime === 'uk_gdpr') {
        t.ok(trail.some((e) => e.action === 'clock_paused'), 'UK GDPR: the pause is audited')
        t.match(trail.find((e) => e.action === 'clock_resumed')?.details, { paused_days: 6, total_paused_days: 6, due_at_before: before.due_at, due_at: after.due_at }, 'and the resume, with both dates')
      } else {
        t.notOk(trail.some((e) => e.action.startsWith('clock_')), 'GDPR: the clock never stopped')
        t.match(trail.find((e) => e.action === 'verification_wait_ended')?.details, { waited_days: 6, clock: 'running' })
      }
    }
    t.comment(`uk_gdpr: ${results.uk_gdpr!.before} -> ${results.uk_gdpr!.after}; gdpr: ${results.gdpr!.before} -> ${results.gdpr!.after}`)
    t.equal(results.uk_gdpr!.before, '2026-07-01T23:59:59.999Z')
    t.equal(Date.parse(results.uk_gdpr!.after) - Date.parse(results.uk_gdpr!.before), 6 * DAY, 'UK GDPR: the due date moved by exactly 6 days')
    t.equal(results.uk_gdpr!.after, '2026-07-07T23:59:59.999Z')
    t.equal(results.gdpr!.after, results.gdpr!.before, 'GDPR: the due date did not move')
  })

  await t.test("an operator's attestation ends the wait too, and voids the code and link still out", async (t) => {
    const id = await create()
    const { code, token } = secretsOf(await start(id))
    const attested = await app.inject({ method: 'POST', url: `/v1/requests/${id}/verify`, headers: auth('writer'), payload: { method: 'document_check' } })
    t.equal(attested.statusCode, 200, 'attested')
    t.equal((await app.inject({ method: 'GET', url: `/v1/requests/${id}/verification`, headers: auth() })).json().status, 'superseded')
    t.equal((await confirm(id, code)).json().code, 'DSR_VERIFICATION_NOT_STARTED', 'the code is void')
    t.equal((await app.inject({ method: 'POST', url: `/v1/verification-links?token=${token}` })).json().code, 'DSR_VERIFICATION_LINK_INVALID', 'so is the link')
  })

  await t.test('no code, token or address reaches the logs (trace level)', async (t) => {
    t.ok(logs.length > 50, `${logs.length} log lines`)
    const secrets = smtp.received.flatMap((m) => { const s = secretsOf(m); return [s.code, s.token] })
    t.ok(secrets.length >= 16, `${secrets.length} codes and tokens sent`)
    t.strictSame(secrets.filter((s) => logs.some((l) => l.includes(s))), [], 'none is logged')
    t.notOk(logs.some((l) => l.includes(ADA)), 'nor the address')
  })
})

t.test('without SMTP_URL (the zero-setup run), starting a verification is a coded 409; attestation works as before', async (t) => {
  const app = await build(t)
  const res = await app.inject({ method: 'POST', url: '/v1/requests', headers: auth('writer'), payload: requestBody() })
  const id = res.json().id as string
  const start = await app.inject({ method: 'POST', url: `/v1/requests/${id}/verification`, headers: auth('writer') })
  t.equal(start.statusCode, 409)
  t.equal(start.json().code, 'DSR_NOTIFIER_NOT_CONFIGURED')
  const attested = await app.inject({ method: 'POST', url: `/v1/requests/${id}/verify`, headers: auth('writer'), payload: { method: 'account_login' } })
  t.equal(attested.statusCode, 200)
  t.equal(attested.json().status, 'ready')
})
