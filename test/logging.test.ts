import { createHash } from 'node:crypto'
import t from 'tap'
import { auth, build, KEYS, waitFor } from './helper.js'

/**
 * A subject's identifiers, and the API keys, never reach the logs: a full create/read/cancel cycle
 * plus refusals (validation, bad cursor, bad key) runs with every log line captured at trace level,
 * and no line may contain any of them. Request ids must still be there, for correlation.
 */

const EMAIL = 'zz.unique.person+dsar@example.org'
const EMAIL_AS_SENT = 'ZZ.Unique.Person+DSAR@Example.org' // normalised to EMAIL by the service
const LOCAL_PART = 'zz.unique.person+dsar'
const PHONE = '+44 7700 900 417'
const PHONE_DIGITS = '447700900417'
const CUSTOMER_ID = 'CUST-zz-8841-qx'
const EXTERNAL_ID = 'ext-zz-5538-vw'
const STRANGER_KEY = 'zz-stranger-api-key-0d5f1a9c7e3b'

/** One pino line, parsed, with its raw text. */
interface LogLine { raw: string, msg?: string, reqId?: string, res?: { statusCode?: number } }

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex')

const SECRETS: Record<string, string> = {
  'e-mail': EMAIL,
  'e-mail as sent': EMAIL_AS_SENT,
  'e-mail upper-case': EMAIL.toUpperCase(),
  'e-mail local part': LOCAL_PART,
  'e-mail URL-encoded': encodeURIComponent(EMAIL),
  'e-mail SHA-256': sha256(EMAIL),
  'phone as sent': PHONE,
  'phone E.164': `+${PHONE_DIGITS}`,
  'phone digits': PHONE_DIGITS,
  'customer id': CUSTOMER_ID,
  'external id': EXTERNAL_ID,
  'unknown API key': STRANGER_KEY,
  'unknown API key SHA-256': sha256(STRANGER_KEY),
  'writer API key': KEYS.writer,
  'reader API key': KEYS.reader
}

