import { randomBytes } from 'node:crypto'
import t from 'tap'
import { sql } from 'drizzle-orm'
import { auth, build, testDb, waitFor } from '../helper.js'
import { ADA_KEYS, BOB_KEYS, checksums, remaining } from '../fixtures/postgres-connector.js'
import { ADA, FAST, erase, memorySystem, registryWith, shopInServiceDb, shopSystem, tombstones, type App } from './support.js'
import type { MemoryConnector } from '../../connectors/memory/index.js'

/**
 * Backups kept beyond use, and restores: Ada is erased from a Postgres shop (its backups kept 10
 * days) and a CRM (BACKUP_RETENTION_DAYS, 35). The shop is then restored from a backup taken before
 * her erasure, which brings her rows back; POST /v1/backups/restores erases her again there, through
 * the engine, and nobody else. A backup taken after her erasure re-erases nobody, nor does one once
 * her tombstone has expired (the answer counts it), nor the same restore reported twice.
 */

const DAY = 86_400_000
const SHOP_TABLES = [
  'crm.customers', 'crm.orders', 'crm.order_items', 'crm.support_tickets', 'crm.ticket_messages', 'crm.invoices',
  'crm.customer_preferences', 'public.audit_log', 'public.newsletter_subscriptions'
]
const NOTE = 'Ticket OPS-42, restored by Dora Night'

const dbh = await testDb(t)
const q = await shopInServiceDb(dbh)
const bk = (table: string) => `bk.${table.replace('.', '_')}`

/** A backup of the whole shop, as a nightly job would take it. */
async function takeBackup (): Promise<Date> {
  await dbh.executor.executeSql(`create schema bk; ${SHOP_TABLES.map((tb) => `create table ${bk(tb)} as table ${tb};`).join(' ')}`)
  return new Date()
}

/** Puts the backup back, replacing the shop's data, as an operator restoring the database would. */
async function restoreBackup (): Promise<void> {
  await dbh.executor.executeSql(`truncate ${SHOP_TABLES.join(', ')}; ${SHOP_TABLES.map((tb) => `insert into ${tb} select * from ${bk(tb)};`).join(' ')}`)
}

const requestCount = async () => Number((await dbh.rows<{ n: number }>(sql`select count(*)::int as n from requests where type = 'erasure'`))[0]!.n)
const adaLeft = async () => {
  const left = await remaining(q, ADA_KEYS)
  const [invoices] = await q('select count(*)::int as n from crm.invoices where id in (701, 702) and not anonymised')
  return { ...left, invoices: Number(invoices!.n) } as Record<string, number>
}
const ADA_GONE = { customers: 0, orders: 0, order_items: 0, support_tickets: 0, ticket_messages: 0, invoices: 0, preferences: 0, audit_log: 0, newsletter: 0 }

async function restoreCall (app: App, body: Record<string, unknown>, who: 'admin' | 'writer' = 'admin') {
  return app.inject({ method: 'POST', url: '/v1/backups/restores', headers: auth(who), payload: body })
}

async function finished (app: App, id: string) {
  return waitFor(async () => {
    const body = (await app.inject({ url: `/v1/backups/restores/${id}`, headers: auth() })).json()
    return body.status !== 'in_progress' ? body : null
  }, 60_000, `restore ${id} to finish`)
}

const logs: string[] = []
const connectors = () => registryWith(dbh, [shopSystem({ backupRetentionDays: 10 }), memorySystem('crm')])
const registry = await connectors()
const app = await build(t, { dbh, registry, env: FAST, logs })

const backupTakenAt = await takeBackup()
const bobBefore = await checksums(q, ADA_KEYS)
const ada = await erase(app, ADA)

