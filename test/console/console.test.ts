import t from 'tap'
import { auth, build, requestBody } from '../helper.js'
import { ConsoleClient, consoleKeys, KEYS, OPERATOR_KEY } from './session.js'

const app = await build(t, { apiKeys: consoleKeys() })
const codeOf = (html: string) => /data-code>([A-Z_]+)</.exec(html)?.[1]

async function newRequest (over: Record<string, unknown> = {}) {
  const res = await app.inject({ method: 'POST', url: '/v1/requests', headers: auth(), payload: requestBody(over) })
  return res.json<{ id: string }>().id
}

t.test('an operator signs in with a console key, sees the queue and signs out', async (t) => {
  const c = new ConsoleClient(app)
  const before = await c.get('/console')
  t.equal(before.statusCode, 303, 'no session: sent to sign in')
  t.equal(before.headers.location, '/console/sign-in')
  const signIn = await c.get('/console/sign-in')
  t.equal(signIn.statusCode, 200)
  t.match(signIn.headers['content-security-policy'], /default-src 'none'/, 'a strict CSP')
  t.notMatch(signIn.headers['content-security-policy'], /unsafe-inline/)
  t.match(signIn.headers['content-security-policy'], /script-src 'self'/, 'scripts only from the console itself')
  t.notMatch(signIn.body, /<script>|<script [^>]*>[^<]/, 'no inline script')
  const res = await c.post('/console/sign-in', { _csrf: ConsoleClient.csrfOf(signIn.body), key: OPERATOR_KEY })
  t.equal(res.statusCode, 303)
  t.equal(res.headers.location, '/console')
  const cookie = [res.headers['set-cookie']].flat().find((x) => x?.startsWith('dsr_console='))!
  t.match(cookie, /HttpOnly/i)
  t.match(cookie, /SameSite=Strict/i)
  t.match(cookie, /Path=\/console/)
  const queue = await c.get('/console')
  t.equal(queue.statusCode, 200)
  t.match(queue.body, /Signed in as <strong>operator<\/strong>/)
  const out = await c.post('/console/sign-out', { _csrf: ConsoleClient.csrfOf(queue.body) })
  t.equal(out.statusCode, 303)
  t.equal((await c.get('/console')).statusCode, 303, 'signed out: sent to sign in again')
})

t.test('a key without the console scope gets no session; an unknown key neither', async (t) => {
  for (const [key, status, code] of [[KEYS.writer, 403, 'DSR_FORBIDDEN'], ['not-a-key-at-all-0000000000', 401, 'DSR_UNAUTHENTICATED']] as const) {
    const c = new ConsoleClient(app)
    const res = await c.signIn(key)
    t.equal(res.statusCode, status)
    t.equal(codeOf(res.body), code)
    t.equal((await c.get('/console')).statusCode, 303, 'still no session')
  }
})

t.test('a form posted without its token, or with another session\'s, is refused with DSR_CSRF_TOKEN_INVALID', async (t) => {
  const c = new ConsoleClient(app)
  await c.signIn(OPERATOR_KEY)
  const id = await newRequest()
  const page = await c.get(`/console/requests/${id}`)
  t.equal(page.statusCode, 200)
  const without = await c.post(`/console/requests/${id}/reveal`, {})
  t.equal(without.statusCode, 403)
  t.equal(codeOf(without.body), 'DSR_CSRF_TOKEN_INVALID')
  const other = new ConsoleClient(app)
  const otherPage = await other.get('/console/sign-in')
  const forged = await c.post(`/console/requests/${id}/reveal`, { _csrf: ConsoleClient.csrfOf(otherPage.body) })
  t.equal(forged.statusCode, 403)
  t.equal(codeOf(forged.body), 'DSR_CSRF_TOKEN_INVALID')
  const noSignIn = await new ConsoleClient(app).post('/console/sign-in', { key: OPERATOR_KEY })
  t.equal(noSignIn.statusCode, 403, 'the sign-in form too')
  const events = (await app.inject({ url: `/v1/requests/${id}/events`, headers: auth() })).json<{ data: Array<{ action: string }> }>().data
  t.notOk(events.some((e) => e.action === 'identifiers_revealed'), 'nothing was revealed')
})

t.test('a session cookie replayed after sign-out is refused', async (t) => {
  const c = new ConsoleClient(app)
  await c.signIn(OPERATOR_KEY)
  const id = await newRequest()
  const page = await c.get(`/console/requests/${id}`)
  const stolen = c.cookie
  const csrf = ConsoleClient.csrfOf(page.body)
  await c.post('/console/sign-out', { _csrf: csrf })
  const replay = new ConsoleClient(app)
  replay.cookie = stolen
  const get = await replay.get(`/console/requests/${id}`)
  t.equal(get.statusCode, 303, 'a page: sent to sign in')
  replay.cookie = stolen
  const post = await replay.post(`/console/requests/${id}/reveal`, { _csrf: csrf })
  t.equal(post.statusCode, 401)
  t.equal(codeOf(post.body), 'DSR_CONSOLE_SESSION_REQUIRED')
})

