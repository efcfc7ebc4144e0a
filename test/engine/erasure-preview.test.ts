import { readFileSync } from 'node:fs'
import t from 'tap'
import { auth, build, requestBody, testDb, waitFor } from '../helper.js'
import { createRegistry, parseConnectorFile, readConnectorFile } from '../../src/connectors/registry.js'
import { ensureSampleData, SAMPLE_CONNECTORS_FILE } from '../../src/connectors/samples.js'
import { drivers } from '../../connectors/index.js'
import type { DbHandle } from '../../src/db/client.js'
import { startVendorFakes } from '../fakes/vendors.js'
import { fromRoot } from '../paths.js'

const quiet = { debug () {}, info () {}, warn () {}, error () {} }
const ADA = 'ada@example.com'

interface PreviewStream { stream: string, erase: number, mask: number, retain: number, reasons: string[] }
interface ReceiptConnector {
  connector: string
  outcomes: Array<{ stream: string, status: string, count?: number, reason?: string }>
  verification: { status: string, checked_at: string | null, checks: number }
}

/** A checksum of every table of the sample systems: md5 over its rows, table by table. */
async function checksums (dbh: DbHandle): Promise<Record<string, string>> {
  const { rows: tables } = await dbh.executor.executeSql(`
    select quote_ident(table_schema) || '.' || quote_ident(table_name) as name from information_schema.tables
     where table_type = 'BASE TABLE' and table_schema like 'sample\\_%' order by 1`)
  const out: Record<string, string> = {}
  for (const { name } of tables as Array<{ name: string }>) {
    const { rows } = await dbh.executor.executeSql(`select count(*)::int as n, md5(coalesce(string_agg(t::text, '|' order by t::text), '')) as digest from ${name} t`)
    const r = rows[0] as { n: number, digest: string }
    out[name] = `${r.n}:${r.digest}`
  }
  return out
}

