import t from 'tap'
import { sql } from 'drizzle-orm'
import { auth } from '../helper.js'
import { ConfigError, loadConfig } from '../../src/config.js'
import { createArchivesRepository } from '../../src/db/repositories/archives-repository.js'
import { ADA, archivedRequest, completedArchive } from './fixtures.js'

const DAY = 86_400_000

t.test('COLLECTED_ITEMS_RETENTION_DAYS may not exceed ARCHIVE_RETENTION_DAYS', async (t) => {
  t.throws(() => loadConfig({ ARCHIVE_RETENTION_DAYS: '10', COLLECTED_ITEMS_RETENTION_DAYS: '11' }), ConfigError)
  t.equal(loadConfig({ ARCHIVE_RETENTION_DAYS: '10', COLLECTED_ITEMS_RETENTION_DAYS: '3' }).COLLECTED_ITEMS_RETENTION_DAYS, 3)
})

// Items are kept 7 days, the archive 30.
const { app, id } = await completedArchive(t, { env: { ARCHIVE_RETENTION_DAYS: '30', COLLECTED_ITEMS_RETENTION_DAYS: '7' } })
const archive = (await createArchivesRepository(app.dbh).forRequest(id))!
const readyAt = archive.readyAt!.getTime()
const itemCount = async (of = id) => Number((await app.dbh.rows<{ n: number }>(sql`select count(*)::int as n from collected_items where request_id = ${of}`))[0]?.n)
const fileKeys = (await app.dbh.rows<{ key: string }>(sql`select file->>'storageKey' as key from collected_items where request_id = ${id} and kind = 'file'`)).map((r) => r.key)
const events = async () => (await app.inject({ url: `/v1/requests/${id}/events`, headers: auth() })).json().data as Array<{ action: string, actor: string, details: Record<string, unknown> }>

t.test('nothing is deleted before its time', async (t) => {
  t.strictSame(await app.engine.sweepExpiredArchives(new Date(readyAt + 6 * DAY)), { archives: 0, itemSets: 0 })
  t.equal(await itemCount(), 8, 'five records and three files')
  t.equal(fileKeys.length, 3)
})

t.test('collected items go after COLLECTED_ITEMS_RETENTION_DAYS; the archive stays', async (t) => {
  t.strictSame(await app.engine.sweepExpiredArchives(new Date(readyAt + 7 * DAY + 1000)), { archives: 0, itemSets: 1 })
  t.equal(await itemCount(), 0, 'no collected items')
  for (const key of fileKeys) t.equal(await app.storage.size(key), null, `stored item file ${key} deleted`)
  t.equal((await app.inject({ url: `/v1/requests/${id}/archive`, headers: auth() })).statusCode, 200, 'the archive still downloads')
  t.match((await events()).find((e) => e.action === 'collected_items_deleted'), { actor: 'retention', details: { records_deleted: 5, files_deleted: 3 } })
  t.strictSame(await app.engine.sweepExpiredArchives(new Date(readyAt + 8 * DAY)), { archives: 0, itemSets: 0 }, 'once')
})

t.test('after ARCHIVE_RETENTION_DAYS the archive is deleted and marked expired; the request stays', async (t) => {
  t.ok(await app.storage.size(archive.storageKey!), 'the zip is there before')
  t.strictSame(await app.engine.sweepExpiredArchives(new Date(readyAt + 30 * DAY + 1000)), { archives: 1, itemSets: 0 })
  t.equal(await app.storage.size(archive.storageKey!), null, 'the zip is deleted')
  const row = (await createArchivesRepository(app.dbh).forRequest(id))!
  t.match(row, { status: 'expired', deletedAt: Date })
  const request = await app.inject({ url: `/v1/requests/${id}`, headers: auth() })
  t.equal(request.statusCode, 200, 'the request is still readable')
  t.match(request.json(), { status: 'completed', archive: { status: 'expired' } })
  const gone = await app.inject({ url: `/v1/requests/${id}/archive`, headers: auth() })
  t.equal(gone.statusCode, 410)
  t.equal(gone.json().code, 'DSR_ARCHIVE_EXPIRED')
  const expired = (await events()).find((e) => e.action === 'archive_expired')!
  t.match(expired, { actor: 'retention', details: { archive_bytes: archive.size, records_deleted: 0, files_deleted: 0 } })
  t.strictSame(Object.keys(expired.details).sort(), ['archive_bytes', 'archive_id', 'files_deleted', 'records_deleted'], 'counts only')
  t.notOk(JSON.stringify(await events()).includes(ADA), 'no personal data in the trail')
  t.strictSame(await app.engine.sweepExpiredArchives(new Date(readyAt + 60 * DAY)), { archives: 0, itemSets: 0 }, 'idempotent')
})

t.test('at the archive\'s expiry, items still held go with it', async (t) => {
  const second = await archivedRequest(app)
  const row = (await createArchivesRepository(app.dbh).forRequest(second.id))!
  t.equal(await itemCount(second.id), 8)
  // Past both periods at once: one sweep deletes the archive, the items and their files together.
  t.strictSame(await app.engine.sweepExpiredArchives(new Date(row.readyAt!.getTime() + 31 * DAY)), { archives: 1, itemSets: 0 })
  t.equal(await itemCount(second.id), 0)
  t.equal(await app.storage.size(row.storageKey!), null)
  const trail = (await app.inject({ url: `/v1/requests/${second.id}/events`, headers: auth() })).json().data as Array<{ action: string, details: Record<string, unknown> }>
  t.match(trail.find((e) => e.action === 'archive_expired'), { details: { records_deleted: 5, files_deleted: 3, archive_bytes: row.size } })
})
