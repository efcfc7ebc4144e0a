import t from 'tap'
import { sql } from 'drizzle-orm'
import { auth, build, registryOf, requestBody } from '../helper.js'

/**
 * Intake is one transaction: a request is stored with its audit event, its tasks and its status
 * callback, or not at all. A trigger makes the database fail part-way through (the event, the
 * tasks, the callback), and nothing of the request may remain; the refused rectification of #15
 * (a value of 1e400) stores nothing either, with or without verification.
 */

const registry = await registryOf([{
  id: 'crm',
  driver: 'memory',
  settings: { streams: [{ name: 'contacts', match: { email: 'email' }, records: [] }] }
}])

const JSON_HEADERS = { ...auth('writer'), 'content-type': 'application/json' }

t.test('a request whose storing fails part-way leaves nothing behind', async (t) => {
  const app = await build(t, { registry, env: { CALLBACK_ALLOWLIST: 'https://receiver.example', CALLBACK_SIGNING_KEYS: `k1:${'s'.repeat(32)}` } })
  const count = async (table: string) => (await app.dbh.rows<{ n: number }>(sql`select count(*)::int as n from ${sql.identifier(table)}`))[0]?.n
  await app.dbh.rows(sql.raw(`create function fail_intake() returns trigger language plpgsql as $$
    begin raise exception 'injected fault in %', tg_table_name; end $$`))

  const cases: Array<{ name: string, table: string, body: Record<string, unknown> }> = [
    { name: 'its audit event', table: 'request_events', body: requestBody() },
    { name: 'its tasks, verified at intake', table: 'tasks', body: requestBody({ verification: { method: 'account_login' } }) },
    { name: 'its status callback', table: 'callback_deliveries', body: requestBody({ callback_url: 'https://receiver.example/hook' }) },
    { name: 'its status callback, verified at intake', table: 'callback_deliveries', body: requestBody({ callback_url: 'https://receiver.example/hook', verification: { method: 'account_login' } }) }
  ]
  for (const c of cases) {
    await app.dbh.rows(sql.raw(`create trigger fail_intake before insert on ${c.table} for each row execute function fail_intake()`))
    const res = await app.inject({ method: 'POST', url: '/v1/requests', headers: JSON_HEADERS, payload: c.body })
    await app.dbh.rows(sql.raw(`drop trigger fail_intake on ${c.table}`))
    t.ok(res.statusCode >= 500, `${c.name} failing fails the call (${res.statusCode})`)
    t.equal(res.json().code, 'DSR_INTERNAL', 'a coded error, no internals')
    for (const table of ['requests', 'request_events', 'tasks', 'callback_deliveries']) t.equal(await count(table), 0, `${c.name}: no row in ${table}`)
  }

  // The same bodies go through once the database takes them: the failures above were the trigger's.
  for (const c of cases) t.equal((await app.inject({ method: 'POST', url: '/v1/requests', headers: JSON_HEADERS, payload: c.body })).statusCode, 202, c.name)
  t.equal(await count('requests'), cases.length)
})

t.test('a refused rectification stores nothing, verified at intake or not', async (t) => {
  const app = await build(t, { registry })
  const rectify = (value: string, more = '') =>
    `{"type":"rectification","regime":"gdpr","subject":{"email":"ada@example.com"},"changes":[{"field":"phone","value":${value}}]${more}}`
  for (const payload of [rectify('1e400'), rectify('-1e400'), rectify('1e400', ',"verification":{"method":"account_login"}')]) {
    const res = await app.inject({ method: 'POST', url: '/v1/requests', headers: JSON_HEADERS, payload })
    t.equal(res.statusCode, 400)
    t.match(res.json(), { code: 'DSR_VALIDATION_FAILED', details: [{ field: '/changes/0/value', message: 'must be a finite number' }] })
  }
  const [row] = await app.dbh.rows<{ n: number }>(sql`select count(*)::int as n from requests`)
  t.equal(row?.n, 0, 'nothing stored')
  const ok = await app.inject({ method: 'POST', url: '/v1/requests', headers: JSON_HEADERS, payload: rectify('1e300') })
  t.equal(ok.statusCode, 202, 'a large finite number is taken')
  t.equal(ok.json().changes[0].value, 1e300, 'and kept as given')
})
