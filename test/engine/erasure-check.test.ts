import t from 'tap'
import { auth, build, registryOf, requestBody, testDb, waitFor } from '../helper.js'
import type { DbHandle } from '../../src/db/client.js'
import { drivers } from '../../connectors/index.js'

/**
 * The check after an erasure: the system is searched again with the same identifiers, and what it
 * still holds beyond what it said it retained fails the task with DSR_ERASURE_RESIDUE, with streams
 * and counts only. The fake is the memory connector with its erase_residue fault: it reports every
 * record erased and keeps one.
 */

const ADA = 'ada@example.com'
/** Values of the record the faulty system keeps: they must appear nowhere the service writes. */
const KEPT_NOTE = 'kept-note-5c1e9a-lovelace'
const KEPT_NAME = 'Augusta Residue-Byron'

const shop = (faults?: Record<string, unknown>) => ({
  id: 'shop',
  driver: 'memory',
  settings: {
    streams: [
      { name: 'customers', match: { email: 'email' }, records: [{ id: 1, email: ADA, name: KEPT_NAME, note: KEPT_NOTE }, { id: 2, email: 'grace@example.com', name: 'Grace' }] },
      { name: 'orders', match: { email: 'email' }, records: [{ id: 10, email: ADA, total: 12 }] }
    ],
    ...(faults ? { faults } : {})
  }
})
const clean = {
  id: 'clean',
  driver: 'memory',
  settings: { streams: [{ name: 'members', match: { email: 'email' }, records: [{ id: 1, email: ADA }] }] }
}

/** Every row of every table the service's database holds (its own and pg-boss's), as text. */
async function dump (dbh: DbHandle): Promise<string> {
  const { rows: tables } = await dbh.executor.executeSql(`
    select quote_ident(table_schema) || '.' || quote_ident(table_name) as name from information_schema.tables
     where table_type = 'BASE TABLE' and table_schema not in ('pg_catalog', 'information_schema')`)
  const out: string[] = []
  for (const { name } of tables as Array<{ name: string }>) {
    const { rows } = await dbh.executor.executeSql(`select t::text as row from ${name} t`)
    for (const r of rows as Array<{ row: string }>) out.push(r.row)
  }
  return out.join('\n')
}

for (const embedded of [false, true]) {
  t.test(`a system that reports its erasure done but keeps a record fails its task, naming the stream, never the data (${embedded ? 'PGlite' : 'Postgres'})`, async (t) => {
    const dbh = await testDb(t, { embedded })
    const logs: string[] = []
    const registry = await registryOf([shop({ erase_residue: { stream: 'customers', rows: 1 } }), clean])
    const app = await build(t, { dbh, registry, logs, env: { TASK_POLL_SECONDS: '0.5', ERASURE_CHECK_ATTEMPTS: '2' } })

    const created = (await app.inject({
      method: 'POST', url: '/v1/requests', headers: auth(), payload: requestBody({ type: 'erasure', subject: { email: ADA }, verification: { method: 'account_login' } })
    })).json()
    const done = await waitFor(async () => {
      const body = (await app.inject({ url: `/v1/requests/${created.id}`, headers: auth() })).json()
      return ['completed', 'partially_completed', 'failed'].includes(body.status) ? body : null
    }, 30_000, 'the erasure to close')
    t.equal(done.status, 'partially_completed', 'one system erased, the other left residue')

    const task = done.tasks.find((x: { connector: string }) => x.connector === 'shop')
    t.equal(task.status, 'failed')
    t.equal(task.last_error_code, 'DSR_ERASURE_RESIDUE')
    t.equal(task.attempts, 1, 'not retried: a retry would erase again and report nothing')
    t.match(task.last_error_message, /customers \(1\)/, 'the message names the stream and the count')
    t.strictSame(task.result.verification.residue, { customers: 1 }, 'residue: the stream and its count')
    t.equal(task.result.verification.checks, 2, 'searched ERASURE_CHECK_ATTEMPTS times')
    t.strictSame(task.result.outcomes, [{ status: 'erased', stream: 'customers', count: 1 }, { status: 'erased', stream: 'orders', count: 1 }],
      'what the system reported is kept with the failure')
    const other = done.tasks.find((x: { connector: string }) => x.connector === 'clean')
    t.equal(other.status, 'succeeded')
    t.equal(other.result.verification.status, 'verified')

    const events = (await app.inject({ url: `/v1/requests/${created.id}/events`, headers: auth() })).json()
    const failed = events.data.find((e: { action: string }) => e.action === 'task_failed')
    t.equal(failed.details.error_code, 'DSR_ERASURE_RESIDUE', 'the audit trail records the code')
    t.strictSame(failed.details.result.verification.residue, { customers: 1 }, '…with the streams and counts')

    const receipt = (await app.inject({ url: `/v1/requests/${created.id}/receipt`, headers: auth() })).json()
    const inReceipt = Object.fromEntries(receipt.receipt.connectors.map((c: { connector: string, verification: unknown }) => [c.connector, c.verification]))
    t.match(inReceipt.shop, { status: 'residue', residue: { customers: 1 }, checks: 2 })
    t.match(inReceipt.clean, { status: 'verified', checks: 1, residue: undefined })
    t.ok(Date.parse(inReceipt.clean.checked_at) > 0, 'the receipt says when the clean system was checked')

    // The kept record is still in the faulty system, and in nothing the service wrote or answered.
    const memory = registry.get('shop')!.connector as unknown as { data: Map<string, Array<Record<string, unknown>>> }
    t.equal(memory.data.get('customers')!.filter((r) => r.note === KEPT_NOTE).length, 1, 'the fake did keep the record')
    const everywhere = [await dump(dbh), logs.join(''), JSON.stringify(done), JSON.stringify(events), JSON.stringify(receipt)].join('\n')
    t.ok(logs.length > 0 && everywhere.includes('DSR_ERASURE_RESIDUE'), 'the search covers what was written')
    for (const value of [KEPT_NOTE, KEPT_NAME]) t.notOk(everywhere.includes(value), `"${value}" appears in no table, log line, answer or receipt`)
  })
}

