import t from 'tap'
import { build, testDb } from './helper.js'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { hashKey, SCOPES, type KeyRecord, type Scope } from '../src/services/api-keys.js'
import { PUBLIC_REASONS } from '../src/plugins/app/auth.js'

// Deny by default: every route the app registers needs a scope, or is public by one of a few
// names. Walks every route: no key → 401, a key with any other single scope → 403, a key with the
// route's scope (or admin) → neither.

const keyOf = (scope: Scope) => `route-walk-key-${scope.replace(':', '-')}-000000`
const keys = new Map<string, KeyRecord>(SCOPES.map((scope) => [hashKey(keyOf(scope)), { name: `only-${scope}`, scopes: [scope] }]))
const anId = '00000000-0000-4000-8000-000000000000'
const urlOf = (pattern: string) => pattern.replace(/:[A-Za-z]+/g, anId).replace(/\*$/, 'x')

t.test('every route has a scope or a public reason, and the scope is enforced', async (t) => {
  const app = await build(t, { apiKeys: keys })
  const routes = app.routeAccess
  t.ok(routes.length > 30, `${routes.length} routes registered`)
  const lines: string[] = []
  for (const route of routes) {
    if (route.public) {
      t.ok(Object.hasOwn(PUBLIC_REASONS, route.public), `${route.method} ${route.url} is public: ${route.public}`)
      lines.push(`${route.method.padEnd(6)} ${route.url.padEnd(52)} public (${route.public})`)
      continue
    }
    const method = route.method as 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'
    const url = urlOf(route.url)
    const call = (key?: string) => app.inject({
      method,
      url,
      headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(method === 'GET' || method === 'HEAD' ? {} : { 'content-type': 'application/json' }) },
      ...(method === 'GET' || method === 'HEAD' ? {} : { payload: '{}' })
    })
    const none = await call()
    t.equal(none.statusCode, 401, `${method} ${route.url} without a key`)
    const others = SCOPES.filter((s) => s !== route.scope && s !== 'admin')
    for (const other of others) {
      const res = await call(keyOf(other))
      t.equal(res.statusCode, 403, `${method} ${route.url} with only ${other}`)
    }
    const right = await call(keyOf(route.scope))
    t.notOk([401, 403].includes(right.statusCode), `${method} ${route.url} with ${route.scope}: ${right.statusCode}`)
    const admin = await call(keyOf('admin'))
    t.notOk([401, 403].includes(admin.statusCode), `${method} ${route.url} with admin: ${admin.statusCode}`)
    lines.push(`${method.padEnd(6)} ${route.url.padEnd(52)} ${route.scope.padEnd(16)} none 401, ${others.length} other scopes 403, own ${right.statusCode}, admin ${admin.statusCode}`)
  }
  t.comment(`routes walked:\n${lines.join('\n')}`)
})

t.test('a route added without a scope or a public reason stops the app', async (t) => {
  const dbh = await testDb(t, { embedded: true })
  const app = await buildApp({ config: loadConfig({ LOG_LEVEL: 'silent', SCHEDULER_ENABLED: 'false' }), dbh, apiKeys: keys, startEngine: false })
  t.teardown(() => app.close())
  t.throws(() => app.get('/v1/forgotten', async () => ({ open: true })), /GET \/v1\/forgotten has no scope/)
  t.throws(() => app.get('/v1/odd', { config: { public: 'because' as never } }, async () => ({})), /config.public must be one of/)
  t.throws(() => app.get('/v1/both', { config: { scope: 'admin', public: 'health' } }, async () => ({})), /not both/)
  app.get('/v1/scoped', { config: { scope: 'admin' } }, async () => ({ ok: true }))
  await app.ready()
  t.equal((await app.inject({ url: '/v1/scoped' })).statusCode, 401, 'a route with a scope is registered, and closed without a key')
})

t.test('least privilege: revoking a link needs archives:write, a transfer archives:transfer', async (t) => {
  const app = await build(t, { apiKeys: keys })
  const scopeOf = (method: string, url: string) => app.routeAccess.find((r) => r.method === method && r.url === url)?.scope
  t.equal(scopeOf('DELETE', '/v1/requests/:id/archive/links/:linkId'), 'archives:write')
  t.equal(scopeOf('POST', '/v1/requests/:id/transfers'), 'archives:transfer')
  const as = (scope: Scope) => ({ authorization: `Bearer ${keyOf(scope)}`, 'content-type': 'application/json' })
  const revoke = await app.inject({ method: 'DELETE', url: `/v1/requests/${anId}/archive/links/${anId}`, headers: { authorization: as('archives:read').authorization } })
  t.equal(revoke.statusCode, 403, 'archives:read cannot revoke a link')
  t.equal(revoke.json().code, 'DSR_FORBIDDEN')
  const byWriter = await app.inject({ method: 'DELETE', url: `/v1/requests/${anId}/archive/links/${anId}`, headers: { authorization: as('archives:write').authorization } })
  t.equal(byWriter.statusCode, 404, 'archives:write can (no such link here)')
  const transfer = await app.inject({ method: 'POST', url: `/v1/requests/${anId}/transfers`, headers: as('requests:write'), payload: { destination: 'https://receiver.example/in' } })
  t.equal(transfer.statusCode, 403, 'requests:write cannot send an archive away')
  t.notOk([401, 403].includes((await app.inject({ method: 'POST', url: `/v1/requests/${anId}/transfers`, headers: as('archives:transfer'), payload: { destination: 'https://receiver.example/in' } })).statusCode), 'archives:transfer can')
})
