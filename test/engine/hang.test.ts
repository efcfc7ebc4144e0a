import t from 'tap'
import { auth, build, registryOf, requestBody, testDb, waitFor } from '../helper.js'

/**
 * An attempt that never settles (here a connector that ignores its abort signal; in production a
 * database call lost with its connection when Postgres restarts) is given up once it is long past
 * its bounds: its lease is left to expire, the task is claimed and run again, and the request ends.
 * On Postgres when DATABASE_URL is set, and embedded.
 */

const ADA = 'ada@example.com'

for (const embedded of [false, true]) {
  const where = embedded ? 'embedded' : (process.env.DATABASE_URL ? 'Postgres' : 'embedded (no DATABASE_URL)')

  t.test(`${where}: a hung attempt is given up and the task runs again`, async (t) => {
    const registry = await registryOf([{
      id: 'crm',
      driver: 'memory',
      timeout_seconds: 1,
      settings: { streams: [{ name: 'contacts', match: { email: 'email' }, records: [{ id: 'c1', email: ADA }] }] }
    }])
    const connector = registry.get('crm')!.connector as { erase: (ctx: unknown) => AsyncIterable<unknown> }
    const erase = connector.erase.bind(connector)
    let calls = 0
    connector.erase = (ctx) => {
      calls++
      // The first call never answers, abort or not.
      if (calls === 1) return { [Symbol.asyncIterator]: () => ({ next: () => new Promise<IteratorResult<unknown>>(() => {}) }) }
      return erase(ctx)
    }
    const logs: string[] = []
    const app = await build(t, { dbh: await testDb(t, { embedded }), registry, logs, env: { TASK_LEASE_SECONDS: '2', TASK_POLL_SECONDS: '0.5', TASK_RETRY_BASE_MS: '50' } })
    const created = (await app.inject({
      method: 'POST', url: '/v1/requests', headers: auth(), payload: requestBody({ type: 'erasure', subject: { email: ADA }, verification: { method: 'account_login' } })
    })).json()
    const done = await waitFor(async () => {
      const b = (await app.inject({ url: `/v1/requests/${created.id}`, headers: auth() })).json()
      return b.status === 'completed' ? b : null
    }, 40_000, 'the erasure to complete after its hung attempt')
    t.equal(calls, 2, 'the system was asked again')
    t.match(done.tasks[0], { status: 'succeeded', attempts: 2, result: { outcomes: [{ status: 'erased', count: 1 }] } })
    t.ok(logs.some((l) => l.includes('did not settle')), 'the given-up attempt is logged')
  })
}