t.test('a record a lagging search still shows is searched again after the settle time, and the erasure passes', async (t) => {
  const registry = await registryOf([shop({ erase_residue: { stream: 'customers', rows: 1, reads: 1 } })])
  const app = await build(t, { registry, env: { TASK_POLL_SECONDS: '0.5', ERASURE_CHECK_ATTEMPTS: '3' } })
  const created = (await app.inject({
    method: 'POST', url: '/v1/requests', headers: auth(), payload: requestBody({ type: 'erasure', subject: { email: ADA }, verification: { method: 'account_login' } })
  })).json()
  const done = await waitFor(async () => {
    const body = (await app.inject({ url: `/v1/requests/${created.id}`, headers: auth() })).json()
    return ['completed', 'partially_completed', 'failed'].includes(body.status) ? body : null
  }, 30_000, 'the erasure to close')
  t.equal(done.status, 'completed')
  t.match(done.tasks[0].result.verification, { status: 'verified', checks: 2 }, 'the first search still saw it, the second did not')
  t.equal(done.tasks[0].result.verification.residue, undefined)
})

t.test('a system that cannot be searched again is marked not verifiable in the receipt', async (t) => {
  const registry = await registryOf([clean, { id: 'paper', driver: 'manual', settings: {} }])
  const app = await build(t, { registry, env: { TASK_POLL_SECONDS: '0.5' } })
  const created = (await app.inject({
    method: 'POST', url: '/v1/requests', headers: auth(), payload: requestBody({ type: 'erasure', subject: { email: ADA }, verification: { method: 'account_login' } })
  })).json()
  const manual = await waitFor(async () => {
    const body = (await app.inject({ url: `/v1/requests/${created.id}`, headers: auth() })).json()
    return body.tasks.find((x: { connector: string, status: string }) => x.connector === 'paper' && x.status === 'manual')
  }, 30_000, 'the manual task')
  const completed = await app.inject({
    method: 'POST', url: `/v1/requests/${created.id}/tasks/${manual.id}/complete`, headers: auth(), payload: { outcome: 'done', note: 'deleted the paper file' }
  })
  t.equal(completed.statusCode, 200, completed.body)
  const receipt = await waitFor<{ receipt: { connectors: Array<{ connector: string, verification: unknown }> } }>(async () => {
    const res = await app.inject({ url: `/v1/requests/${created.id}/receipt`, headers: auth() })
    return res.statusCode === 200 ? res.json() : null
  }, 30_000, 'the receipt')
  const paper = receipt.receipt.connectors.find((c: { connector: string }) => c.connector === 'paper')
  t.match(paper?.verification, { status: 'not_verifiable', checked_at: null, checks: 0, reason: /person/ })
  t.equal(registry.get('paper')!.erasureCheck.searchable, false, 'the manual driver declares it')
})

t.test('every driver declares whether an erasure in its system can be checked by searching again', async (t) => {
  t.ok(drivers.length >= 7)
  for (const d of drivers) {
    if (d.erasureCheck.searchable) {
      t.ok(d.capabilities.includes('collect'), `${d.driver}: searchable, so it collects`)
      t.ok(d.erasureCheck.settleMs >= 0 && d.erasureCheck.settleMs <= 60_000, `${d.driver}: a settle time within reason`)
    } else {
      t.match(d.erasureCheck.reason, /\w+/, `${d.driver}: says why not`)
    }
  }
  t.same(drivers.filter((d) => !d.erasureCheck.searchable).map((d) => d.driver), ['manual'], 'only the manual driver cannot be searched')
})
