import t, { type Test } from 'tap'
import { sql } from 'drizzle-orm'
import { auth, waitFor } from '../helper.js'
import { createArchivesRepository } from '../../src/db/repositories/archives-repository.js'
import { archiveStorageKey } from '../../src/archive/layout.js'
import { ARCHIVE_RETRY_LIMIT } from '../../src/jobs/queue.js'
import { queueArchiveBuild } from '../../src/archive/rebuild.js'
import { createItemsRepository } from '../../src/db/repositories/items-repository.js'
import { createRequestsRepository } from '../../src/db/repositories/requests-repository.js'
import { archivedRequest, completedArchive } from './fixtures.js'

// A worker that died mid-build used to leave the archive `building` until its pg-boss job expired,
// 6 hours later: the download answered 409 DSR_ARCHIVE_NOT_READY and a rebuild 409
// DSR_ARCHIVE_NOT_REBUILDABLE all that time. A build now holds a lease like a task: the engine's reaper
// queues a build whose holder died again (through pg-boss), fails it once its attempts are spent, and
// an administrator may rebuild it at once. "The holder dies" is its claim with no build after it: the
// lease runs out unrenewed, exactly what a SIGKILLed worker leaves.
for (const embedded of [false, true]) {
  const where = embedded ? 'embedded' : 'Postgres'
  if (!embedded && !process.env.DATABASE_URL) {
    t.test(`stuck archive builds on ${where}`, { skip: 'DATABASE_URL is not set' }, () => {})
    continue
  }

  t.test(`an archive build whose worker died, on ${where}`, async (t) => {
    // Leases of 2 s: the reaper looks every second.
    const { app, id } = await completedArchive(t, { embedded, env: { TASK_LEASE_SECONDS: '2' } })
    const archives = createArchivesRepository(app.dbh)
    const status = async (requestId: string) => (await archives.forRequest(requestId))!
    /** What a worker that claims the build and is killed before it ends leaves behind. */
    const dieMidBuild = async (t: Test, requestId: string, attempts?: number) => {
      await app.dbh.rows(sql`update archives set status = 'failed' where request_id = ${requestId}`) // claimable again
      const claim = await archives.claimBuild(requestId, (a) => archiveStorageKey(requestId, a), { worker: 'killed-worker', leaseMs: 300 })
      t.ok(claim, 'the dying worker claimed the build')
      if (attempts !== undefined) await app.dbh.rows(sql`update archives set build_attempts = ${attempts} where request_id = ${requestId}`)
      return claim!
    }

    await t.test('the reaper queues it again, and it is built by a live worker', async (t) => {
      const claim = await dieMidBuild(t, id)
      t.match(await status(id), { id: claim.id, status: 'building', leaseOwner: 'killed-worker' })
      const download = await app.inject({ url: `/v1/requests/${id}/archive`, headers: auth() })
      t.equal(download.json().code, 'DSR_ARCHIVE_NOT_READY', 'not ready while it builds')
      const ready = await waitFor(async () => { const a = await status(id); return a.status === 'ready' ? a : null }, 20_000, 'the reaped build to be ready')
      t.not(ready.id, claim.id, 'built again under a fresh id')
      t.equal(ready.leaseOwner, null, 'the lease is released')
      t.equal((await app.inject({ url: `/v1/requests/${id}/archive`, headers: auth() })).statusCode, 200, 'downloadable')
    })

    await t.test('out of attempts, it fails with DSR_ARCHIVE_WORKER_LOST, and an admin can rebuild it', async (t) => {
      await dieMidBuild(t, id, ARCHIVE_RETRY_LIMIT + 1)
      const failed = await waitFor(async () => { const a = await status(id); return a.status === 'failed' ? a : null }, 20_000, 'the reaper to fail the build')
      t.match(failed, { errorCode: 'DSR_ARCHIVE_WORKER_LOST', leaseOwner: null, expiresAt: Date })
      const events = (await app.inject({ url: `/v1/requests/${id}/events`, headers: auth() })).json().data as Array<{ action: string, details: Record<string, unknown> }>
      t.match(events.filter((e) => e.action === 'archive_failed').at(-1), { details: { archive_id: failed.id, error_code: 'DSR_ARCHIVE_WORKER_LOST' } })
      const rebuilt = await app.inject({ method: 'POST', url: `/v1/requests/${id}/archive/rebuild`, headers: auth('admin') })
      t.equal(rebuilt.statusCode, 202, rebuilt.body)
      await waitFor(async () => (await status(id)).status === 'ready' || null, 20_000, 'the rebuilt archive to be ready')
    })

    await t.test('a queued build whose job a worker took and lost is queued again', async (t) => {
      // A restart between pg-boss marking a job `active` and the worker hearing of it: the job is
      // held `active` until it expires (6 hours), and nothing claims the archive. The build is
      // queued as a closing request queues it, and its job taken by nobody, in one transaction.
      const other = await archivedRequest(app)
      const before = await status(other.id)
      const completedJobs = async () => (await app.dbh.rows<{ n: number }>(sql`
        select count(*)::int as n from pgboss.job where name = 'dsr_archive' and data->>'requestId' = ${other.id} and state = 'completed'`))[0]!.n
      const built = await completedJobs()
      await app.dbh.transaction(async (tx) => {
        await tx.rows(sql`update archives set status = 'failed' where request_id = ${other.id}`)
        const deps = { archives, items: createItemsRepository(app.dbh), requests: createRequestsRepository(app.dbh), boss: app.engine.boss, leaseMs: 2000 }
        t.match(await queueArchiveBuild(other.id, deps, { actor: 'test', reason: 'lost job' }, tx), { kind: 'queued' })
        await tx.rows(sql`update pgboss.job set state = 'active', started_on = now() - interval '1 hour'
          where name = 'dsr_archive' and data->>'requestId' = ${other.id} and state = 'created'`)
      })
      t.match(await status(other.id), { status: 'building', leaseOwner: null, leaseExpiresAt: Date }, 'queued, with a time to be claimed by')
      const ready = await waitFor(async () => { const a = await status(other.id); return a.status === 'ready' ? a : null }, 20_000, 'the lost build to be queued again and built')
      t.not(ready.id, before.id, 'built again')
      // pg-boss marks the job completed after its handler returned, so shortly after the archive is ready.
      const completed = await waitFor(async () => { const n = await completedJobs(); return n > built ? n : null }, 20_000, 'the job queued again to complete')
      t.ok(completed > built, 'by a job queued again')
      await new Promise((resolve) => setTimeout(resolve, 2500)) // more reaper rounds: nothing is queued once it is built
      const [open] = await app.dbh.rows<{ n: number }>(sql`
        select count(*)::int as n from pgboss.job where name = 'dsr_archive' and data->>'requestId' = ${other.id} and state in ('created', 'retry')`)
      t.equal(open!.n, 0, 'and none is queued once it is ready')
    })

    await t.test('an admin rebuilds a build whose lease ran out without waiting for the reaper', async (t) => {
      // A second request whose engine is stopped: nothing reaps, so only the admin's rebuild moves it.
      const other = await archivedRequest(app)
      await app.engine.stop()
      const claim = await dieMidBuild(t, other.id)
      await waitFor(async () => (await status(other.id)).leaseExpiresAt! <= new Date() || null, 5_000, 'the lease to run out')
      const rebuilt = await app.inject({ method: 'POST', url: `/v1/requests/${other.id}/archive/rebuild`, headers: auth('admin') })
      t.equal(rebuilt.statusCode, 202, `rebuildable once its holder is gone: ${rebuilt.body}`)
      const after = await status(other.id)
      t.not(after.id, claim.id, 'superseded: the dead holder can no longer mark it ready')
      t.match(after, { status: 'building', leaseOwner: null, buildAttempts: 0 })
      const [job] = await app.dbh.rows<{ n: number }>(sql`select count(*)::int as n from pgboss.job where name = 'dsr_archive' and data->>'requestId' = ${other.id} and state = 'created'`)
      t.equal(job!.n, 1, 'its build is queued')
      const live = await app.inject({ method: 'POST', url: `/v1/requests/${id}/archive/rebuild`, headers: auth('admin') })
      t.equal(live.json().code, 'DSR_ARCHIVE_NOT_REBUILDABLE', 'a ready archive still is not rebuilt')
    })
  })
}
