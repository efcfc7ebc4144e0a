import { pathToFileURL } from 'node:url'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import t from 'tap'
import postgres from 'postgres'
import { Value } from 'typebox/value'
import { PostgresConfigSchema, checkConfig, streamsFor, type PostgresConfig } from '../../connectors/postgres/config.js'
import { createPostgresConnector, postgresConnector } from '../../connectors/postgres/index.js'
import { sqlClientFromUrl } from '../../connectors/postgres/sql-client.js'
import { migrateTestResults } from '../../connectors/test-results/migrate.js'
import type { ConnectorContext, SubjectIdentity } from '../../connectors/types.js'
import { parseConnectorFile } from '../../src/connectors/registry.js'
import { connectorContract } from './contract.js'
import { fromRoot } from '../paths.js'

const ADMIN_URL = process.env.DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/test'
const DIR = pathToFileURL(fromRoot('connectors/test-results/'))
const quiet = { debug () {}, info () {}, warn () {}, error () {} }
const ADA = { email: 'ada@example.com' }
// Alan shares a row with Ada (his result was sent to her), so the contract's "other" is Grace, who shares nothing.
const GRACE = { email: 'grace@example.com' }

/** The shipped connector.json, with its url secret resolved to `url`. */
function shippedConfig (url: string): PostgresConfig {
  const entry = JSON.parse(readFileSync(new URL('connector.json', DIR), 'utf8')) as { settings: Record<string, unknown> }
  const settings = Value.Default(PostgresConfigSchema, { ...entry.settings, url })
  const errors = [...Value.Errors(PostgresConfigSchema, settings)]
  if (errors.length > 0) throw new Error(`connector.json does not match the postgres driver: ${errors.map((e) => `${e.instancePath} ${e.message}`).join('; ')}`)
  checkConfig(settings as PostgresConfig)
  return settings as PostgresConfig
}

/** A scratch database with the migrations and the sample data applied. */
async function scratch (): Promise<{ url: string, drop: () => Promise<void> }> {
  const name = `dsr_testresults_${randomBytes(6).toString('hex')}`
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} })
  await admin.unsafe(`create database ${name}`)
  const url = new URL(ADMIN_URL)
  url.pathname = `/${name}`
  await migrateTestResults(url.toString())
  const seed = postgres(url.toString(), { max: 1, onnotice: () => {} })
  await seed.unsafe(readFileSync(new URL('sample-data.sql', DIR), 'utf8'))
  await seed.end()
  return {
    url: url.toString(),
    async drop () {
      await admin.unsafe(`drop database if exists ${name} with (force)`)
      await admin.end()
    }
  }
}

function ctx (subject: SubjectIdentity): ConnectorContext {
  return { requestId: '00000000-0000-4000-8000-000000000004', subject, signal: new AbortController().signal, log: quiet }
}
async function drain<T> (it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of it) out.push(x)
  return out
}

connectorContract(t, 'test-results (postgres driver, shipped config)', async () => {
  const db = await scratch()
  const config = shippedConfig(db.url)
  return {
    connector: createPostgresConnector(config, sqlClientFromUrl(db.url), quiet),
    // What this configuration can do (the driver's full list includes settings-dependent ones it does not configure).
    capabilities: postgresConnector.capabilitiesFor!(config),
    streams: streamsFor(config),
    subject: ADA,
    other: GRACE,
    belongsTo: (item, who) => item.type === 'record' && String(item.data.email ?? '').toLowerCase() === who.email,
    cleanup: db.drop
  }
})

t.test('test-results: the shipped files', async (t) => {
  const file = JSON.parse(readFileSync(new URL('connector.json', DIR), 'utf8')) as unknown
  t.doesNotThrow(() => parseConnectorFile({ connectors: [file] }), 'connector.json is a valid connector file entry')
  t.same((file as { settings: { url: unknown } }).settings.url, { env: 'TEST_RESULTS_DATABASE_URL' }, 'the url is a secret from the environment')
  const retention = JSON.parse(readFileSync(new URL('retention.json', DIR), 'utf8')) as { rules: unknown[] }
  t.same(retention.rules, [{ table: 'test_results.result_recipients', column: 'sent_at', max_age: 'P1M', action: 'delete' }])
  t.same((file as { settings: { retention: unknown } }).settings.retention, retention.rules, 'connector.json carries the same rule for the driver\'s sweep')
})

