import t from 'tap'
import { randomUUID } from 'node:crypto'
import { sql } from 'drizzle-orm'
import { auth, build, registryOf, testKeys, waitFor } from '../helper.js'
import { hashKey, TENANT_SCOPES } from '../../src/services/api-keys.js'
import { createAccountsRepository } from '../../src/db/repositories/accounts-repository.js'
import { createRequestsRepository } from '../../src/db/repositories/requests-repository.js'
import { createTasksRepository } from '../../src/db/repositories/tasks-repository.js'
import { runAsTenant } from '../../src/db/tenant-scope.js'

/**
 * No route leaks across customer accounts. Two requests, each wholly of one managed account
 * (Northwind's and Contoso's). With Northwind's key, every route of the API is called with
 * Contoso's ids: each answers 404, or 403 where a key bound to an account may not go at all. The
 * same calls with Northwind's own ids answer otherwise (the walk can tell). The repositories are
 * checked on their own too, without the routes: in Northwind's scope, Contoso's request is not read,
 * locked, listed, nor is its trail.
 */

const NORTHWIND_KEY = 'tenant-northwind-key-000000000000'
const tenant = { authorization: `Bearer ${NORTHWIND_KEY}` }
const DAY = 86_400_000

t.test('every route answers 404 (or 403) to a key of another account', async (t) => {
  const apiKeys = testKeys()
  apiKeys.set(hashKey(NORTHWIND_KEY), { name: 'northwind-admin', scopes: [...TENANT_SCOPES], account: 'northwind' })
  const registry = await registryOf([{ id: 'crm', driver: 'memory', settings: { streams: [{ name: 'contacts', match: { email: 'email' }, records: [{ id: 1, email: 'maya@example.net' }, { id: 2, email: 'li@example.net' }] }] } }])
  const app = await build(t, { registry, apiKeys, env: { TASK_POLL_SECONDS: '0.5' } })
  for (const id of ['northwind', 'contoso']) {
    const put = await app.inject({ method: 'PUT', url: `/v1/accounts/${id}`, headers: auth(), payload: { name: id, managed: true, admins: [{ email: `admin@${id}.example` }] } })
    t.equal(put.statusCode, 201)
  }

  // One access request per account, completed with its archive, then made that account's wholly.
  const accounts = createAccountsRepository(app.dbh)
  const ids: Record<'northwind' | 'contoso', string> = { northwind: '', contoso: '' }
  for (const [account, email] of [['northwind', 'maya@example.net'], ['contoso', 'li@example.net']] as const) {
    const res = await app.inject({ method: 'POST', url: '/v1/requests', headers: auth(), payload: { type: 'access', regime: 'gdpr', subject: { email }, verification: { method: 'account_login' } } })
    const id = res.json().id as string
    await waitFor(async () => (await app.inject({ url: `/v1/requests/${id}`, headers: auth() })).json().archive?.status === 'ready', 30_000, 'the archive')
    await app.dbh.transaction(async (tx) => {
      await accounts.addParts([{ requestId: id, accountId: account, connectors: ['crm'], dueAt: new Date(Date.now() + 10 * DAY) }], tx)
      await accounts.decide(id, account, { state: 'instructed', reference: 'R-1', by: 'test', at: new Date() }, tx)
      await tx.rows(sql`update tasks set account_id = ${account} where request_id = ${id}`)
    })
    ids[account] = id
  }
  const taskOf = async (id: string) => (await app.inject({ url: `/v1/requests/${id}`, headers: auth() })).json().tasks[0].id as string
  const linkOf = async (id: string) => (await app.inject({ method: 'POST', url: `/v1/requests/${id}/archive/links`, headers: auth(), payload: {} })).json().id as string
  const params = async (account: 'northwind' | 'contoso'): Promise<Record<string, string>> => ({
    id: ids[account], taskId: await taskOf(ids[account]), linkId: await linkOf(ids[account]), transferId: randomUUID(), deliveryId: randomUUID(), account
  })
  const theirs = await params('contoso')
  const ours = await params('northwind')
  const fill = (url: string, p: Record<string, string>) => url.replace(/:(\w+)/g, (_, name: string) => p[name] ?? randomUUID())

  const walked: Array<{ route: string, status: number, own: number }> = []
  const others: string[] = []
  for (const route of app.routeAccess) {
    if (route.scope === undefined) continue
    for (const method of route.method.split(',')) {
      const call = async (p: Record<string, string>) => app.inject({
        method: method as 'GET', url: fill(route.url, p), headers: tenant, ...(['POST', 'PUT', 'DELETE'].includes(method) ? { payload: {} } : {})
      })
      const res = await call(theirs)
      const allowed = TENANT_SCOPES.includes(route.scope)
      walked.push({ route: `${method} ${route.url}`, status: res.statusCode, own: (await call(ours)).statusCode })
      // Lists and the account registry take no request id: their answers are checked below.
      const withId = /:(id|account)\b/.test(route.url)
      const expected = !allowed ? 403 : withId ? 404 : res.statusCode
      if (res.statusCode !== expected) others.push(`${method} ${route.url}: ${res.statusCode} ${res.body.slice(0, 200)}`)
    }
  }
  t.strictSame(others, [], 'no route answers a key of Northwind otherwise than 404 (403 where tenant keys may not go)')
  const reachable = walked.filter((w) => w.status === 404)
  t.ok(reachable.length >= 10, `${reachable.length} routes a tenant key reaches answer 404 for Contoso's ids`)
  t.ok(reachable.filter((w) => w.own !== 404).length >= 8, "most of them answer otherwise for Northwind's own ids (the walk can tell)")
  t.comment(`walked ${walked.length} routes: ${reachable.length} answered 404 to Contoso's ids, ${walked.filter((w) => w.status === 403).length} 403`)
  t.comment(walked.map((w) => `${w.route} → ${w.status} (own ids: ${w.own})`).join('\n'))

  // Open requests of each account (a rectification no system here can do stays ready), for the deadline report.
  const open: Record<string, string> = {}
  for (const [account, email] of [['northwind', 'maya@example.net'], ['contoso', 'li@example.net']] as const) {
    const res = await app.inject({ method: 'POST', url: '/v1/requests', headers: auth(), payload: { type: 'rectification', regime: 'gdpr', subject: { email }, changes: [{ field: 'name', value: 'X' }], verification: { method: 'account_login' } } })
    t.equal(res.json().status, 'ready', 'a rectification no system here can do stays ready')
    open[account] = res.json().id
    await app.dbh.transaction((tx) => accounts.addParts([{ requestId: open[account]!, accountId: account, connectors: ['crm'], dueAt: new Date(Date.now() + 10 * DAY) }], tx))
  }
  const everyone = JSON.stringify((await app.inject({ url: '/v1/reports/deadlines?window_hours=8760', headers: auth() })).json())
  t.ok(everyone.includes(open.northwind!) && everyone.includes(open.contoso!), "the company's key sees both open requests in the deadline report")
  const reported = JSON.stringify((await app.inject({ url: '/v1/reports/deadlines?window_hours=8760', headers: tenant })).json())
  t.ok(reported.includes(open.northwind!), "Northwind's key sees its open request in the deadline report")
  t.notOk(reported.includes(open.contoso!), "and not Contoso's")
  const list = (await app.inject({ url: '/v1/requests', headers: tenant })).json().data as Array<{ id: string }>
  t.strictSame(list.map((r) => r.id).sort(), [ids.northwind, open.northwind].sort(), "the list holds Northwind's requests only")
  const registered = (await app.inject({ url: '/v1/accounts', headers: tenant })).json().data as Array<{ id: string }>
  t.strictSame(registered.map((a) => a.id), ['northwind'], "the account registry shows Northwind's only")

  // The repositories on their own: Northwind's scope does not reach Contoso's request.
  const requests = createRequestsRepository(app.dbh)
  const tasks = createTasksRepository(app.dbh)
  await runAsTenant('northwind', async () => {
    t.equal(await requests.findById(ids.contoso), null, 'findById')
    t.equal(await requests.findById(ids.contoso, undefined, { part: true }), null, 'findById of a part')
    t.equal(await app.dbh.transaction((tx) => tasks.lockRequest(ids.contoso, {}, tx)), null, 'lockRequest')
    t.strictSame(await requests.events(ids.contoso), [], 'events')
    t.ok(await requests.findById(ids.northwind), "Northwind's own request is read")
  })
  t.ok(await requests.findById(ids.contoso), "outside a tenant's scope, Contoso's request is read")
})
