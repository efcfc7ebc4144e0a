import t from 'tap'
import { sql } from 'drizzle-orm'
import { auth, build, registryOf, requestBody, waitFor } from '../helper.js'
import type { MemoryConnector } from '../../connectors/memory/index.js'
import { missingSystems, systemsOf, UNFINISHED_CODE } from '../../src/archive/completeness.js'
import { overviewHtml } from '../../src/archive/html.js'
import { manifestHeader } from '../../src/archive/manifest.js'
import { readmeText } from '../../src/archive/readme.js'
import { createArchivesRepository } from '../../src/db/repositories/archives-repository.js'
import { ADA, CONTROLLER, env, readZip, sha256, systems } from './fixtures.js'

/**
 * A request whose Help Desk search fails for good (401): the person still gets an archive of
 * what the CRM held, saying which system is missing and why; once the fault is fixed and the task
 * retried, a complete archive replaces it. Also: rebuilding an archive, and retention of partial ones.
 */

const DAY = 86_400_000
const AUTH_FAULT = { status: 401, times: 1000 }

interface Completeness { complete: boolean, systems: Array<{ connector: string, status: string, error_code?: string, skip_reason?: string }> }
interface Manifest { completeness: Completeness, format_version: number, files: Array<{ path: string, connector: string | null }> }
interface Event { action: string, actor: string, reason: string | null, details: Record<string, unknown> }

const registry = await registryOf(systems())
const helpDesk = registry.get('support')!.connector as MemoryConnector
helpDesk.setFault('collect', AUTH_FAULT)
const app = await build(t, { registry, env: { ...env, ARCHIVE_RETENTION_DAYS: '30', COLLECTED_ITEMS_RETENTION_DAYS: '7' } })
const archives = createArchivesRepository(app.dbh)

type Request = { id: string, status: string, archive: { status: string } | null, tasks: Array<{ id: string, connector: string, status: string }> }

const getRequest = async (id: string): Promise<Request> => (await app.inject({ url: `/v1/requests/${id}`, headers: auth() })).json()
const events = async (id: string): Promise<Event[]> => (await app.inject({ url: `/v1/requests/${id}/events?limit=200`, headers: auth() })).json().data
const itemCount = async (id: string) => Number((await app.dbh.rows<{ n: number }>(sql`select count(*)::int as n from collected_items where request_id = ${id}`))[0]?.n)

/** Waits until the request is `status` and has a ready archive other than `notArchive`. */
async function closedWithArchive (id: string, status: string, notArchive?: string) {
  return waitFor(async () => {
    const body = await getRequest(id)
    if (body.archive?.status === 'failed') throw new Error('the archive build failed')
    if (body.status !== status || body.archive?.status !== 'ready') return null
    const row = (await archives.forRequest(id))!
    return row.id !== notArchive ? { request: body, row } : null
  }, 60_000, `request ${id} ${status} with a ready archive`)
}

async function newRequest (): Promise<string> {
  const created = await app.inject({
    method: 'POST',
    url: '/v1/requests',
    headers: auth(),
    payload: requestBody({ subject: { email: ADA }, verification: { method: 'account_login' } })
  })
  if (created.statusCode !== 202) throw new Error(`request not created: ${created.body}`)
  return created.json().id
}

async function download (id: string) {
  const res = await app.inject({ url: `/v1/requests/${id}/archive`, headers: auth() })
  if (res.statusCode !== 200) throw new Error(`download: ${res.statusCode} ${res.body}`)
  const entries = await readZip(res.rawPayload)
  const text = (path: string) => entries.get(path)!.data.toString('utf8')
  return { zip: res.rawPayload, entries, text, manifest: JSON.parse(text('manifest.json')) as Manifest }
}

const createLink = async (id: string) => {
  const res = await app.inject({ method: 'POST', url: `/v1/requests/${id}/archive/links`, headers: auth(), payload: {} })
  if (res.statusCode !== 201) throw new Error(`link: ${res.statusCode} ${res.body}`)
  return res.json() as { id: string, url: string }
}
const rebuild = (id: string, who: Parameters<typeof auth>[0] = 'admin') => app.inject({ method: 'POST', url: `/v1/requests/${id}/archive/rebuild`, headers: auth(who) })

const id = await newRequest()
const first = await closedWithArchive(id, 'partially_completed')

