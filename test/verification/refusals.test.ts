import t from 'tap'
import { SMTPServer } from 'smtp-server'
import type { AddressInfo } from 'node:net'
import { sql } from 'drizzle-orm'
import { auth, build, requestBody, testDb } from '../helper.js'
import { ConfigError, loadConfig } from '../../src/config.js'

/** What starting a verification refuses, each with its code, and a relay that refuses the message. */
t.test('starting a verification: refusals', async (t) => {
  // A real SMTP server that refuses every recipient.
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onRcptTo (_address, _session, callback) { callback(Object.assign(new Error('mailbox unavailable'), { responseCode: 550 })) }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const dbh = await testDb(t)
  const app = await build(t, { dbh, env: { SMTP_URL: `smtp://127.0.0.1:${(server.server.address() as AddressInfo).port}` } })
  const create = async (over: Record<string, unknown>) =>
    (await app.inject({ method: 'POST', url: '/v1/requests', headers: auth('writer'), payload: requestBody(over) })).json().id as string
  const start = (id: string) => app.inject({ method: 'POST', url: `/v1/requests/${id}/verification`, headers: auth('writer') })

  const refused = await create({})
  const res = await start(refused)
  t.equal(res.statusCode, 502)
  t.equal(res.json().code, 'DSR_NOTIFIER_FAILED', 'a relay that refuses the message: 502 DSR_NOTIFIER_FAILED')
  t.match(res.json().message, /SMTP 550/, 'with the relay\'s answer, and nothing personal')
  t.notOk(res.body.includes('ada.lovelace'))
  const [failed] = await dbh.rows<{ details: Record<string, unknown> }>(sql`
    select details from request_events where request_id = ${refused} and action = 'verification_send_failed'`)
  t.match(failed?.details, { reason: /SMTP 550/ }, 'recorded on the trail')

  const noEmail = await create({ subject: { customer_id: 'C-1' } })
  const none = await start(noEmail)
  t.equal(none.statusCode, 422)
  t.equal(none.json().code, 'DSR_VERIFICATION_NO_EMAIL', 'no e-mail address on the request: 422')

  const verified = await create({ verification: { method: 'account_login' } })
  const late = await start(verified)
  t.equal(late.statusCode, 409)
  t.equal(late.json().code, 'DSR_ILLEGAL_TRANSITION', 'a request already verified cannot wait in verifying')

  const missing = await start('00000000-0000-4000-8000-000000000000')
  t.equal(missing.json().code, 'DSR_REQUEST_NOT_FOUND')
  const notStarted = await app.inject({ method: 'POST', url: `/v1/requests/${noEmail}/verification/confirm`, headers: auth('writer'), payload: { code: '123456' } })
  t.equal(notStarted.json().code, 'DSR_VERIFICATION_NOT_STARTED', 'a code for a request never sent one')
  const badCode = await app.inject({ method: 'POST', url: `/v1/requests/${noEmail}/verification/confirm`, headers: auth('writer'), payload: { code: '12345' } })
  t.equal(badCode.json().code, 'DSR_VALIDATION_FAILED', 'a code is six digits')
})

t.test('the settings: SMTP_URL and VERIFICATION_CODE_KEY are checked, and never echoed', async (t) => {
  const err = t.throws(() => loadConfig({ SMTP_URL: 'http://user:hunter2@mail.example.com', VERIFICATION_CODE_KEY: 'short-secret' })) as ConfigError
  t.type(err, ConfigError)
  t.match(err.message, /SMTP_URL: must be an smtp:\/\/ or smtps:\/\/ URL/)
  t.match(err.message, /VERIFICATION_CODE_KEY: must be at least 32 characters/)
  t.notOk(err.message.includes('hunter2') || err.message.includes('short-secret'), 'neither value is in the message')
  t.match(loadConfig({ SMTP_URL: 'smtps://u:p@mail.example.com:465' }), { SMTP_URL: 'smtps://u:p@mail.example.com:465', VERIFICATION_MAX_ATTEMPTS: 5, VERIFICATION_TIMEOUT_DAYS: 7 })
})