t.test('an erasure leaves a tombstone per system that erased something, sealed by the erasure_proof job', async (t) => {
  t.equal(ada.status, 'completed')
  t.strictSame(await adaLeft(), ADA_GONE, 'Ada is gone from the shop')
  const pending = await tombstones(dbh)
  t.strictSame(pending.map((r) => r.connectorId), ['crm', 'shop'], 'one per system, written as the request closed')
  t.ok(pending.every((r) => r.sealedSubject === null && r.keptUntil === null), 'pending until the job seals them')

  const run = await app.scheduler.tick('erasure_proof', new Date())
  t.match(run, { ran: true, details: { tombstones_sealed: 2, tombstones_expired: 0 } })
  const sealed = await tombstones(dbh)
  const finishedAt = (connector: string) => new Date(ada.tasks.find((k) => k.connector === connector)!.finished_at as string)
  for (const [connector, days] of [['crm', 35], ['shop', 10]] as const) {
    const row = sealed.find((r) => r.connectorId === connector)!
    t.equal(row.retentionDays, days, `${connector}: its backup retention`)
    t.equal(row.erasedAt.getTime(), finishedAt(connector).getTime(), `${connector}: erased when its task finished`)
    t.equal(row.keptUntil!.getTime(), row.erasedAt.getTime() + days * DAY, `${connector}: kept until its last backup is gone`)
    t.match(row.sealedSubject, /^v1\.[0-9a-f]{12}\.[\w-]+\.[\w-]+\.[\w-]+$/, `${connector}: identifiers sealed`)
    // Her address, and its parts: a short string such as "ada" can occur in the key id (hex) or the ciphertext by chance.
    t.notOk(['ada.lovelace', 'lovelace', ADA].some((part) => row.sealedSubject!.toLowerCase().includes(part)), 'not readable')
    t.notOk(Buffer.from(row.sealedSubject!.split('.')[3]!, 'base64url').toString('latin1').includes('lovelace'), 'not even decoded')
  }
  const [copy] = await dbh.rows<{ n: number }>(sql`
    select count(*)::int as n from backup_tombstones a join backup_tombstones b on a.id <> b.id and a.sealed_subject = b.sealed_subject`)
  t.equal(copy!.n, 0, 'each seal has its own nonce')
})

t.test('a restore of a backup taken before the erasure erases her again there, and nobody else', async (t) => {
  await restoreBackup()
  t.strictSame(await adaLeft(), { ...ADA_GONE, ...Object.fromEntries(Object.entries(ADA_KEYS).map(([s, k]) => [s, k.length])) },
    'the restore brought every row of hers back')
  const crmErasures = (registry.get('crm')!.connector as MemoryConnector).calls.erase

  // A key is configured from now on: tombstones sealed under the key made before still open.
  const later = await build(t, { dbh, registry: await connectors(), env: { ...FAST, BACKUP_TOMBSTONE_KEY: randomBytes(32).toString('base64') }, logs })
  const res = await restoreCall(later, { connector: 'shop', backup_taken_at: backupTakenAt.toISOString(), note: NOTE })
  t.equal(res.statusCode, 202)
  const restore = res.json()
  t.match(restore, {
    id: String,
    connector: 'shop',
    backup_taken_at: backupTakenAt.toISOString(),
    note: NOTE,
    created_by: 'admin',
    count: 1,
    tombstones: { matched: 1, expired: 0, unreadable: 0 }
  })
  t.equal(restore.requests.length, 1)
  t.equal(restore.requests[0].original_request_id, ada.id, 'linked to her erasure')

  const done = await finished(later, restore.id)
  t.match(done, { status: 'completed', count: 1, re_erasures: { open: 0, completed: 1, failed: 0 } })
  t.strictSame(await adaLeft(), ADA_GONE, 'she is erased again')
  t.strictSame(await checksums(q, ADA_KEYS), bobBefore, 'everyone else\'s rows are as the backup had them, untouched')
  t.strictSame(await remaining(q, BOB_KEYS), Object.fromEntries(Object.entries(BOB_KEYS).map(([s, k]) => [s, k.length])), 'Bob is all there')
  t.equal((registry.get('crm')!.connector as MemoryConnector).calls.erase, crmErasures, 'the CRM was not restored, so not erased again')

  const again = (await later.inject({ url: `/v1/requests/${restore.requests[0].id}`, headers: auth() })).json()
  t.match(again, { type: 'erasure', status: 'completed', regime: 'gdpr', subject: { email: ADA }, channel: 'other' })
  t.strictSame(again.tasks.map((k: { connector: string, action: string }) => `${k.connector}/${k.action}`), ['shop/erase'], 'the restored system only')
  const events = (await later.inject({ url: `/v1/requests/${ada.id}/events`, headers: auth() })).json().data
  t.match(events.find((e: { action: string }) => e.action === 'erased_again_after_restore'),
    { details: { restore_id: restore.id, request_id: restore.requests[0].id, connector: 'shop' } }, 'her erasure\'s trail says so')

  const rows = await tombstones(dbh)
  t.equal(rows.length, 2, 'no second tombstone for the same person and system')
  const shop = rows.find((r) => r.connectorId === 'shop')!
  t.ok(shop.lastErasedAt.getTime() > shop.erasedAt.getTime(), 'the shop\'s tombstone now runs from the second erasure')

  const receipt = (await later.inject({ url: `/v1/requests/${restore.requests[0].id}/receipt`, headers: auth() })).json().receipt
  t.match(receipt.restore, { restore_id: restore.id, original_request_id: ada.id, backup_taken_at: backupTakenAt.toISOString() })
  t.match(receipt.not_in_scope, [{ connector: 'crm', reason: /erased only shop again/ }])

  // The same restore reported again: the same answer, and nobody erased twice.
  const before = await requestCount()
  const replay = await restoreCall(later, { connector: 'shop', backup_taken_at: backupTakenAt.toISOString(), note: NOTE })
  t.equal(replay.statusCode, 200)
  t.equal(replay.headers['idempotent-replayed'], 'true')
  t.match(replay.json(), { id: restore.id, count: 1, status: 'completed' })
  t.equal(await requestCount(), before, 'no new erasure request')
  const [{ n: links }] = await dbh.rows<{ n: number }>(sql`select count(*)::int as n from backup_restore_erasures`) as [{ n: number }]
  t.equal(links, 1)
})