t.test('one system fails for good: the request is partially completed and the person gets what was found', async (t) => {
  const support = first.request.tasks.find((x) => x.connector === 'support')
  t.match(support, { status: 'failed', last_error_code: 'DSR_CONNECTOR_AUTH' })
  const { zip, entries, text, manifest } = await download(id)
  t.strictSame(manifest.completeness, {
    complete: false,
    systems: [{ connector: 'crm', status: 'collected' }, { connector: 'support', status: 'failed', error_code: 'DSR_CONNECTOR_AUTH' }]
  }, 'the manifest names the failed system with its code')
  t.match((await getRequest(id)).archive, { status: 'ready', complete: false, missing: [{ connector: 'support', status: 'failed', error_code: 'DSR_CONNECTOR_AUTH' }] },
    'the request says so too, without opening the archive')
  t.equal(manifest.format_version, 1, 'an added field: the format version stays')

  const paths = [...entries.keys()]
  for (const path of ['data/crm/contacts.ndjson', 'data/crm/contacts.csv', 'schemas/crm/contacts.schema.json', 'files/crm/documents/1-photo.png']) {
    t.ok(entries.has(path), `${path}: what the CRM holds is there`)
  }
  t.strictSame(paths.filter((p) => p.includes('support')), [], 'nothing of the Help Desk: no data, schema or files')
  t.notOk(manifest.files.some((f) => f.connector === 'support'), 'nor in the manifest\'s files')

  const readme = text('README.txt')
  t.match(readme, /THIS ARCHIVE IS INCOMPLETE[\s\S]*1 of the 2 systems this request covers was not searched[\s\S]*- Help Desk \(support\): the system refused our access[^\r\n]*\[DSR_CONNECTOR_AUTH\]/)
  t.ok(readme.indexOf('INCOMPLETE') < readme.indexOf('Request:'), 'README.txt says so at the top')
  t.notMatch(readme, /This archive is complete/)

  const html = text('index.html')
  t.match(html, /<section class="incomplete" data-complete="false"[^>]*>\s*<h2>This archive is incomplete<\/h2>/)
  t.match(html, /<li data-connector="support" data-status="failed" data-error-code="DSR_CONNECTOR_AUTH"><strong>Help Desk<\/strong>: the system refused our access/)
  t.ok(html.indexOf('class="incomplete"') < html.indexOf('<main>'), 'index.html says so at the top')
  t.notMatch(html, /<section data-connector="support"/, 'no section for the system that was not searched')
  t.match(html, /<section data-connector="crm">/)

  t.notOk(JSON.stringify(manifest.completeness).includes(ADA), 'no personal data in the statement')
  const ready = (await events(id)).find((e) => e.action === 'archive_ready')!
  t.match(ready.details, { complete: false, missing: ['support'], bytes: zip.length })
  t.equal(first.request.archive && (first.request.archive as { sha256?: string }).sha256, sha256(zip))
})

t.test('rebuild: admin only; refused while ready; after a failed build it builds again and supersedes the old links', async (t) => {
  const link = await createLink(id)
  t.equal((await app.inject({ url: link.url })).statusCode, 200, 'the person\'s link works')

  for (const who of ['writer', 'reader'] as const) {
    const refused = await rebuild(id, who)
    t.equal(refused.statusCode, 403, `${who}: 403`)
    t.equal(refused.json().code, 'DSR_FORBIDDEN')
  }
  const ready = await rebuild(id)
  t.equal(ready.statusCode, 409, 'a ready archive is not rebuilt')
  t.equal(ready.json().code, 'DSR_ARCHIVE_NOT_REBUILDABLE')
  const unknown = await rebuild('00000000-0000-4000-8000-000000000000')
  t.equal(unknown.statusCode, 404)
  t.equal(unknown.json().code, 'DSR_REQUEST_NOT_FOUND')

  // What a failed Help Desk attempt left behind must stay out of the archive all the same.
  const supportTask = first.request.tasks.find((x) => x.connector === 'support')!
  await app.dbh.rows(sql`insert into collected_items (request_id, task_id, connector_id, stream, item_key, kind, data)
    values (${id}, ${supportTask.id}, 'support', 'tickets', 'half', 'record', ${JSON.stringify({ id: 'half', requester: ADA, subject: 'half-collected' })}::jsonb)`)
  await app.dbh.rows(sql`update archives set status = 'failed', error_code = 'DSR_ARCHIVE_BUILD_FAILED' where request_id = ${id}`)
  const before = (await archives.forRequest(id))!
  t.equal((await app.inject({ url: `/v1/requests/${id}/archive`, headers: auth() })).statusCode, 409, 'failed: nothing to download')

  const accepted = await rebuild(id)
  t.equal(accepted.statusCode, 202)
  t.match(accepted.json(), { status: 'building', size: null, sha256: null, links: { download: `/v1/requests/${id}/archive` } })
  const superseded = await app.inject({ url: link.url })
  t.equal(superseded.statusCode, 410, 'the old link stops working')
  t.equal(superseded.json().code, 'DSR_LINK_SUPERSEDED')

  const rebuilt = await closedWithArchive(id, 'partially_completed', before.id)
  t.not(rebuilt.row.id, before.id)
  const { zip, entries, manifest } = await download(id)
  t.equal(sha256(zip), rebuilt.row.sha256)
  t.equal(manifest.completeness.complete, false)
  t.notOk([...entries.keys()].some((p) => p.includes('support')), 'the failed system\'s leftovers are not archived')
  t.notOk(zip.includes(Buffer.from('half-collected')))
  const trail = await events(id)
  t.match(trail.find((e) => e.action === 'archive_rebuild_requested'), { actor: 'admin', details: { archive_id: before.id, previous_status: 'failed', error_code: 'DSR_ARCHIVE_BUILD_FAILED' } })
  t.match(trail.find((e) => e.action === 'archive_superseded'), { actor: 'admin', details: { archive_id: before.id, previous_status: 'failed', links_revoked: 1 } })
  t.equal((await rebuild(id)).statusCode, 409, 'and now it is ready again')
})