t.test('test-results: migration, collect and erase on a real database', async (t) => {
  const db = await scratch()
  const sql = postgres(db.url, { max: 1, onnotice: () => {} })
  t.teardown(async () => { await sql.end(); await db.drop() })
  t.same(await migrateTestResults(db.url), [], 'the migration is applied once; a re-run does nothing')
  const [col] = await sql<Array<{ data_type: string }>>`select data_type from information_schema.columns where table_schema = 'test_results' and table_name = 'result_recipients' and column_name = 'sent_at'`
  t.equal(col?.data_type, 'timestamp with time zone', 'retention.json names a real timestamp column')

  const c = createPostgresConnector(shippedConfig(db.url), sqlClientFromUrl(db.url), quiet)
  t.teardown(() => c.close?.())
  const items = await drain(c.collect!(ctx(ADA)))
  const count = (s: string) => items.filter((i) => i.stream === s).length
  t.same([count('respondents'), count('results'), count('result_recipients')], [1, 2, 4],
    'her results, and the recipient rows of her results and of Alan\'s result sent to her')

  const out = await drain(c.erase!(ctx(ADA)))
  t.same(out.filter((o) => o.status === 'erased').map((o) => [o.stream, (o as { count: number }).count]).sort(),
    [['respondents', 1], ['result_recipients', 4], ['results', 2]])
  const left = async () => ({
    respondents: (await sql`select id from test_results.respondents where lower(email) = 'ada@example.com'`).length,
    results: (await sql`select id from test_results.results where respondent_id = 1`).length,
    recipients: (await sql`select id from test_results.result_recipients where result_id in (10, 11) or lower(email) = 'ada@example.com'`).length
  })
  t.same(await left(), { respondents: 0, results: 0, recipients: 0 }, 'the respondent, her results and every recipient row are gone')
  t.same((await sql`select id from test_results.results order by id`).map((r) => Number(r.id)), [12, 13], 'Alan\'s and Grace\'s results stay')
  t.same((await sql`select id from test_results.result_recipients order by id`).map((r) => Number(r.id)), [103, 105], 'as do their own recipient rows')
  t.ok((await drain(c.erase!(ctx(ADA)))).every((o) => o.status === 'not_found'), 'a re-run finds nothing')
})

t.test('test-results: recipient addresses go one month after sending (retention rule)', async (t) => {
  const db = await scratch()
  const sql = postgres(db.url, { max: 1, onnotice: () => {} })
  t.teardown(async () => { await sql.end(); await db.drop() })
  const c = createPostgresConnector(shippedConfig(db.url), sqlClientFromUrl(db.url), quiet)
  t.teardown(() => c.close?.())
  t.equal(typeof c.sweep, 'function', 'the shipped config gives the connector a retention sweep')
  const signal = new AbortController().signal
  // 2024-05-06T12:00Z: one month back is 2024-04-06T12:00Z, so rows sent before then expire.
  const now = new Date('2024-05-06T12:00:00Z')
  t.same(await c.sweep!({ dryRun: true, now, signal }), { tables: { 'test_results.result_recipients': { action: 'delete', rows: 4, cutoff: '2024-04-06T12:00:00.000Z' } } })
  await c.sweep!({ dryRun: false, now, signal })
  t.same((await sql`select id from test_results.result_recipients order by id`).map((r) => Number(r.id)), [101, 102], 'addresses sent more than a month ago are gone; the recent ones stay')
  t.equal((await sql`select count(*)::int as n from test_results.results`)[0]?.n, 4, 'the results themselves stay')
})
