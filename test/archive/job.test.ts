import t from 'tap'
import { Readable } from 'node:stream'
import { sql } from 'drizzle-orm'
import { auth, requestBody, waitFor } from '../helper.js'
import { createArchiveJob } from '../../src/archive/job.js'
import { createArchivesRepository } from '../../src/db/repositories/archives-repository.js'
import { ADA, completedArchive, CONTROLLER, readZip, sha256 } from './fixtures.js'

const { app, id, registry } = await completedArchive(t)
const archives = createArchivesRepository(app.dbh)
const runJob = createArchiveJob({ dbh: app.dbh, storage: app.storage, registry, log: app.log, retentionDays: 30, controller: CONTROLLER, encryptionKey: null })
const HOLDER = { worker: 'test-worker', leaseMs: 30_000 }
const setBuilding = () => app.dbh.rows(sql`update archives set status = 'building' where request_id = ${id}`)

t.test('a redelivered job leaves a ready archive alone', async (t) => {
  const before = (await archives.forRequest(id))!
  await runJob(id, { retryCount: 0, retryLimit: 3 }, HOLDER)
  const after = (await archives.forRequest(id))!
  t.match(after, { id: before.id, status: 'ready', sha256: before.sha256, storageKey: before.storageKey })
  t.ok(await app.storage.size(before.storageKey!), 'its file is untouched')
})

t.test('a rebuild replaces a half-built archive', async (t) => {
  const before = (await archives.forRequest(id))!
  await setBuilding()
  await app.storage.put(before.storageKey!, Readable.from([Buffer.from('half a zip')])) // what a crashed attempt left
  await runJob(id, { retryCount: 1, retryLimit: 3 }, HOLDER)
  const after = (await archives.forRequest(id))!
  t.not(after.id, before.id, 'the attempt builds under a fresh id')
  t.equal(after.status, 'ready')
  t.equal(after.storageKey, `archives/${id}/${after.id}.zip`)
  t.equal(await app.storage.size(before.storageKey!), null, 'the half-built file is gone')
  const zip = (await app.inject({ url: `/v1/requests/${id}/archive`, headers: auth() })).rawPayload
  t.equal(sha256(zip), after.sha256)
  const manifest = JSON.parse((await readZip(zip)).get('manifest.json')!.data.toString())
  t.equal(manifest.request.id, id)
})

t.test('a failed attempt whose record never answers ends, and stops holding its lease', async (t) => {
  // A database call lost with its connection in a restart never settles: here, every transaction.
  // The attempt used to wait on it for good, renewing its lease all the while, so nothing ever took
  // the build over and the archive stayed `building`.
  const lost = Object.assign(Object.create(app.dbh) as typeof app.dbh, { transaction: () => new Promise<never>(() => {}) })
  const full = { ...app.storage, put: async () => { throw new Error('no space left on device') } }
  const failing = createArchiveJob({ dbh: lost, storage: full, registry, log: app.log, retentionDays: 30, controller: CONTROLLER, encryptionKey: null })
  await setBuilding()
  const leaseMs = 600
  const started = Date.now()
  await t.rejects(failing(id, { retryCount: 0, retryLimit: 3 }, { worker: 'test-worker', leaseMs }), { message: 'no space left on device' })
  const took = Date.now() - started
  t.ok(took < 10 * leaseMs, `the attempt ended (${took} ms)`)
  const held = (await archives.forRequest(id))!
  t.match(held, { status: 'building', leaseOwner: 'test-worker' }, 'its failure is unrecorded')
  await new Promise((resolve) => setTimeout(resolve, 3 * leaseMs))
  const after = (await archives.forRequest(id))!
  t.ok(after.leaseExpiresAt! < new Date(), 'the lease is not renewed: it runs out, for the reaper to queue the build again')
  await runJob(id, { retryCount: 1, retryLimit: 3 }, HOLDER) // leave it ready for the tests below
})

t.test('a stored file that no longer matches its hash fails the build; the last attempt marks it failed', async (t) => {
  const [file] = await app.dbh.rows<{ key: string }>(sql`select file->>'storageKey' as key from collected_items where request_id = ${id} and kind = 'file' order by id limit 1`)
  await app.storage.put(file!.key, Readable.from([Buffer.from('not the collected photo')]))
  await setBuilding()
  await t.rejects(runJob(id, { retryCount: 0, retryLimit: 1 }, HOLDER), { code: 'DSR_ARCHIVE_ITEM_CORRUPT' })
  const retrying = (await archives.forRequest(id))!
  t.match(retrying, { status: 'building', errorCode: 'DSR_ARCHIVE_ITEM_CORRUPT' }, 'not failed while retries are left')
  t.equal(await app.storage.size(retrying.storageKey!), null, 'no half-built file is kept')
  await t.rejects(runJob(id, { retryCount: 1, retryLimit: 1 }, HOLDER), { code: 'DSR_ARCHIVE_ITEM_CORRUPT' })
  const failed = (await archives.forRequest(id))!
  t.match(failed, { status: 'failed', errorCode: 'DSR_ARCHIVE_ITEM_CORRUPT', expiresAt: Date }, 'failed, and due for retention')
  t.match((await app.inject({ url: `/v1/requests/${id}`, headers: auth() })).json().archive, { status: 'failed', sha256: null })
  const download = await app.inject({ url: `/v1/requests/${id}/archive`, headers: auth() })
  t.equal(download.json().code, 'DSR_ARCHIVE_NOT_READY')
  const events = (await app.inject({ url: `/v1/requests/${id}/events`, headers: auth() })).json().data as Array<{ action: string, details: Record<string, unknown> }>
  t.match(events.filter((e) => e.action === 'archive_failed'), [{ details: { error_code: 'DSR_ARCHIVE_ITEM_CORRUPT' } }], 'recorded once')
})

t.test('only completed access and portability requests get an archive', async (t) => {
  const erasure = (await app.inject({
    method: 'POST',
    url: '/v1/requests',
    headers: auth(),
    payload: requestBody({ type: 'erasure', subject: { email: ADA }, verification: { method: 'account_login' } })
  })).json()
  const done = await waitFor(async () => {
    const body = (await app.inject({ url: `/v1/requests/${erasure.id}`, headers: auth() })).json()
    return body.status === 'completed' ? body : null
  })
  t.equal(done.archive, null)
  const portability = (await app.inject({
    method: 'POST',
    url: '/v1/requests',
    headers: auth(),
    payload: requestBody({ type: 'portability', subject: { email: 'nobody@example.com' }, verification: { method: 'account_login' } })
  })).json()
  const ready = await waitFor(async () => {
    const body = (await app.inject({ url: `/v1/requests/${portability.id}`, headers: auth() })).json()
    return body.archive?.status === 'ready' ? body : null
  })
  const entries = await readZip((await app.inject({ url: `/v1/requests/${ready.id}/archive`, headers: auth() })).rawPayload)
  t.ok(entries.has('index.html') && entries.has('manifest.json'), 'a person found nowhere still gets an archive saying so')
  t.match(entries.get('index.html')!.data.toString(), /data-records="0"/)
  t.notOk([...entries.keys()].some((p) => p.startsWith('data/')), 'with no data files')
})