t.test('the failed system is fixed and its task retried: the request completes and a complete archive replaces the partial one', async (t) => {
  const partial = (await archives.forRequest(id))!
  const link = await createLink(id)
  const revoked = await createLink(id)
  t.equal((await app.inject({ method: 'DELETE', url: `/v1/requests/${id}/archive/links/${revoked.id}`, headers: auth() })).statusCode, 204)

  helpDesk.setFault('collect', null) // credentials fixed, say
  const task = (await getRequest(id)).tasks.find((x) => x.connector === 'support')!
  const retried = await app.inject({ method: 'POST', url: `/v1/requests/${id}/tasks/${task.id}/retry`, headers: auth() })
  t.equal(retried.statusCode, 200)
  t.equal(retried.json().status, 'in_progress', 'the request reopens')

  const done = await closedWithArchive(id, 'completed', partial.id)
  const { entries, text, manifest } = await download(id)
  t.strictSame(manifest.completeness, {
    complete: true, systems: [{ connector: 'crm', status: 'collected' }, { connector: 'support', status: 'collected' }]
  })
  t.match((await getRequest(id)).archive, { complete: true, missing: [] }, 'the request shows the rebuilt archive complete')
  const tickets = text('data/support/tickets.ndjson').trim().split('\n').map((l) => JSON.parse(l) as { id: string })
  t.strictSame(tickets.map((r) => r.id), ['t1', 't2', 't3'], 'the Help Desk\'s records are in now')
  t.ok(entries.has('data/crm/contacts.ndjson'), 'with the CRM\'s still')
  t.match(text('README.txt'), /^YOUR PERSONAL DATA\r\n=+\r\n\r\nThis archive is complete: all 2 systems this request covers were searched\./)
  t.notMatch(text('README.txt'), /INCOMPLETE/)
  t.match(text('index.html'), /<p class="complete" data-complete="true">/)
  t.notMatch(text('index.html'), /class="incomplete"/)

  t.equal(await app.storage.size(partial.storageKey!), null, 'the partial archive\'s file is deleted')
  const old = await app.inject({ url: link.url })
  t.equal(old.statusCode, 410, 'its link stops working')
  t.equal(old.json().code, 'DSR_LINK_SUPERSEDED')
  const stillRevoked = await app.inject({ url: revoked.url })
  t.equal(stillRevoked.statusCode, 403, 'a link revoked by hand stays revoked')
  t.equal(stillRevoked.json().code, 'DSR_LINK_REVOKED')
  const fresh = await createLink(id)
  const got = await app.inject({ url: fresh.url })
  t.equal(got.statusCode, 200, 'a new link gets the new archive')
  t.equal(sha256(got.rawPayload), done.row.sha256)

  const [count] = await app.dbh.rows<{ n: number }>(sql`select count(*)::int as n from archives where request_id = ${id}`)
  t.equal(Number(count?.n), 1, 'one archive per request')
  const trail = await events(id)
  t.match(trail.filter((e) => e.action === 'archive_superseded').at(-1), {
    actor: 'engine', reason: 'request completed', details: { archive_id: partial.id, previous_status: 'ready', links_revoked: 1 }
  })
  t.match(trail.filter((e) => e.action === 'archive_ready').at(-1), { details: { complete: true, missing: [] } })
})

