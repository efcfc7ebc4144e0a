import t from 'tap'
import { auth, build, requestBody } from '../helper.js'
import { ConsoleClient, consoleKeys, OPERATOR_KEY } from './session.js'

/** The console's settings, and its logs. Nothing personal and no key reaches the log from the console: not the identifiers revealed, not a refusal's text, not the key signed in with. */
t.test('the console logs no personal data and no key', async (t) => {
  const logs: string[] = []
  const app = await build(t, { apiKeys: consoleKeys(), logs })
  const email = 'marker.person@example.com'
  const id = (await app.inject({ method: 'POST', url: '/v1/requests', headers: auth(), payload: requestBody({ subject: { email } }) })).json<{ id: string }>().id
  const c = new ConsoleClient(app)
  await c.signIn(OPERATOR_KEY)
  const page = await c.get(`/console/requests/${id}`)
  const shown = await c.post(`/console/requests/${id}/reveal`, { _csrf: ConsoleClient.csrfOf(page.body) })
  t.match(shown.body, email)
  const explanation = 'MARKER-EXPLANATION the person asked five times'
  await c.post(`/console/requests/${id}/reject`, { _csrf: ConsoleClient.csrfOf(page.body), ground: 'manifestly_unfounded_or_excessive', explanation })
  await c.post(`/console/requests/${id}/tasks/00000000-0000-4000-8000-000000000000/skip`, { _csrf: ConsoleClient.csrfOf(page.body), reason: 'MARKER-REASON' })
  await new ConsoleClient(app).signIn('MARKER-WRONG-KEY-000000000000')
  const text = logs.join('')
  t.ok(logs.length > 10, `${logs.length} log lines`)
  for (const secret of [email, 'marker.person', explanation, 'MARKER-REASON', OPERATOR_KEY, 'MARKER-WRONG-KEY']) t.notOk(text.includes(secret), `${secret} is not logged`)
  t.match(text, /console signed in/, 'signing in is logged, by key name')
})

t.test('CONSOLE_COOKIE_SECURE=true: the cookie is Secure behind a proxy that terminates TLS', async (t) => {
  const app = await build(t, { apiKeys: consoleKeys(), env: { CONSOLE_COOKIE_SECURE: 'true' } })
  const res = await new ConsoleClient(app).get('/console/sign-in')
  t.match([res.headers['set-cookie']].flat().find((x) => x?.startsWith('dsr_console=')), /; Secure/)
})

t.test('on Postgres without CONSOLE_SESSION_KEY the console is not served: DSR_CONSOLE_NOT_CONFIGURED', async (t) => {
  const app = await build(t, { apiKeys: consoleKeys(), env: { DATABASE_URL: 'postgres://dsr@127.0.0.1:5432/configured-elsewhere' } })
  for (const url of ['/console', '/console/sign-in']) {
    const res = await app.inject({ url })
    t.equal(res.statusCode, 404)
    t.equal(res.json().code, 'DSR_CONSOLE_NOT_CONFIGURED')
  }
})

t.test('the database away is a 503 DSR_UNAVAILABLE with Retry-After in the console as in the API', async (t) => {
  const { unavailableError } = await import('../../src/plugins/external/errors.js')
  t.match(unavailableError(Object.assign(new Error('connect'), { code: 'ECONNREFUSED' })), { statusCode: 503, code: 'DSR_UNAVAILABLE', retryAfter: Number })
  t.match(unavailableError(new Error('wrapped', { cause: Object.assign(new Error('reset'), { code: 'ECONNRESET' }) })), { statusCode: 503 })
  t.equal(unavailableError(new Error('anything else')), null)
})
