import t from 'tap'
import { sql } from 'drizzle-orm'
import { createFinalizer, type RequestClosed, type RequestClosedListener } from '../../src/engine/finalize.js'
import { createRequestsRepository } from '../../src/db/repositories/requests-repository.js'
import { auth, build, registryOf, requestBody, testDb } from '../helper.js'

/**
 * The request-closed event: the finalizer tells its listeners, in order, in the transaction that
 * closes the request. What follows a close commits with it or not at all: a listener that fails
 * leaves the request open, with nothing of the close written. On Postgres when DATABASE_URL is set,
 * and embedded.
 */

const systems = [{ id: 'crm', driver: 'memory', settings: { streams: [{ name: 'records', match: { email: 'email' }, records: [] }] } }]

for (const embedded of [false, true]) {
  const where = embedded ? 'embedded' : (process.env.DATABASE_URL ? 'Postgres' : 'embedded (no DATABASE_URL)')

  t.test(`${where}: listeners are told once, in order, inside the closing transaction`, async (t) => {
    // A long lease: the engine's reaper (every half lease) must not close the request first.
    const app = await build(t, { dbh: await testDb(t, { embedded }), registry: await registryOf(systems), env: { TASK_LEASE_SECONDS: '600' } })
    const { dbh } = app
    const created = await app.inject({ method: 'POST', url: '/v1/requests', headers: auth(), payload: requestBody({ type: 'erasure' }) })
    const id = created.json().id as string
    // As a worker leaves it: in progress, its one task finished.
    await dbh.rows(sql`update requests set status = 'in_progress' where id = ${id}`)
    await dbh.rows(sql`
      insert into tasks (request_id, connector_id, action, status, attempts, max_attempts, result, started_at, finished_at)
      values (${id}, 'crm', 'erase', 'succeeded', 1, 6, ${JSON.stringify({ outcomes: [{ status: 'erased', stream: 'records', count: 1 }] })}::jsonb, now(), now())`)
    const requests = createRequestsRepository(dbh)
    const transitions = async () => (await dbh.rows<{ n: number }>(sql`
      select count(*)::int as n from request_events where request_id = ${id} and action = 'transition' and to_status = 'completed'`))[0]!.n

    const told: Array<{ name: string, closed: RequestClosed }> = []
    const writes: RequestClosedListener = async (closed, tx) => {
      told.push({ name: 'writes', closed })
      await requests.recordEvent(closed.request.id, closed.actor, 'closed_listener_wrote', null, undefined, tx)
    }
    const fails: RequestClosedListener = async (closed) => {
      told.push({ name: 'fails', closed })
      throw new Error('listener failed')
    }
    const failing = createFinalizer({ dbh, tasks: app.engine.tasks, requests, onClosed: [writes, fails] })
    await t.rejects(failing.closeIfDone(id, 'test'), /listener failed/, 'a failing listener fails the close')
    t.strictSame(told.map((x) => x.name), ['writes', 'fails'], 'both were told, in order')
    t.equal((await requests.findById(id))!.status, 'in_progress', 'the request stays open')
    t.equal(await transitions(), 0, 'no transition was written')
    const [wrote] = await dbh.rows<{ n: number }>(sql`select count(*)::int as n from request_events where action = 'closed_listener_wrote'`)
    t.equal(wrote!.n, 0, "the first listener's write was rolled back with the close")

    told.length = 0
    const finalizer = createFinalizer({ dbh, tasks: app.engine.tasks, requests, onClosed: [writes] })
    t.equal(await finalizer.closeIfDone(id, 'test'), 'completed', 'closed as its task says')
    t.equal(told.length, 1, 'the listener was told once')
    t.match(told[0]!.closed, { final: 'completed', actor: 'test', request: { id, type: 'erasure', status: 'completed' } }, 'with the closed row, how it ended and who closed it')
    const [kept] = await dbh.rows<{ n: number }>(sql`select count(*)::int as n from request_events where action = 'closed_listener_wrote'`)
    t.equal(kept!.n, 1, "the listener's write committed with the close")
    t.equal(await finalizer.closeIfDone(id, 'test'), null, 'a closed request is not closed again')
    t.equal(told.length, 1, 'and nobody is told twice')
    t.equal(await transitions(), 1, 'one transition to completed')

    // The engine's own listeners, wired by its plugin: the closed erasure left its backup tombstone.
    const [tombstones] = await dbh.rows<{ n: number }>(sql`select count(*)::int as n from backup_tombstones where request_id = ${id}`)
    t.equal(tombstones!.n, 0, 'a finalizer with other listeners wrote no tombstone')
    await dbh.rows(sql`update requests set status = 'in_progress' where id = ${id}`)
    t.equal(await app.engine.finalizer.closeIfDone(id, 'test'), 'completed')
    const [after] = await dbh.rows<{ n: number }>(sql`select count(*)::int as n from backup_tombstones where request_id = ${id}`)
    t.equal(after!.n, 1, "the engine's finalizer told the backups: one tombstone for the system that erased")
  })
}