t.test('retention: a partially completed request\'s items and archive expire like a completed one\'s; then no rebuild', async (t) => {
  helpDesk.setFault('collect', AUTH_FAULT)
  const partialId = await newRequest()
  const { row } = await closedWithArchive(partialId, 'partially_completed')
  const readyAt = row.readyAt!.getTime()
  t.match(row, { status: 'ready', expiresAt: new Date(readyAt + 30 * DAY) }, 'kept ARCHIVE_RETENTION_DAYS like any archive')
  const fileKeys = (await app.dbh.rows<{ key: string }>(sql`select file->>'storageKey' as key from collected_items where request_id = ${partialId} and kind = 'file'`)).map((r) => r.key)
  t.equal(await itemCount(partialId), 5, 'the CRM\'s two records and three files')

  t.strictSame(await app.engine.sweepExpiredArchives(new Date(readyAt + 6 * DAY)), { archives: 0, itemSets: 0 }, 'nothing before its time')
  // Both requests' items are due: the first (completed) one's and this partial one's.
  t.strictSame(await app.engine.sweepExpiredArchives(new Date(readyAt + 7 * DAY + 1000)), { archives: 0, itemSets: 2 })
  t.equal(await itemCount(partialId), 0, 'collected items deleted after COLLECTED_ITEMS_RETENTION_DAYS')
  for (const key of fileKeys) t.equal(await app.storage.size(key), null, 'with their stored files')
  t.match((await events(partialId)).find((e) => e.action === 'collected_items_deleted'), { actor: 'retention', details: { records_deleted: 2, files_deleted: 3 } })
  t.equal((await app.inject({ url: `/v1/requests/${partialId}/archive`, headers: auth() })).statusCode, 200, 'the archive still downloads')

  // Its build fails later, say: the collected data is gone, so it cannot be rebuilt.
  await app.dbh.rows(sql`update archives set status = 'failed', error_code = 'DSR_ARCHIVE_BUILD_FAILED' where request_id = ${partialId}`)
  const swept = await rebuild(partialId)
  t.equal(swept.statusCode, 409)
  t.equal(swept.json().code, 'DSR_ARCHIVE_ITEMS_SWEPT')
  t.match((await archives.forRequest(partialId))!, { id: row.id, status: 'failed' }, 'the row is untouched')

  t.strictSame(await app.engine.sweepExpiredArchives(new Date(readyAt + 30 * DAY + 1000)), { archives: 2, itemSets: 0 })
  t.match((await archives.forRequest(partialId))!, { status: 'expired', deletedAt: Date })
  t.equal(await app.storage.size(row.storageKey!), null, 'the zip is deleted')
  const gone = await app.inject({ url: `/v1/requests/${partialId}/archive`, headers: auth() })
  t.equal(gone.statusCode, 410)
  t.equal(gone.json().code, 'DSR_ARCHIVE_EXPIRED')
  t.match(await getRequest(partialId), { status: 'partially_completed', archive: { status: 'expired' } }, 'the request stays')
  const expired = await rebuild(partialId)
  t.equal(expired.statusCode, 409, 'an expired archive whose data is gone is not rebuilt')
  t.equal(expired.json().code, 'DSR_ARCHIVE_ITEMS_SWEPT')

  // The failed system is retried after all: what it collects cannot make a truthful archive (the
  // rest is gone), so none is built, and the next sweep deletes it.
  helpDesk.setFault('collect', null)
  const task = (await getRequest(partialId)).tasks.find((x) => x.connector === 'support')!
  t.equal((await app.inject({ method: 'POST', url: `/v1/requests/${partialId}/tasks/${task.id}/retry`, headers: auth() })).statusCode, 200)
  await waitFor(async () => (await getRequest(partialId)).status === 'completed', 30_000, 'the retried request to complete')
  t.equal(await itemCount(partialId), 3, 'the Help Desk\'s tickets, collected by the retry')
  t.match((await archives.forRequest(partialId))!, { status: 'failed', errorCode: 'DSR_ARCHIVE_ITEMS_SWEPT', expiresAt: Date }, 'no rebuild; due for retention now')
  t.match((await events(partialId)).find((e) => e.action === 'archive_not_rebuilt'), { actor: 'engine', details: { error_code: 'DSR_ARCHIVE_ITEMS_SWEPT' } })
  t.strictSame(await app.engine.sweepExpiredArchives(new Date(Date.now() + 1000)), { archives: 1, itemSets: 0 })
  t.equal(await itemCount(partialId), 0, 'what the retry collected is deleted too')
  t.match((await archives.forRequest(partialId))!, { status: 'expired' })
  t.notOk(JSON.stringify(await events(partialId)).includes(ADA), 'no personal data in the trail')
})

