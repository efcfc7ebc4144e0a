import { readFileSync } from 'node:fs'
import t, { type Test } from 'tap'
import { sql } from 'drizzle-orm'
import { auth, build, requestBody } from '../helper.js'
import { loadConfig } from '../../src/config.js'
import { fromRoot } from '../paths.js'

/**
 * Malformed input, as a table: every case must be refused with a 4xx in the service's error shape
 * (never a 5xx, never Fastify's own shape), validation failures must name the offending field, and
 * nothing may be written to the database.
 */

type Part = 'body' | 'querystring' | 'params' | 'headers'

interface Case {
  name: string
  method: 'GET' | 'POST'
  /** `:id` is replaced by the id of the request the case is sent at. */
  url: string
  headers: Record<string, string>
  /** Sent byte for byte; undefined sends no body. */
  payload?: string
  expect: { status: number, code: string, field?: string, in?: Part }
}

const W = auth('writer')
const JSON_HEADERS = { ...W, 'content-type': 'application/json' }
const json = (v: unknown) => JSON.stringify(v)
const body = (over: Record<string, unknown> = {}) => json(requestBody(over))
const subject = (s: Record<string, unknown>) => body({ subject: s })

const invalid = (field: string, part: Part = 'body') => ({ status: 400, code: 'DSR_VALIDATION_FAILED', field, in: part })
const INVALID_JSON = { status: 400, code: 'DSR_INVALID_JSON' }
const UNSUPPORTED = { status: 415, code: 'DSR_UNSUPPORTED_MEDIA_TYPE' }
const UNSUPPORTED_CHARSET = { status: 415, code: 'DSR_UNSUPPORTED_CHARSET' }
const TOO_DEEP = { status: 400, code: 'DSR_NESTING_TOO_DEEP' }
/** A rectification whose one change has `value` as written (raw JSON), and `more` raw members. */
const RECTIFY_WITH = (value: string, more = '') =>
  `{"type":"rectification","regime":"gdpr","subject":{"email":"ada@example.com"},"changes":[{"field":"phone","value":${value}}]${more}}`

/** POST /v1/requests with a raw JSON payload. */
const post = (name: string, payload: string, expect: Case['expect'], headers: Record<string, string> = JSON_HEADERS): Case =>
  ({ name, method: 'POST', url: '/v1/requests', headers, payload, expect })
/** GET /v1/requests with a raw query string. */
const list = (name: string, query: string, expect: Case['expect']): Case =>
  ({ name, method: 'GET', url: `/v1/requests?${query}`, headers: W, expect })
/** POST /v1/requests/:id/cancel. */
const cancel = (name: string, payload: string | undefined, expect: Case['expect'], headers: Record<string, string> = JSON_HEADERS): Case =>
  ({ name, method: 'POST', url: '/v1/requests/:id/cancel', headers, ...(payload === undefined ? {} : { payload }), expect })

const future = new Date(Date.now() + 3_600_000).toISOString()
const longEmail = 'a'.repeat(64) + '@' + ('b'.repeat(63) + '.').repeat(3) + 'com' // 260 characters
const cursorOf = (text: string) => Buffer.from(text).toString('base64url')

