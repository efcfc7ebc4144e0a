import t from 'tap'
import { randomBytes } from 'node:crypto'
import { sql } from 'drizzle-orm'
import { auth, build, registryOf } from '../helper.js'
import { createArchiveJob } from '../../src/archive/job.js'
import { ADA, archivedRequest, CONTROLLER, readZip, sha256 } from './fixtures.js'

/**
 * A small request's archive is built on an archive thread (ARCHIVE_THREADS, src/archive/build-thread.ts)
 * and stored from the main thread. It must be the same archive the main thread builds: the same
 * files with the same bytes, and, with a key, sealed the same way. Through the engine and pg-boss,
 * on Postgres when DATABASE_URL is set.
 */

const systems = ['crm', 'support'].map((id) => ({
  id,
  driver: 'memory',
  settings: {
    streams: [{
      name: 'records',
      match: { email: 'email' },
      records: [{ id: `${id}-1`, email: ADA, note: `${id}: Ünïcödé, "quoted", and, commas` }, { id: `${id}-2`, email: ADA, score: 42, at: '2026-01-02T03:04:05Z' }]
    }]
  }
}))

t.test('built on a thread, sealed there, the same archive as the main thread builds', async (t) => {
  const logs: string[] = []
  const registry = await registryOf(systems)
  const key = randomBytes(32).toString('base64')
  const app = await build(t, { registry, logs, env: { TASK_POLL_SECONDS: '0.5', ARCHIVE_THREADS: '1', ARCHIVE_ENCRYPTION_KEY: key } })
  const { id } = await archivedRequest(app)

  const ready = logs.map((l) => JSON.parse(l)).find((l) => l.msg === 'archive ready' && l.requestId === id)
  t.equal(ready?.thread, true, 'built on an archive thread')
  const [row] = await app.dbh.rows<{ sha256: string, encryption: unknown }>(sql`select sha256, encryption from archives where request_id = ${id}`)
  t.ok(row!.encryption, 'stored sealed')
  const onThread = (await app.inject({ url: `/v1/requests/${id}/archive`, headers: auth() })).rawPayload
  t.equal(sha256(onThread), row!.sha256, 'the download opens the seal: the zip whose hash the request names')

  // The same request built again on the main thread.
  const mainThread = createArchiveJob({ dbh: app.dbh, storage: app.storage, registry, log: app.log, retentionDays: 30, controller: CONTROLLER, encryptionKey: Buffer.from(key, 'base64'), threads: 0 })
  t.teardown(() => mainThread.close())
  await app.dbh.rows(sql`update archives set status = 'building' where request_id = ${id}`)
  await mainThread(id, { retryCount: 0, retryLimit: 3 }, { worker: 'test', leaseMs: 30_000 })
  const onMain = (await app.inject({ url: `/v1/requests/${id}/archive`, headers: auth() })).rawPayload
  const [a, b] = [await readZip(onThread), await readZip(onMain)]
  t.strictSame([...a.keys()].sort(), [...b.keys()].sort(), 'the same files')
  // Data, tables and schemas byte for byte; the pages and the manifest name the build (its id and time).
  const data = [...a.keys()].filter((n) => /^(data|schemas)\//.test(n))
  t.ok(data.length >= 6, `${data.length} data files compared`)
  for (const name of data) t.equal(sha256(a.get(name)!.data), sha256(b.get(name)!.data), name)
  const files = (zip: typeof a) => (JSON.parse(zip.get('manifest.json')!.data.toString()).files as Array<{ path: string, sha256: string, compression: string }>)
    .filter((f) => /^(data|schemas)\//.test(f.path)).map((f) => [f.path, f.sha256, f.compression])
  t.strictSame(files(a), files(b), 'the manifests list them alike')
})

t.test('with ARCHIVE_THREADS=0 every archive is built on the main thread', async (t) => {
  const logs: string[] = []
  const app = await build(t, { registry: await registryOf(systems), logs, env: { TASK_POLL_SECONDS: '0.5', ARCHIVE_THREADS: '0' } })
  const { id } = await archivedRequest(app)
  const ready = logs.map((l) => JSON.parse(l)).find((l) => l.msg === 'archive ready' && l.requestId === id)
  t.equal(ready?.thread, false)
})
