import t from 'tap'
import { sql } from 'drizzle-orm'
import { auth, build, requestBody } from '../helper.js'
import { ConsoleClient, consoleKeys, KEYS, OPERATOR_KEY } from './session.js'

/** The whole service's audit trail verified from the console, as GET /v1/audit/verify does it, under its scope (admin). */
const app = await build(t, { apiKeys: consoleKeys() })
const verifyApi = async () => (await app.inject({ url: '/v1/audit/verify', headers: auth() })).json<{ ok: boolean, links_checked: number }>()

t.test('the audit page says whether the trail verifies, and where it first broke', async (t) => {
  const id = (await app.inject({ method: 'POST', url: '/v1/requests', headers: auth(), payload: requestBody() })).json<{ id: string }>().id
  t.equal((await app.scheduler.tick('audit_seal', new Date(Date.UTC(2030, 0, 1)))).ran, true, 'the trail is sealed')
  const c = new ConsoleClient(app)
  await c.signIn(KEYS.admin)
  const queue = await c.get('/console')
  t.match(queue.body, /<a href="\/console\/audit">Audit trail<\/a>/, 'an admin finds it in the navigation')

  const intact = await c.get('/console/audit')
  t.equal(intact.statusCode, 200)
  t.equal(intact.headers['cache-control'], 'no-store')
  t.match(intact.body, /data-audit="ok"/)
  const api = await verifyApi()
  t.equal(api.ok, true)
  t.ok(api.links_checked > 0, 'links were sealed')
  t.match(intact.body, new RegExp(`data-links-checked>${api.links_checked}<`), 'as many links checked as the API checks')
  t.match(intact.body, /data-signed-head>position \d+, signed [^<]+: signature verifies/, 'the signed head verifies')

  const [created] = await app.dbh.rows<{ id: string, actor: string }>(sql`select id::text, actor from request_events where request_id = ${id} and action = 'created'`)
  await app.dbh.rows(sql`update request_events set actor = 'mallory' where id = ${Number(created!.id)}`)
  t.teardown(() => app.dbh.rows(sql`update request_events set actor = ${created!.actor} where id = ${Number(created!.id)}`))
  const broken = await c.get('/console/audit')
  t.equal(broken.statusCode, 200, 'a broken trail is a finding, not an error')
  t.match(broken.body, /data-audit="broken"/)
  t.match(broken.body, /data-break-code>DSR_AUDIT_CONTENT_CHANGED</)
  t.match(broken.body, new RegExp(`<a href="/console/requests/${id}">`), 'with the request where it broke')
  t.equal((await verifyApi()).ok, false, 'as the API says')
})

t.test('a key without admin is refused, as by the API', async (t) => {
  const c = new ConsoleClient(app)
  t.equal((await c.get('/console/audit')).headers.location, '/console/sign-in', 'not signed in: sent to sign in')
  await c.signIn(OPERATOR_KEY)
  t.notMatch((await c.get('/console')).body, /href="\/console\/audit"/, 'not in the navigation')
  const res = await c.get('/console/audit')
  t.equal(res.statusCode, 403)
  t.match(res.body, /data-code>DSR_FORBIDDEN</)
  t.equal((await app.inject({ url: '/v1/audit/verify', headers: auth('writer') })).statusCode, 403, 'the API refuses a key without admin too')
})
