import t from 'tap'
import { openDb, type DbHandle } from '../src/db/client.js'
import { build, testDb } from './helper.js'

t.test('on a migrated database', async (t) => {
  const app = await build(t)

  t.test('/health/live answers 200 without a key', async (t) => {
    const res = await app.inject({ url: '/health/live' })
    t.equal(res.statusCode, 200)
    t.strictSame(res.json(), { status: 'ok' })
  })

  t.test('/health/ready answers 200 with every check passing', async (t) => {
    const res = await app.inject({ url: '/health/ready' })
    t.equal(res.statusCode, 200)
    t.strictSame(res.json(), { status: 'ok', checks: { database: 'ok', migrations: 'current' } })
  })
})

t.test('/health/ready is 503 with migrations pending on an unmigrated database', async (t) => {
  const dbh = await testDb(t, { migrate: false })
  const app = await build(t, { dbh })
  const res = await app.inject({ url: '/health/ready' })
  t.equal(res.statusCode, 503)
  t.strictSame(res.json(), { status: 'unavailable', checks: { database: 'ok', migrations: 'pending' } })

  // Migrating makes the same instance ready, without a restart.
  await dbh.migrate()
  const after = await app.inject({ url: '/health/ready' })
  t.equal(after.statusCode, 200)
  t.strictSame(after.json(), { status: 'ok', checks: { database: 'ok', migrations: 'current' } })
})

t.test('/health/ready is 503 with the database unreachable once its handle is closed', async (t) => {
  // A handle of our own, closed here: the helper's teardown closes the handles it made, and
  // PGlite refuses a second close() ("PGlite is closed"), so the helper's handle is left alone.
  // With DATABASE_URL: a second pool on this file's database; embedded: a PGlite of its own.
  const url = process.env.DATABASE_URL ? (await testDb(t)).url : undefined
  const own: DbHandle = url ? await openDb({ url, maxConnections: 2 }) : await openDb({ dataDir: 'memory://' })
  if (!url) await own.migrate()
  let closed = false
  t.teardown(async () => { if (!closed) await own.close() })

  const app = await build(t, { dbh: own })
  const before = await app.inject({ url: '/health/ready' })
  t.equal(before.statusCode, 200, 'ready while the database is open')

  await own.close()
  closed = true
  const res = await app.inject({ url: '/health/ready' })
  t.equal(res.statusCode, 503)
  t.strictSame(res.json(), { status: 'unavailable', checks: { database: 'unreachable', migrations: 'unknown' } })
  t.equal((await app.inject({ url: '/health/live' })).statusCode, 200, 'liveness does not depend on the database')
})

t.test('/ points to the documentation and the OpenAPI document, without an API key', async (t) => {
  const app = await build(t)
  const res = await app.inject({ url: '/' })
  t.equal(res.statusCode, 200)
  t.match(res.json(), { docs: '/docs', openapi: '/openapi.json', console: '/console', privacy_centre: '/privacy' })
  t.match(res.headers.link, /<\/docs>; rel="service-doc"/)
  for (const link of [res.json().docs, res.json().openapi]) {
    const target = await app.inject({ url: link })
    t.ok([200, 302].includes(target.statusCode), `${link} answers (${target.statusCode})`)
  }
})