t.test('a backup taken after her erasure holds nothing of hers: nobody is erased again', async (t) => {
  const before = await requestCount()
  const res = await restoreCall(app, { connector: 'shop', backup_taken_at: new Date().toISOString() })
  t.equal(res.statusCode, 202)
  t.match(res.json(), { count: 0, status: 'completed', tombstones: { matched: 0, expired: 0, unreadable: 0 }, requests: [] })
  t.equal(await requestCount(), before)
})

t.test('after kept_until the sweep deletes the sealed identifiers; a restore then re-erases nobody and reports them expired', async (t) => {
  const run = await app.scheduler.tick('erasure_proof', new Date(Date.now() + 40 * DAY))
  t.match(run, { ran: true, details: { tombstones_expired: 2 } })
  const rows = await tombstones(dbh)
  t.ok(rows.every((r) => r.sealedSubject === null && r.expiredAt !== null), 'no identifiers are held any more')
  t.equal(rows.length, 2, 'the rows stay, as a count-only record')
  const events = await dbh.rows<{ actor: string, details: Record<string, unknown> }>(sql`
    select actor, details from system_events where action = 'backup_tombstones_expired'`)
  t.strictSame(events.map((e) => e.details), [{ total: 2, connectors: { crm: 1, shop: 1 } }])
  t.notOk(JSON.stringify(events).includes('@'), 'counts only')
  const idle = await app.scheduler.tick('erasure_proof', new Date(Date.now() + 41 * DAY))
  t.match(idle, { details: { tombstones_expired: 0 } }, 'nothing left to expire')

  // The old backup is restored once more: it should not exist any more, and the answer says so.
  await restoreBackup()
  const before = await requestCount()
  const res = await restoreCall(app, { connector: 'shop', backup_taken_at: new Date(backupTakenAt.getTime() - 60_000).toISOString() })
  t.equal(res.statusCode, 202)
  t.match(res.json(), { count: 0, status: 'completed', tombstones: { matched: 0, expired: 1, unreadable: 0 } })
  t.equal(await requestCount(), before, 'nobody could be erased again')
  t.equal((await adaLeft()).customers, 1, 'her row is back and stays: the backup outlived its retention')
})

t.test('refusals', async (t) => {
  const unknown = await restoreCall(app, { connector: 'nowhere', backup_taken_at: backupTakenAt.toISOString() })
  t.equal(unknown.statusCode, 422)
  t.match(unknown.json(), { code: 'DSR_RESTORE_CONNECTOR_INVALID', message: /nowhere/ })
  const future = await restoreCall(app, { connector: 'shop', backup_taken_at: new Date(Date.now() + DAY).toISOString() })
  t.equal(future.statusCode, 400)
  t.match(future.json(), { code: 'DSR_VALIDATION_FAILED', details: [{ field: '/backup_taken_at', message: /future/ }] })
  t.equal((await restoreCall(app, { connector: 'shop', backup_taken_at: 'yesterday' })).statusCode, 400)
  t.equal((await restoreCall(app, { connector: 'shop', backup_taken_at: backupTakenAt.toISOString(), extra: 1 })).statusCode, 400)
  t.equal((await restoreCall(app, { connector: 'shop', backup_taken_at: backupTakenAt.toISOString() }, 'writer')).statusCode, 403, 'admin only')
  t.equal((await app.inject({ url: '/v1/backups/restores/00000000-0000-4000-8000-000000000000', headers: auth('reader') })).statusCode, 403)
  const missing = await app.inject({ url: '/v1/backups/restores/00000000-0000-4000-8000-000000000000', headers: auth() })
  t.equal(missing.statusCode, 404)
  t.equal(missing.json().code, 'DSR_RESTORE_NOT_FOUND')
})

t.test('nothing personal, and not the note, reached the logs', async (t) => {
  t.ok(logs.length > 0)
  const all = logs.join('').toLowerCase()
  for (const personal of ['lovelace', 'ada.', 'dora', 'ops-42']) t.notOk(all.includes(personal), `no "${personal}" in the logs`)
})