for (const embedded of [false, true]) {
  t.test(`an erasure preview through the sample systems changes nothing and counts what the erasure then does (${embedded ? 'PGlite' : 'Postgres'})`, async (t) => {
    const dbh = await testDb(t, { embedded })
    await ensureSampleData(dbh)
    // The five sample systems (Postgres, embedded) and a memory system, which has no preview of its own: it is collected.
    const file = readConnectorFile(SAMPLE_CONNECTORS_FILE)
    const memory = {
      id: 'loyalty',
      driver: 'memory',
      processing: { purposes: ['Loyalty points'], retention: { rule: 'While a member' } },
      settings: { streams: [{ name: 'cards', match: { email: 'email' }, records: [{ id: 1, email: ADA, points: 10 }, { id: 2, email: ADA, points: 3 }, { id: 3, email: 'grace@example.com' }] }] }
    }
    const registry = await createRegistry(parseConnectorFile({ connectors: [...file.connectors, memory] }), { drivers, env: {}, log: quiet, serviceDatabase: dbh })
    const app = await build(t, { dbh, registry, env: { TASK_POLL_SECONDS: '0.5', TASK_RETRY_BASE_MS: '50', APPROVAL_REQUIRED: 'erasure' } })

    const erasure = (await app.inject({
      method: 'POST', url: '/v1/requests', headers: auth(), payload: requestBody({ type: 'erasure', subject: { email: ADA }, verification: { method: 'account_login' } })
    })).json()
    t.equal(erasure.status, 'awaiting_approval')

    const before = await checksums(dbh)
    t.ok(Object.keys(before).length >= 14, 'every table of the five sample systems')
    const res = await app.inject({ method: 'POST', url: `/v1/requests/${erasure.id}/erasure-preview`, headers: auth() })
    t.equal(res.statusCode, 200, res.body)
    const preview = res.json()
    t.strictSame(await checksums(dbh), before, 'no table of any sample system changed')
    t.equal(preview.dry_run, true)
    const byConnector = Object.fromEntries(preview.connectors.map((c: { connector: string }) => [c.connector, c]))
    for (const id of ['crm', 'support', 'newsletter', 'webinar', 'test_results']) t.match(byConnector[id], { status: 'previewed', method: 'rolled_back' }, `${id}: its erasure rolled back`)
    t.match(byConnector.loyalty, { status: 'previewed', method: 'collected', streams: [{ stream: 'cards', erase: 2, mask: 0, retain: 0 }] })
    t.strictSame((registry.get('loyalty')!.connector as unknown as { data: Map<string, unknown[]> }).data.get('cards')!.length, 3, 'the memory system still holds all its records')
    const deals = byConnector.crm.streams.find((s: PreviewStream) => s.stream === 'deals')
    t.ok(deals.mask > 0 && deals.retain === deals.mask, 'deals: contact links blanked, amounts retained')
    t.match(deals.reasons, [/tax/])
    t.ok(byConnector.crm.totals.erase > 0)

    const events = (await app.inject({ url: `/v1/requests/${erasure.id}/events`, headers: auth() })).json()
    const recorded = events.data.find((e: { action: string }) => e.action === 'erasure_previewed')
    t.strictSame(recorded.details.connectors.crm, { status: 'previewed', ...byConnector.crm.totals }, 'the audit trail has the totals')

    const approved = await app.inject({ method: 'POST', url: `/v1/requests/${erasure.id}/approve`, headers: auth(), payload: {} })
    t.equal(approved.statusCode, 200, approved.body)
    const late = await app.inject({ method: 'POST', url: `/v1/requests/${erasure.id}/erasure-preview`, headers: auth() })
    t.equal(late.statusCode, 409)
    t.equal(late.json().code, 'DSR_ERASURE_PREVIEW_NOT_AVAILABLE', 'no preview once fulfilment started')

    await waitFor(async () => {
      const body = (await app.inject({ url: `/v1/requests/${erasure.id}`, headers: auth() })).json()
      return body.status === 'completed' ? body : null
    }, 60_000, 'the erasure to complete')
    const receipt = (await app.inject({ url: `/v1/requests/${erasure.id}/receipt`, headers: auth() })).json().receipt
    for (const c of receipt.connectors as ReceiptConnector[]) {
      const previewed: PreviewStream[] = byConnector[c.connector].streams
      const erased = Object.fromEntries(c.outcomes.filter((o) => o.status === 'erased').map((o) => [o.stream, o.count]))
      const expected = Object.fromEntries(previewed.filter((s) => s.erase + s.mask > 0).map((s) => [s.stream, s.erase + s.mask]))
      t.strictSame(erased, expected, `${c.connector}: the erasure erased per stream what the preview counted`)
      const retained = c.outcomes.filter((o) => o.status === 'retained').map((o) => `${o.stream}: ${o.reason}`).sort()
      t.strictSame(retained, previewed.flatMap((s) => s.retain > 0 ? s.reasons.map((r) => `${s.stream}: ${r}`) : []).sort(), `${c.connector}: retained where the preview said, for its reasons`)
      t.equal(c.verification.status, 'verified', `${c.connector}: searched again after the erasure, nothing left`)
      t.ok(Date.parse(c.verification.checked_at ?? '') >= Date.parse(receipt.received_at), `${c.connector}: the receipt says when`)
    }
    t.equal(receipt.connectors.length, 6)
  })
}

t.test('a preview is only of an erasure request, of a request that exists, with the approver\'s scope', async (t) => {
  const app = await build(t, { env: { APPROVAL_REQUIRED: 'erasure,access' } })
  const access = (await app.inject({ method: 'POST', url: '/v1/requests', headers: auth(), payload: requestBody({ verification: { method: 'account_login' } }) })).json()
  const notErasure = await app.inject({ method: 'POST', url: `/v1/requests/${access.id}/erasure-preview`, headers: auth() })
  t.equal(notErasure.statusCode, 409)
  t.equal(notErasure.json().code, 'DSR_ERASURE_PREVIEW_NOT_AVAILABLE')
  const missing = await app.inject({ method: 'POST', url: '/v1/requests/00000000-0000-4000-8000-000000000000/erasure-preview', headers: auth() })
  t.equal(missing.statusCode, 404)
  t.equal(missing.json().code, 'DSR_REQUEST_NOT_FOUND')
  const badId = await app.inject({ method: 'POST', url: '/v1/requests/not-a-uuid/erasure-preview', headers: auth() })
  t.equal(badId.statusCode, 400)
  const erasure = (await app.inject({ method: 'POST', url: '/v1/requests', headers: auth(), payload: requestBody({ type: 'erasure', verification: { method: 'account_login' } }) })).json()
  const writer = await app.inject({ method: 'POST', url: `/v1/requests/${erasure.id}/erasure-preview`, headers: auth('writer') })
  t.equal(writer.statusCode, 403, 'requests:write is not enough: the preview is the approver\'s')
})