t.test('identifiers are masked until revealed, and the reveal is on the audit trail', async (t) => {
  const c = new ConsoleClient(app)
  await c.signIn(OPERATOR_KEY)
  const id = await newRequest({ subject: { email: 'grace.hopper@example.com' } })
  const page = await c.get(`/console/requests/${id}`)
  t.notMatch(page.body, /grace\.hopper@example\.com/, 'masked')
  t.match(page.body, /g•••@e•••\.com/)
  const shown = await c.post(`/console/requests/${id}/reveal`, { _csrf: ConsoleClient.csrfOf(page.body) })
  t.equal(shown.statusCode, 200)
  t.match(shown.body, /grace\.hopper@example\.com/)
  t.equal(shown.headers['cache-control'], 'no-store')
  const events = (await app.inject({ url: `/v1/requests/${id}/events`, headers: auth() })).json<{ data: Array<{ action: string, actor: string }> }>().data
  t.match(events.find((e) => e.action === 'identifiers_revealed'), { actor: 'operator' })
})

t.test('a rejection through the console writes the same audit event as through the API', async (t) => {
  const viaApi = await newRequest()
  const viaConsole = await newRequest({ subject: { email: 'other@example.com' } })
  const reject = { ground: 'manifestly_unfounded_or_excessive', explanation: 'The fifth identical request this month' }
  const api = await app.inject({ method: 'POST', url: `/v1/requests/${viaApi}/reject`, headers: auth(), payload: reject })
  t.equal(api.statusCode, 200)
  const c = new ConsoleClient(app)
  await c.signIn(KEYS.admin)
  const page = await c.get(`/console/requests/${viaConsole}`)
  const res = await c.post(`/console/requests/${viaConsole}/reject`, { _csrf: ConsoleClient.csrfOf(page.body), ...reject })
  t.equal(res.statusCode, 303)
  const last = async (id: string) => {
    const events = (await app.inject({ url: `/v1/requests/${id}/events`, headers: auth() })).json<{ data: Array<Record<string, unknown>> }>().data
    const { id: _id, at: _at, ...rest } = events[events.length - 1]!
    return rest
  }
  const [a, b] = [await last(viaApi), await last(viaConsole)]
  t.match(a, { action: 'transition', to_status: 'rejected', actor: 'admin' })
  t.strictSame(b, a, 'same action, actor, statuses, reason and details')
  const bad = await c.post(`/console/requests/${viaApi}/reject`, { _csrf: ConsoleClient.csrfOf(page.body), ...reject })
  t.equal(bad.statusCode, 409, 'the same rules: a rejected request is not rejected again')
})

t.test('bad input is a coded 4xx page, not a 500', async (t) => {
  const c = new ConsoleClient(app)
  await c.signIn(OPERATOR_KEY)
  const notUuid = await c.get('/console/requests/not-a-uuid')
  t.equal(notUuid.statusCode, 400)
  t.equal(codeOf(notUuid.body), 'DSR_VALIDATION_FAILED')
  const badFilter = await c.get('/console?status=nonsense')
  t.equal(badFilter.statusCode, 400)
  const badCursor = await c.get('/console?cursor=bm9wZQ')
  t.equal(badCursor.statusCode, 400)
  t.equal(codeOf(badCursor.body), 'DSR_INVALID_CURSOR')
  const unknown = await c.get('/console/requests/00000000-0000-4000-8000-000000000000')
  t.equal(unknown.statusCode, 404)
  t.equal(codeOf(unknown.body), 'DSR_REQUEST_NOT_FOUND')
})

t.test('a session unused for longer than CONSOLE_IDLE_MINUTES (30) ends', async (t) => {
  const c = new ConsoleClient(app)
  await c.signIn(OPERATOR_KEY)
  t.equal((await c.get('/console')).statusCode, 200)
  const realNow = Date.now
  t.teardown(() => { Date.now = realNow })
  Date.now = () => realNow() + 29 * 60_000
  t.equal((await c.get('/console')).statusCode, 200, 'used within 30 minutes: still signed in, and touched')
  Date.now = () => realNow() + (29 + 31) * 60_000
  const idle = await c.get('/console')
  t.equal(idle.statusCode, 303, 'idle for 31 minutes: sent to sign in')
  t.equal(idle.headers.location, '/console/sign-in')
})