const createCases: Case[] = [
  // Wrong JSON types, one per field.
  post('type is a number', body({ type: 5 }), invalid('/type')),
  post('type is null', body({ type: null }), invalid('/type')),
  post('subject is a string', body({ subject: 'x' }), invalid('/subject')),
  post('subject is an array', body({ subject: [{ email: 'ada@example.com' }] }), invalid('/subject')),
  post('regime is a boolean', body({ regime: true }), invalid('/regime')),
  post('jurisdiction is a number', body({ jurisdiction: 49 }), invalid('/jurisdiction')),
  post('received_at is epoch seconds', body({ received_at: 1700000000 }), invalid('/received_at')),
  post('time_zone is an array', body({ time_zone: ['UTC'] }), invalid('/time_zone')),
  post('channel is an object', body({ channel: {} }), invalid('/channel')),
  post('requester is a string', body({ requester: 'self' }), invalid('/requester')),
  post('requester is an array', body({ requester: [{ kind: 'subject' }] }), invalid('/requester')),
  post('callback_url is a boolean', body({ callback_url: false }), invalid('/callback_url')),
  post('changes is an object', body({ type: 'rectification', changes: { field: 'a', value: 'b' } }), invalid('/changes')),
  post('changes item is a string', body({ type: 'rectification', changes: ['last_name'] }), invalid('/changes/0')),
  post('changes field is a number', body({ type: 'rectification', changes: [{ field: 7, value: 'x' }] }), invalid('/changes/0/field')),
  post('changes value is an object', body({ type: 'rectification', changes: [{ field: 'a', value: { x: 1 } }] }), invalid('/changes/0/value')),
  post('notes is a number', body({ notes: 123 }), invalid('/notes')),
  post('subject.email is a number', subject({ email: 42 }), invalid('/subject/email')),
  post('subject.phone is a number', subject({ phone: 4930123456 }), invalid('/subject/phone')),
  post('subject.customer_id is a number', subject({ customer_id: 12345 }), invalid('/subject/customer_id')),
  post('subject.external_ids is an object', subject({ external_ids: { system: 'crm', id: '1' } }), invalid('/subject/external_ids')),
  post('external_ids item id is a number', subject({ external_ids: [{ system: 'crm', id: 5 }] }), invalid('/subject/external_ids/0/id')),
  post('subject.email_sha256 is a boolean', subject({ email_sha256: true }), invalid('/subject/email_sha256')),
  post('requester.name is a boolean', body({ requester: { kind: 'authorised_agent', name: true } }), invalid('/requester/name')),
  post('requester.kind is a number', body({ requester: { kind: 1 } }), invalid('/requester/kind')),

  // Unknown fields are refused, never stripped.
  post('unknown top-level field', body({ priority: 'high' }), invalid('/priority')),
  post('unknown subject field', subject({ email: 'ada@example.com', name: 'Ada' }), invalid('/subject/name')),
  post('unknown requester field', body({ requester: { kind: 'subject', phone: '+441234567890' } }), invalid('/requester/phone')),
  post('unknown external_ids item field', subject({ external_ids: [{ system: 'crm', id: '1', type: 'x' }] }),
    invalid('/subject/external_ids/0/type')),
  post('unknown changes item field', body({ type: 'rectification', changes: [{ field: 'a', value: 'b', old_value: 'c' }] }),
    invalid('/changes/0/old_value')),

  // Oversized strings and arrays.
  post('notes over 4000 characters', body({ notes: 'n'.repeat(4001) }), invalid('/notes')),
  post('customer_id over 256 characters', subject({ customer_id: 'c'.repeat(257) }), invalid('/subject/customer_id')),
  post('email over 254 characters', subject({ email: longEmail }), invalid('/subject/email')),
  post('callback_url over 2048 characters', body({ callback_url: 'https://example.com/' + 'a'.repeat(2040) }), invalid('/callback_url')),
  post('requester.name over 200 characters', body({ requester: { kind: 'authorised_agent', name: 'n'.repeat(201) } }), invalid('/requester/name')),
  post('more than 20 external ids', subject({ external_ids: Array.from({ length: 21 }, (_, i) => ({ system: 'crm', id: String(i) })) }),
    invalid('/subject/external_ids')),
  post('idempotency-key header over 255 characters', body(), invalid('/idempotency-key', 'headers'),
    { ...JSON_HEADERS, 'idempotency-key': 'k'.repeat(256) }),
  post('idempotency-key header with a space', body(), invalid('/idempotency-key', 'headers'),
    { ...JSON_HEADERS, 'idempotency-key': 'order 1' }),

  // Invalid e-mails.
  post('email without @', subject({ email: 'plainaddress' }), invalid('/subject/email')),
  post('email with two @', subject({ email: 'ada@@example.com' }), invalid('/subject/email')),
  post('email without local part', subject({ email: '@example.com' }), invalid('/subject/email')),
  post('email without domain', subject({ email: 'ada@' }), invalid('/subject/email')),
  post('email with a space', subject({ email: 'ada lovelace@example.com' }), invalid('/subject/email')),
  post('email empty', subject({ email: '' }), invalid('/subject/email')),
  post('requester email invalid', body({ requester: { kind: 'authorised_agent', name: 'A', email: 'not-an-email' } }), invalid('/requester/email')),

  // Invalid phones.
  post('phone without +', subject({ phone: '0049 30 123456' }), invalid('/subject/phone')),
  post('phone with country code 0', subject({ phone: '+0 123 456 789' }), invalid('/subject/phone')),
  post('phone with letters', subject({ phone: '+44 (0) abc def' }), invalid('/subject/phone')),
  post('phone of punctuation only', subject({ phone: '+1 () - ()' }), invalid('/subject/phone')),
  post('phone with 19 digits', subject({ phone: '+1234567890123456789' }), invalid('/subject/phone')),

  // Bad enums.
  post('unknown type', body({ type: 'delete_everything' }), invalid('/type')),
  post('regime in upper case', body({ regime: 'GDPR' }), invalid('/regime')),
  post('unknown channel', body({ channel: 'fax' }), invalid('/channel')),
  post('unknown requester kind', body({ requester: { kind: 'lawyer', name: 'L' } }), invalid('/requester/kind')),

  // Bad formats.
  post('received_at not a date-time', body({ received_at: 'yesterday' }), invalid('/received_at')),
  post('received_at on 30 February', body({ received_at: '2026-02-30T10:00:00Z' }), invalid('/received_at')),
  post('received_at without an offset', body({ received_at: '2026-01-31T10:00:00' }), invalid('/received_at')),
  post('received_at on a leap second', body({ received_at: '2016-12-31T23:59:60Z' }), invalid('/received_at')),
  post('received_at in year 0001', body({ received_at: '0001-01-01T00:00:00Z' }), invalid('/received_at')),
  post('received_at over 3 years ago', body({ received_at: new Date(Date.now() - 1100 * 86_400_000).toISOString() }), invalid('/received_at')),
  post('received_at in year 0000', body({ received_at: '0000-01-01T00:00:00Z' }), invalid('/received_at')),
  post('time_zone Mars/Olympus', body({ time_zone: 'Mars/Olympus' }), invalid('/time_zone')),
  post('time_zone over 64 characters', body({ time_zone: 'Europe/' + 'x'.repeat(60) }), invalid('/time_zone')),
  post('jurisdiction germany', body({ jurisdiction: 'germany' }), invalid('/jurisdiction')),
  post('callback_url ftp', body({ callback_url: 'ftp://x' }), invalid('/callback_url')),
  post('callback_url not a url', body({ callback_url: 'not a url' }), invalid('/callback_url')),
  post('email_sha256 not hex', subject({ email_sha256: 'z'.repeat(64) }), invalid('/subject/email_sha256')),
  post('email_sha256 of 63 characters', subject({ email_sha256: 'a'.repeat(63) }), invalid('/subject/email_sha256')),
  post('phone_sha256 upper-case hex', subject({ phone_sha256: 'A'.repeat(64) }), invalid('/subject/phone_sha256')),
  post('external id system with spaces', subject({ external_ids: [{ system: 'CRM System', id: '1' }] }),
    invalid('/subject/external_ids/0/system')),
  post('changes field with punctuation', body({ type: 'rectification', changes: [{ field: 'last name!', value: 'x' }] }),
    invalid('/changes/0/field')),

  // Empty and missing.
  post('empty subject', body({ subject: {} }), invalid('/subject')),
  post('empty external_ids', subject({ external_ids: [] }), invalid('/subject/external_ids')),
  post('empty customer_id', subject({ customer_id: '' }), invalid('/subject/customer_id')),
  post('missing type', json({ subject: { email: 'ada@example.com' }, regime: 'gdpr' }), invalid('/type')),
  post('missing subject', json({ type: 'access', regime: 'gdpr' }), invalid('/subject')),
  post('missing regime', json({ type: 'access', subject: { email: 'ada@example.com' } }), invalid('/regime')),
  post('empty object', '{}', invalid('/type')),

  // Strings the database cannot store.
  post('NUL in notes', body({ notes: 'a\u0000b' }), invalid('/notes')),
  post('unpaired surrogate in customer_id', '{"type":"access","regime":"gdpr","subject":{"customer_id":"\\ud800"}}', invalid('/subject/customer_id')),

  // Numbers JSON.parse overflows to ±Infinity: refused, never stored as null.
  post('changes value 1e400', RECTIFY_WITH('1e400'), invalid('/changes/0/value')),
  post('changes value -1e400', RECTIFY_WITH('-1e400'), invalid('/changes/0/value')),
  post('changes value 1e400, verified at intake', RECTIFY_WITH('1e400', ',"verification":{"method":"account_login"}'), invalid('/changes/0/value')),

  // Nesting past MAX_JSON_DEPTH, refused before parsing (a 20,000-level array overflowed the stack).
  post('20,000-level array', '['.repeat(20_000) + ']'.repeat(20_000), TOO_DEEP),
  post('20,000-level array in notes', `{"type":"access","regime":"gdpr","subject":{"email":"ada@example.com"},"notes":${'['.repeat(20_000)}${']'.repeat(20_000)}}`, TOO_DEEP),
  post('10,000-level object', '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000), TOO_DEEP),
  post('33 levels', '['.repeat(33) + ']'.repeat(33), TOO_DEEP),

  // Not JSON.
  post('truncated JSON', '{"type":"access","subject":{"email":"ada@example.com"', INVALID_JSON),
  post('trailing comma', '{"type":"access","regime":"gdpr","subject":{"email":"ada@example.com"},}', INVALID_JSON),
  post('single quotes', "{'type':'access','regime':'gdpr','subject':{'email':'ada@example.com'}}", INVALID_JSON),
  post('NaN', '{"type":"access","regime":"gdpr","subject":{"email":"ada@example.com"},"notes":NaN}', INVALID_JSON),
  post('form-encoded text sent as JSON', 'type=access&regime=gdpr', INVALID_JSON),
  post('whitespace only', '   ', INVALID_JSON),
  post('__proto__ key', '{"__proto__":{"admin":true},"type":"access","regime":"gdpr","subject":{"email":"ada@example.com"}}', INVALID_JSON),
  post('constructor.prototype key', '{"constructor":{"prototype":{"admin":true}},"type":"access"}', INVALID_JSON),
  post('empty body', '', { status: 400, code: 'DSR_EMPTY_BODY' }),

  // JSON, but not an object.
  post('null body', 'null', invalid('/')),
  post('array body', json([requestBody()]), invalid('/')),
  post('string body', '"access"', invalid('/')),
  post('number body', '42', invalid('/')),

  // Not JSON at all.
  post('text/plain', body(), UNSUPPORTED, { ...W, 'content-type': 'text/plain' }),
  post('form-urlencoded', 'type=access&regime=gdpr&subject=ada', UNSUPPORTED, { ...W, 'content-type': 'application/x-www-form-urlencoded' }),
  post('multipart', '--b\r\nContent-Disposition: form-data; name="type"\r\n\r\naccess\r\n--b--\r\n', UNSUPPORTED,
    { ...W, 'content-type': 'multipart/form-data; boundary=b' }),
  post('application/xml', '<request><type>access</type></request>', UNSUPPORTED, { ...W, 'content-type': 'application/xml' }),
  post('no content-type', body(), UNSUPPORTED, W),
  post('charset=utf-16', body(), UNSUPPORTED_CHARSET, { ...W, 'content-type': 'application/json; charset=utf-16' }),
  post('charset=UTF-16LE in UTF-16', Buffer.from(body(), 'utf16le').toString('latin1'), UNSUPPORTED_CHARSET, { ...W, 'content-type': 'application/json;charset="UTF-16LE"' }),
  post('charset=iso-8859-1', body(), UNSUPPORTED_CHARSET, { ...W, 'content-type': 'application/json; charset=iso-8859-1' }),

  // Too large: 200 KB of notes against a 64 KB body limit.
  post('200 KB body', body({ notes: 'x'.repeat(200_000) }), { status: 413, code: 'DSR_PAYLOAD_TOO_LARGE' }),

  // Valid JSON Schema, refused by the rules that span fields.
  post('received_at in the future', body({ received_at: future }), invalid('/received_at')),
  post('rectification without changes', body({ type: 'rectification' }), invalid('/changes')),
  post('changes on an erasure', body({ type: 'erasure', changes: [{ field: 'last_name', value: 'King' }] }), invalid('/changes')),
  post('agent without a name', body({ requester: { kind: 'authorised_agent' } }), invalid('/requester')),
  post('email_sha256 not of the email', subject({ email: 'ada@example.com', email_sha256: 'a'.repeat(64) }), invalid('/subject/email_sha256'))
]

const queryCases: Case[] = [
  list('limit=0', 'limit=0', invalid('/limit', 'querystring')),
  list('limit=1000', 'limit=1000', invalid('/limit', 'querystring')),
  list('limit=abc', 'limit=abc', invalid('/limit', 'querystring')),
  list('limit=-5', 'limit=-5', invalid('/limit', 'querystring')),
  list('limit=1.5', 'limit=1.5', invalid('/limit', 'querystring')),
  list('status=nope', 'status=nope', invalid('/status/0', 'querystring')),
  list('type=everything', 'type=everything', invalid('/type/0', 'querystring')),
  list('eleven statuses', Array(11).fill('status=received').join('&'), invalid('/status', 'querystring')),
  list('overdue=maybe', 'overdue=maybe', invalid('/overdue', 'querystring')),
  list('due_before=yesterday', 'due_before=yesterday', invalid('/due_before', 'querystring')),
  list('due_after in month 13', 'due_after=2026-13-01T00:00:00Z', invalid('/due_after', 'querystring')),
  list('due_before in year 0000', 'due_before=0000-01-01T00:00:00Z', invalid('/due_before', 'querystring')),
  list('cursor=garbage', 'cursor=garbage', { status: 400, code: 'DSR_INVALID_CURSOR' }),
  list('cursor with a negative position', `cursor=${cursorOf('v1:-1')}`, { status: 400, code: 'DSR_INVALID_CURSOR' }),
  list('cursor over 200 characters', `cursor=${'a'.repeat(201)}`, invalid('/cursor', 'querystring')),
  list('unknown query parameter', 'foo=bar', invalid('/foo', 'querystring'))
]

const pathCases: Case[] = [
  { name: 'GET a bad uuid', method: 'GET', url: '/v1/requests/not-a-uuid', headers: W, expect: invalid('/id', 'params') },
  { name: 'GET events of a bad uuid', method: 'GET', url: '/v1/requests/not-a-uuid/events', headers: W, expect: invalid('/id', 'params') },
  {
    name: 'cancel a bad uuid',
    method: 'POST',
    url: '/v1/requests/not-a-uuid/cancel',
    headers: JSON_HEADERS,
    payload: json({ reason: 'duplicate' }),
    expect: invalid('/id', 'params')
  },
  { name: 'malformed %-escape in the path', method: 'GET', url: '/v1/requests/%E0%A4%A', headers: W, expect: { status: 400, code: 'DSR_BAD_REQUEST' } },
  { name: 'path parameter over the length limit', method: 'GET', url: `/v1/requests/${'a'.repeat(120)}`, headers: W, expect: { status: 414, code: 'DSR_BAD_REQUEST' } }
]

const cancelCases: Case[] = [
  cancel('cancel without a reason', '{}', invalid('/reason')),
  cancel('cancel with an empty reason', json({ reason: '' }), invalid('/reason')),
  cancel('cancel with a reason over 1000 characters', json({ reason: 'r'.repeat(1001) }), invalid('/reason')),
  cancel('cancel with an extra field', json({ reason: 'duplicate', force: true }), invalid('/force')),
  cancel('cancel with a numeric reason', json({ reason: 5 }), invalid('/reason')),
  cancel('cancel with a NUL in the reason', json({ reason: 'dup\u0000licate' }), invalid('/reason')),
  cancel('cancel with a null body', 'null', invalid('/')),
  cancel('cancel with no body at all', undefined, invalid('/'), W),
  cancel('cancel with invalid JSON', '{"reason":', INVALID_JSON),
  cancel('cancel with an empty body', '', { status: 400, code: 'DSR_EMPTY_BODY' }),
  cancel('cancel with a 20,000-level array', '['.repeat(20_000) + ']'.repeat(20_000), TOO_DEEP),
  cancel('cancel in UTF-16', json({ reason: 'duplicate' }), UNSUPPORTED_CHARSET, { ...W, 'content-type': 'application/json; charset=utf-16' }),
  cancel('cancel as text/plain', json({ reason: 'duplicate' }), UNSUPPORTED, { ...W, 'content-type': 'text/plain' })
]

const cases: Case[] = [...createCases, ...queryCases, ...pathCases, ...cancelCases]

const ERROR_KEYS = new Set(['type', 'title', 'status', 'detail', 'statusCode', 'code', 'message', 'details'])
const PARTS = new Set(['body', 'querystring', 'params', 'headers'])

type Inject = (opts: { method: Case['method'], url: string, headers: Record<string, string>, payload?: string }) =>
Promise<{ statusCode: number, headers: Record<string, unknown>, body: string }>

/** Sends one case and checks the refusal: a 4xx in the error shape, with the expected code and field. */
async function check (t: Test, inject: Inject, c: Case, id: string) {
  const res = await inject({
    method: c.method,
    url: c.url.replace(':id', id),
    headers: c.headers,
    ...(c.payload === undefined ? {} : { payload: c.payload })
  })
  t.ok(res.statusCode >= 400 && res.statusCode < 500, `4xx, never 5xx (got ${res.statusCode})`)
  t.equal(res.statusCode, c.expect.status, 'expected status')
  t.match(String(res.headers['content-type']), /^application\/problem\+json/, 'an RFC 9457 problem body')
  let err: Record<string, unknown>
  try {
    err = JSON.parse(res.body) as Record<string, unknown>
  } catch {
    t.fail('the error body is JSON')
    return
  }
  t.match(err, { statusCode: res.statusCode, code: /^DSR_[A-Z_]+$/, message: String }, 'error shape')
  t.match(err, { type: `/errors/${String(err.code)}`, title: String, status: res.statusCode, detail: err.message }, 'the problem members (RFC 9457) agree with it')
  t.ok(typeof err.message === 'string' && err.message.length > 0, 'a message')
  t.strictSame(Object.keys(err).filter((k) => !ERROR_KEYS.has(k)), [], 'no other keys')
  t.equal(err.code, c.expect.code, 'expected code')

  if (err.code === 'DSR_VALIDATION_FAILED') {
    const details = err.details as Array<{ in: string, field: string, message: string }> | undefined
    t.ok(Array.isArray(details) && details.length > 0, 'validation errors carry details')
    for (const d of details ?? []) {
      t.ok(PARTS.has(d.in), `detail names the request part (${d.in})`)
      t.match(d.field, /^\//, 'detail names a field as a JSON pointer')
      t.ok(typeof d.message === 'string' && d.message.length > 0, 'detail says what is wrong')
    }
    if (c.expect.field !== undefined) {
      const named = (details ?? []).filter((d) => d.field === c.expect.field)
      t.ok(named.length > 0, `details name ${c.expect.field}`, { found: details?.map((d) => d.field) })
      if (c.expect.in) t.ok(named.some((d) => d.in === c.expect.in), `… in ${c.expect.in}`)
    }
  } else {
    t.equal(err.details, undefined, 'only validation errors carry details')
  }
}

const count = async (app: Awaited<ReturnType<typeof build>>, table: 'requests' | 'request_events') =>
  (await app.dbh.rows<{ n: number }>(sql`select count(*)::int as n from ${sql.identifier(table)}`))[0]?.n

t.ok(cases.length >= 60, `${cases.length} malformed cases`)
t.equal(new Set(cases.map((c) => c.name)).size, cases.length, 'case names are unique')

t.test('every malformed request is refused and nothing is written', async (t) => {
  const app = await build(t)
  // Cancel cases here target an id that does not exist: validation must refuse them before any lookup.
  const missing = '00000000-0000-4000-8000-000000000000'
  for (const c of cases) await t.test(c.name, (t) => check(t, app.inject.bind(app) as Inject, c, missing))
  t.equal(await count(app, 'requests'), 0, 'no request was stored')
  t.equal(await count(app, 'request_events'), 0, 'no event was stored')
})

t.test('malformed cancels leave an existing request as it was', async (t) => {
  const app = await build(t)
  const created = await app.inject({ method: 'POST', url: '/v1/requests', headers: JSON_HEADERS, payload: body() })
  t.equal(created.statusCode, 202)
  const id = (created.json() as { id: string }).id
  const read = async () => {
    const res = await app.inject({ url: `/v1/requests/${id}`, headers: W })
    t.equal(res.statusCode, 200)
    return res.json() as { id: string, status: string, updated_at: string }
  }
  const before = await read()
  t.equal(before.status, 'received')

  for (const c of cancelCases) await t.test(c.name, (t) => check(t, app.inject.bind(app) as Inject, c, id))

  t.strictSame(await read(), before, 'status, updated_at and every other field unchanged')
  const events = await app.inject({ url: `/v1/requests/${id}/events`, headers: W })
  t.equal(events.json().data.length, 1, 'still only the created event')
  t.equal(await count(app, 'requests'), 1, 'one request in the database')
  t.equal(await count(app, 'request_events'), 1, 'one event in the database')
})

t.test('JSON in UTF-8 is taken whether or not the Content-Type names the charset', async (t) => {
  const app = await build(t)
  for (const contentType of ['application/json', 'application/json; charset=utf-8', 'application/json;charset="UTF-8"', 'Application/JSON; Charset=utf8']) {
    const res = await app.inject({ method: 'POST', url: '/v1/requests', headers: { ...W, 'content-type': contentType }, payload: body() })
    t.equal(res.statusCode, 202, contentType)
  }
  t.equal(await count(app, 'requests'), 4, 'each stored')
})

t.test('deep nesting is refused on every route that takes a body, before parsing (#15: 500 with RangeError)', async (t) => {
  const app = await build(t)
  const spec = JSON.parse(readFileSync(fromRoot('openapi/openapi.json'), 'utf8')) as { paths: Record<string, Record<string, { requestBody?: unknown }>> }
  const anId = '00000000-0000-4000-8000-000000000000'
  const routes = Object.entries(spec.paths).flatMap(([path, ops]) => Object.entries(ops).filter(([, op]) => op.requestBody).map(([m]) => ({ method: m.toUpperCase(), path: path.replace(/\{[^}]+\}/g, anId) })))
  t.ok(routes.length >= 14, `${routes.length} routes take a body`)
  const deep = ['['.repeat(20_000) + ']'.repeat(20_000), '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000), `{"reason":${'['.repeat(20_000)}${']'.repeat(20_000)}}`]
  for (const { method, path } of routes) {
    for (const payload of deep) {
      const res = await app.inject({ method: method as 'POST', url: path, headers: { ...auth('admin'), 'content-type': 'application/json' }, payload })
      t.equal(res.statusCode, 400, `${method} ${path} (${payload.length} bytes)`)
      t.equal(res.json().code, 'DSR_NESTING_TOO_DEEP')
    }
  }
})

t.test('RECEIVED_AT_EARLIEST sets how far back received_at may go', async (t) => {
  t.throws(() => loadConfig({ RECEIVED_AT_EARLIEST: '2020-13-01' }), /RECEIVED_AT_EARLIEST/, 'a date, YYYY-MM-DD')
  const app = await build(t, { env: { RECEIVED_AT_EARLIEST: '2015-06-01' } })
  const post = (receivedAt: string) => app.inject({ method: 'POST', url: '/v1/requests', headers: JSON_HEADERS, payload: body({ received_at: receivedAt }) })
  t.equal((await post('2016-01-04T09:00:00Z')).statusCode, 202, 'after it: taken, though more than 3 years back')
  const before = await post('2015-05-31T23:59:59Z')
  t.equal(before.statusCode, 400, 'a second before it: refused')
  t.match(before.json(), { code: 'DSR_VALIDATION_FAILED', details: [{ field: '/received_at', message: /must not be before 2015-06-01T00:00:00.000Z/ }] })
})