t.test('a closed request without an archive (closed before partial results were archived): its items go after COLLECTED_ITEMS_RETENTION_DAYS', async (t) => {
  helpDesk.setFault('collect', AUTH_FAULT)
  const legacyId = await newRequest()
  const { row } = await closedWithArchive(legacyId, 'partially_completed')
  await app.dbh.rows(sql`delete from archives where request_id = ${legacyId}`)
  await app.storage.delete(row.storageKey!)
  const [closed] = await app.dbh.rows<{ at: string }>(sql`select max(at) as at from request_events where request_id = ${legacyId} and action = 'transition'`)
  const closedAt = new Date(closed!.at).getTime()
  t.equal(await itemCount(legacyId), 5)
  t.strictSame(await app.engine.sweepExpiredArchives(new Date(closedAt + 6 * DAY)), { archives: 0, itemSets: 0 })
  t.strictSame(await app.engine.sweepExpiredArchives(new Date(closedAt + 7 * DAY + 1000)), { archives: 0, itemSets: 1 })
  t.equal(await itemCount(legacyId), 0)
  t.match((await events(legacyId)).find((e) => e.action === 'collected_items_deleted'), { actor: 'retention', details: { records_deleted: 2, files_deleted: 3 } })
  const refused = await rebuild(legacyId)
  t.equal(refused.statusCode, 409, 'nothing left to build from')
  t.equal(refused.json().code, 'DSR_ARCHIVE_ITEMS_SWEPT')
})

t.test('the statement for each outcome: skipped with its reason, failed with its code, unfinished', async (t) => {
  const systems = systemsOf([
    { connectorId: 'support', status: 'skipped', lastErrorCode: 'DSR_CONNECTOR_AUTH', skipReason: 'Help desk retired\nin 2024' },
    { connectorId: 'crm', status: 'succeeded', lastErrorCode: null, skipReason: null },
    { connectorId: 'shop', status: 'failed', lastErrorCode: 'DSR_CONNECTOR_TIMEOUT', skipReason: null },
    { connectorId: 'wiki', status: 'pending', lastErrorCode: null, skipReason: null }
  ])
  t.strictSame(manifestHeader({ id: 'r', type: 'access', regime: 'gdpr' }, new Date(0), systems).completeness, {
    complete: false,
    systems: [
      { connector: 'crm', status: 'collected' },
      { connector: 'shop', status: 'failed', error_code: 'DSR_CONNECTOR_TIMEOUT' },
      { connector: 'support', status: 'skipped', skip_reason: 'Help desk retired in 2024' },
      { connector: 'wiki', status: 'failed', error_code: UNFINISHED_CODE }
    ]
  }, 'sorted by connector; the skip reason on one line; a task reopened meanwhile counts as not searched')
  const missing = missingSystems(systems, (id) => id.toUpperCase())
  const readme = readmeText({ requestId: 'r', requestType: 'access', regime: 'gdpr', generatedAt: new Date(0), systems: systems.length, missing, controller: CONTROLLER, sections: [] })
  t.match(readme, /3 of the 4 systems this request covers were not searched/)
  t.match(readme, / {2}- SHOP \(shop\): the system did not answer in time \[DSR_CONNECTOR_TIMEOUT\]\r\n/)
  t.match(readme, / {2}- SUPPORT \(support\): not searched: Help desk retired in 2024\r\n/, 'a skipped system has no code, its reason')
  t.match(readme, / {2}- WIKI \(wiki\): the search had not finished when this archive was made \[DSR_TASK_UNFINISHED\]/)
  let html = ''
  for await (const chunk of overviewHtml({
    requestId: 'r',
    requestType: 'access',
    regime: 'gdpr',
    generatedAt: new Date(0),
    systems: [],
    missing: [{ ...missing[1]!, displayName: '<b>Support</b>' }],
    controller: CONTROLLER,
    attachments: async function * () {},
    records: async function * () {},
    columns: () => []
  })) html += chunk
  t.match(html, /<li data-connector="support" data-status="skipped"><strong>&#60;b&#62;Support&#60;\/b&#62;<\/strong>: not searched: Help desk retired in 2024<\/li>/, 'escaped, no code attribute')
  t.equal(manifestHeader({ id: 'r', type: 'access', regime: 'gdpr' }, new Date(0), systemsOf([
    { connectorId: 'crm', status: 'succeeded', lastErrorCode: null, skipReason: null }
  ])).completeness.complete, true)
})