t.test('an HTTP system is previewed by collecting and applying its erasure policy: the vendor fakes, then their erasure', async (t) => {
  const fakes = await startVendorFakes({ fail429Ratio: 0 })
  t.teardown(fakes.close)
  const vendors = (JSON.parse(readFileSync(fromRoot('connectors/samples/vendors.json'), 'utf8')) as { connectors: Array<{ id: string, driver: string }> })
    .connectors.filter((c) => c.driver === 'hubspot' || c.driver === 'zoom')
  const dbh = await testDb(t)
  const registry = await createRegistry(parseConnectorFile({ connectors: vendors }), { drivers, env: fakes.env, log: quiet, serviceDatabase: dbh })
  const app = await build(t, { dbh, registry, env: { TASK_POLL_SECONDS: '0.5', TASK_RETRY_BASE_MS: '50', APPROVAL_REQUIRED: 'erasure' } })
  const erasure = (await app.inject({
    method: 'POST', url: '/v1/requests', headers: auth(), payload: requestBody({ type: 'erasure', subject: { email: ADA }, verification: { method: 'account_login' } })
  })).json()
  const contactsBefore = fakes.hubspot.state.contacts.size
  const preview = (await app.inject({ method: 'POST', url: `/v1/requests/${erasure.id}/erasure-preview`, headers: auth() })).json()
  t.equal(fakes.hubspot.state.contacts.size, contactsBefore, 'HubSpot: no contact deleted by the preview')
  const counts = (id: string) => Object.fromEntries(preview.connectors.find((c: { connector: string }) => c.connector === id).streams
    .filter((s: PreviewStream) => s.erase + s.retain > 0).map((s: PreviewStream) => [s.stream, [s.erase, s.retain]]))
  for (const c of preview.connectors) t.match(c, { status: 'previewed', method: 'collected' }, `${c.connector}: collected`)

  t.equal((await app.inject({ method: 'POST', url: `/v1/requests/${erasure.id}/approve`, headers: auth(), payload: {} })).statusCode, 200)
  const done = await waitFor(async () => {
    const body = (await app.inject({ url: `/v1/requests/${erasure.id}`, headers: auth() })).json()
    return ['completed', 'partially_completed', 'failed'].includes(body.status) ? body : null
  }, 120_000, 'the erasure to close')
  t.equal(done.status, 'completed')
  for (const task of done.tasks as Array<{ connector: string, result: { outcomes: Array<{ status: string, stream: string, count?: number }>, verification: { status: string } } }>) {
    const previewed = counts(task.connector)
    // What the erasure reported per stream, next to what the preview counted ([erased, retained]).
    for (const o of task.result.outcomes.filter((x) => x.status === 'erased' || (x.status === 'retained' && x.count !== undefined))) {
      t.strictSame(o.status === 'erased' ? previewed[o.stream]?.[0] : previewed[o.stream]?.[1], o.count, `${task.connector}/${o.stream}: ${o.status} ${o.count}, as previewed`)
    }
    for (const o of task.result.outcomes.filter((x) => x.status === 'retained')) t.ok((previewed[o.stream]?.[1] ?? 0) > 0, `${task.connector}/${o.stream}: previewed as retained`)
    t.equal(task.result.verification.status, 'verified', `${task.connector}: searched again after the erasure`)
  }
  t.strictSame(counts('crm'), { contacts: [2, 0], companies: [0, 1], deals: [0, 2], tickets: [0, 1], notes: [1, 0], emails: [1, 0], calls: [1, 0], meetings: [1, 0] },
    'HubSpot: her two contacts erased with the activity logged on them, the linked business records retained')
})