t.test('no subject identifier or API key appears in any log line', async (t) => {
  const logs: string[] = []
  const app = await build(t, { logs })

  // Each request carries an X-Request-Id the app adopts as its reqId, so its lines can be found.
  const sent: Array<{ reqId: string, status: number }> = []
  let n = 0
  const send = async (opts: { method?: 'GET' | 'POST', url: string, headers?: Record<string, string>, payload?: object }, reqId = `log-test-${++n}`) => {
    const res = await app.inject({
      method: opts.method ?? 'GET',
      url: opts.url,
      headers: { 'x-request-id': reqId, ...(opts.headers ?? auth('writer')) },
      ...(opts.payload === undefined ? {} : { payload: opts.payload })
    })
    sent.push({ reqId, status: res.statusCode })
    return res
  }

  const body = {
    type: 'access',
    regime: 'gdpr',
    subject: {
      email: EMAIL_AS_SENT,
      email_sha256: sha256(EMAIL),
      phone: PHONE,
      customer_id: CUSTOMER_ID,
      external_ids: [{ system: 'crm', id: EXTERNAL_ID }]
    },
    requester: { kind: 'subject', email: EMAIL },
    notes: `Asked by ${EMAIL} on ${PHONE}, customer ${CUSTOMER_ID}`
  }
  const idempotent = { ...auth('writer'), 'idempotency-key': 'log-test-key-1' }

  const created = await send({ method: 'POST', url: '/v1/requests', headers: idempotent, payload: body })
  t.equal(created.statusCode, 202)
  const id = created.json().id as string
  t.match(created.json().subject, { email: EMAIL, phone: `+${PHONE_DIGITS}`, customer_id: CUSTOMER_ID }, 'stored as normalised')

  const replay = await send({ method: 'POST', url: '/v1/requests', headers: idempotent, payload: body })
  t.equal(replay.statusCode, 202)
  t.equal(replay.headers['idempotent-replayed'], 'true')
  t.equal(replay.json().id, id)

  t.equal((await send({ url: `/v1/requests/${id}`, headers: auth('reader') })).statusCode, 200)
  const listed = await send({ url: '/v1/requests?limit=10&status=received', headers: auth('reader') })
  t.equal(listed.statusCode, 200)
  t.equal(listed.json().data[0]?.subject.email, EMAIL)
  t.equal((await send({ url: `/v1/requests/${id}/events`, headers: auth('reader') })).statusCode, 200)

  const cancelled = await send({ method: 'POST', url: `/v1/requests/${id}/cancel`, payload: { reason: `Withdrawn by ${EMAIL} (${PHONE})` } })
  t.equal(cancelled.statusCode, 200)
  t.equal(cancelled.json().status, 'cancelled')

  // Refusals, each with the identifiers somewhere in the request.
  const unknownField = await send({
    method: 'POST', url: '/v1/requests', payload: { ...body, subject: { email: EMAIL, full_name: 'Zz Person' } }
  })
  t.equal(unknownField.statusCode, 400)
  t.match(unknownField.json().details, [{ field: '/subject/full_name' }])
  const emailAsFieldName = await send({ method: 'POST', url: '/v1/requests', payload: { ...body, [EMAIL]: CUSTOMER_ID } })
  t.equal(emailAsFieldName.statusCode, 400, 'a field named after the e-mail: the refusal is logged without its message')
  const badEmail = await send({ method: 'POST', url: '/v1/requests', payload: { ...body, subject: { email: `${EMAIL} ` } } })
  t.equal(badEmail.statusCode, 400)
  const cursor = await send({ url: `/v1/requests?cursor=${encodeURIComponent(EMAIL)}`, headers: auth('reader') })
  t.equal(cursor.statusCode, 400)
  t.equal(cursor.json().code, 'DSR_INVALID_CURSOR')
  // Identifiers in the path: as an id (refused by the schema) and on an unknown route.
  const inPath = await send({ url: `/v1/requests/${encodeURIComponent(EMAIL)}`, headers: auth('reader') })
  t.equal(inPath.statusCode, 400)
  const unknownRoute = await send({ url: `/v1/subjects/${encodeURIComponent(EMAIL)}`, headers: auth('reader') })
  t.equal(unknownRoute.statusCode, 404)
  const badKey = await send({ url: '/v1/requests', headers: { authorization: `Bearer ${STRANGER_KEY}` } })
  t.equal(badKey.statusCode, 401)
  const badHeaderKey = await send({ url: '/v1/requests', headers: { 'x-api-key': STRANGER_KEY } })
  t.equal(badHeaderKey.statusCode, 401)
  // An X-Request-Id that is not id-like (here, the e-mail) is replaced by a generated id.
  const idFromEmail = await send({ url: `/v1/requests/${id}`, headers: auth('reader') }, EMAIL)
  t.equal(idFromEmail.statusCode, 200)

  // "request completed" is written on the response's finish, which can come after inject resolves:
  // wait until every request has its line.
  const lines = (): LogLine[] => logs.join('').split('\n').filter((l) => l.trim() !== '').map((raw) => ({ ...(JSON.parse(raw) as object), raw }))
  const completed = () => lines().filter((l) => l.msg === 'request completed').length
  await waitFor(async () => completed() >= sent.length, 20_000, `a "request completed" line for each of the ${sent.length} requests`)

  const all = lines()
  t.ok(all.length >= sent.length, `at least one line per request (${all.length} lines, ${sent.length} requests)`)
  t.equal(completed(), sent.length, 'a "request completed" line for every request')

  for (const [what, secret] of Object.entries(SECRETS)) {
    const leaking = all.filter((l) => l.raw.toLowerCase().includes(secret.toLowerCase()))
    t.strictSame(leaking.map((l) => l.raw), [], `no line contains the ${what}`)
  }

  // Correlation survives: every request's lines carry its reqId, from intake to completion.
  for (const { reqId, status } of sent.filter((s) => s.reqId !== EMAIL)) {
    const mine = all.filter((l) => l.reqId === reqId)
    t.ok(mine.some((l) => l.msg === 'incoming request'), `${reqId}: incoming request logged with its reqId`)
    t.ok(mine.some((l) => l.msg === 'request completed' && l.res?.statusCode === status),
      `${reqId}: completion (${status}) logged with its reqId`)
  }
  const generated = all.filter((l) => l.msg === 'incoming request' && !l.reqId?.startsWith('log-test-'))
  t.equal(generated.length, 1, 'the e-mail sent as X-Request-Id was replaced by a generated id')
  t.match(generated[0]?.reqId, /^[0-9a-f-]{36}$/)
})
