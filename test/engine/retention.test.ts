import t from 'tap'
import { readFileSync } from 'node:fs'
import { sql } from 'drizzle-orm'
import { auth, build, describedFile, testDb } from '../helper.js'
import { createRegistry } from '../../src/connectors/registry.js'
import { drivers } from '../../connectors/index.js'
import { runSweep } from '../../src/engine/retention.js'
import { SAMPLE_CONNECTORS_FILE } from '../../src/connectors/samples.js'

const quietLog = { debug () {}, info () {}, warn () {}, error () {} }

const ROWS: Array<[number, string]> = [
  [1, '2026-01-27T12:00:00Z'], // older than a month on 28 Feb and on 1 Mar
  [2, '2026-01-31T12:00:00Z'], // within a month on 28 Feb (cutoff 28 Jan), older on 1 Mar (cutoff 1 Feb)
  [3, '2026-01-31T23:59:59Z'],
  [4, '2026-02-01T00:00:00Z'], // exactly the 1 Mar cutoff: kept
  [5, '2026-02-20T08:00:00Z']
]

t.test('retention sweep of the generic Postgres connector: month-correct, dry run, counts only', async (t) => {
  const dbh = await testDb(t)
  await dbh.rows(sql.raw('create schema scratch'))
  await dbh.rows(sql.raw('create table scratch.result_recipients (id integer primary key, email text, sent_at timestamptz not null)'))
  for (const [id, at] of ROWS) await dbh.rows(sql`insert into scratch.result_recipients values (${id}, ${`person${id}@example.com`}, ${at})`)
  const registry = await createRegistry(describedFile({
    connectors: [{
      id: 'results',
      driver: 'postgres',
      settings: {
        url: 'embedded:',
        datasets: [{ name: 'r', tables: [{ table: 'scratch.result_recipients', primary_key: ['id'], identity: [{ column: 'email', kind: 'email' }], erase: 'delete' }] }],
        retention: [{ table: 'scratch.result_recipients', column: 'sent_at', max_age: 'P1M', action: 'delete' }]
      }
    }]
  }), { drivers, env: {}, log: quietLog, serviceDatabase: dbh })
  const app = await build(t, { dbh, registry, env: { SCHEDULER_ENABLED: 'false' } })
  const instance = registry.get('results')!
  t.ok(instance.capabilities.includes('retention'), 'declares retention when it has rules')
  const left = async () => (await dbh.rows<{ id: number }>(sql`select id from scratch.result_recipients order by id`)).map((r) => Number(r.id))

  const feb28 = await runSweep(dbh, instance, { dryRun: true, now: new Date('2026-02-28T00:00:00Z'), actor: 'test' })
  t.match(feb28, { dry_run: true, total: 1, tables: { 'scratch.result_recipients': { action: 'delete', rows: 1, cutoff: '2026-01-28T00:00:00.000Z' } } })
  const mar1dry = await runSweep(dbh, instance, { dryRun: true, now: new Date('2026-03-01T00:00:00Z'), actor: 'test' })
  t.match(mar1dry, { total: 3, tables: { 'scratch.result_recipients': { rows: 3, cutoff: '2026-02-01T00:00:00.000Z' } } })
  t.strictSame(await left(), [1, 2, 3, 4, 5], 'a dry run deletes nothing')

  const mar1 = await runSweep(dbh, instance, { dryRun: false, now: new Date('2026-03-01T00:00:00Z'), actor: 'test' })
  t.match(mar1, { dry_run: false, total: 3, tables: { 'scratch.result_recipients': { rows: 3 } } }, 'the same count as the dry run')
  t.strictSame(await left(), [4, 5], 'exactly the rows older than one month are gone')
  t.match(await runSweep(dbh, instance, { dryRun: false, now: new Date('2026-03-01T00:00:00Z'), actor: 'test' }), { total: 0 }, 'idempotent')

  const events = await dbh.rows<{ actor: string, details: Record<string, unknown> }>(sql`
    select actor, details from system_events where action = 'retention_sweep' order by id`)
  t.equal(events.length, 4)
  t.strictSame(events[2]!.details, { connector: 'results', dry_run: false, total: 3, tables: { 'scratch.result_recipients': { action: 'delete', rows: 3 } } })
  t.strictSame(events.map((e) => e.details.dry_run), [true, true, false, false])
  t.notOk(JSON.stringify(events).includes('@'), 'no e-mail address (no value at all) in the audit rows')

  // The route: dry run now, admin only. Two rows relative to the database's clock: 40 days old is
  // older than any month, 20 days old is younger than any; rows 4 and 5 (February 2026) are long past.
  await dbh.rows(sql`insert into scratch.result_recipients values (6, 'person6@example.com', now() - interval '40 days'), (7, 'person7@example.com', now() - interval '20 days')`)
  t.equal((await app.inject({ method: 'POST', url: '/v1/connectors/results/retention/sweep?dry_run=true', headers: auth('outsider') })).statusCode, 403)
  const res = await app.inject({ method: 'POST', url: '/v1/connectors/results/retention/sweep?dry_run=true', headers: auth() })
  t.equal(res.statusCode, 200)
  t.match(res.json(), { dry_run: true, total: 3 }, 'rows 4, 5 and 6 are older than one month; 7 is not')
  t.strictSame(await left(), [4, 5, 6, 7], 'the route\'s dry run deletes nothing')
})

t.test('ISO and day rules are checked at start', async (t) => {
  const dbh = await testDb(t, { migrate: false })
  const make = (rule: Record<string, unknown>) => createRegistry(describedFile({
    connectors: [{ id: 'x', driver: 'postgres', settings: { url: 'embedded:', datasets: [{ name: 'r', tables: [{ table: 't', primary_key: ['id'], erase: 'delete' }] }], retention: [{ table: 't', column: 'at', action: 'delete', ...rule }] } }]
  }), { drivers, env: {}, log: quietLog, serviceDatabase: dbh })
  await t.rejects(make({}), /exactly one of max_age_days or max_age/)
  await t.rejects(make({ max_age: 'P1M', max_age_days: 3 }), /exactly one/)
  await t.rejects(make({ max_age: 'Pnonsense' }), /not a positive ISO-8601 duration/)
  const ok = await make({ max_age_days: 31 })
  t.ok(ok.get('x')!.connector.sweep)
})

t.test('the bundled test-result store keeps recipient e-mails one month', async (t) => {
  const file = JSON.parse(readFileSync(SAMPLE_CONNECTORS_FILE, 'utf8'))
  const results = file.connectors.find((c: { id: string }) => c.id === 'test_results')
  t.strictSame(results.settings.retention, [{ table: 'sample_test_results.result_recipients', column: 'sent_at', max_age: 'P1M', action: 'delete' }])
})
