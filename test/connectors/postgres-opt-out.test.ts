import { randomBytes } from 'node:crypto'
import t, { type Test } from 'tap'
import postgres from 'postgres'
import { Value } from 'typebox/value'
import { postgresConnector } from '../../connectors/postgres/index.js'
import { checkConfig, PostgresConfigSchema, type PostgresConfig } from '../../connectors/postgres/config.js'
import { buildModel, newParams, optOutStatement } from '../../connectors/postgres/plan.js'
import type { Catalog } from '../../connectors/postgres/catalog.js'
import type { Connector, OptOutPurposeName, SubjectIdentity } from '../../connectors/types.js'
import { openDb, type DbHandle } from '../../src/db/client.js'
import { ADA, BOB, SCHEMA_SQL, SEED_SQL, captureLog, checksums, drain, shopConfig, type Query } from '../fixtures/postgres-connector.js'

/**
 * The postgres connector's `opt_out` setting: validated, planned to touch only the asked purposes'
 * columns, and run against a real server and the embedded database (PGlite).
 */

const ADMIN_URL = process.env.DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/test'

/** Consent columns for the shop: marketing (with when) on customers; on the newsletter marketing, partner sharing, profiling, and transactional mail. */
const OPT_OUT_SQL = `
  alter table crm.customers add column marketing_consent boolean not null default true, add column consent_withdrawn_at timestamptz;
  alter table public.newsletter_subscriptions add column status text not null default 'subscribed',
    add column share_with_partners boolean not null default true, add column profiling text default 'on',
    add column unsubscribed_at timestamptz, add column service_emails boolean not null default true;`

function optOutConfig (url: string): PostgresConfig {
  const config = shopConfig(url)
  const table = (name: string) => config.datasets.flatMap((d) => d.tables).find((x) => x.table === name)!
  table('crm.customers').opt_out = { marketing: { column: 'marketing_consent', value: false, opted_in: true, since_column: 'consent_withdrawn_at' } }
  table('public.newsletter_subscriptions').opt_out = {
    marketing: { column: 'status', value: 'unsubscribed', opted_in: 'subscribed', since_column: 'unsubscribed_at' },
    partner_sharing: { column: 'share_with_partners' },
    profiling: { column: 'profiling', value: null, opted_in: 'on' }
  }
  return config
}

const quietCtx = (subject: SubjectIdentity, purposes: OptOutPurposeName[]) =>
  ({ requestId: 'req-1', subject, signal: new AbortController().signal, log: captureLog().log, purposes })

t.test('the opt_out setting: schema and checks', async (t) => {
  const errorsOf = (value: unknown) => [...Value.Errors(PostgresConfigSchema, value)].map((e) => ({ path: e.instancePath, keyword: e.keyword }))
  const config = optOutConfig('embedded:')
  t.strictSame(errorsOf(config), [], 'a valid setting')
  checkConfig(config)

  const unknown = structuredClone(config) as unknown as Record<string, any>
  unknown.datasets[0].tables[0].opt_out = { transactional: { column: 'service_emails' } }
  t.ok(errorsOf(unknown).some((e) => e.path === '/datasets/0/tables/0/opt_out' && e.keyword === 'additionalProperties'), 'an unknown purpose (transactional mail is not one)')
  unknown.datasets[0].tables[0].opt_out = {}
  t.ok(errorsOf(unknown).some((e) => e.path === '/datasets/0/tables/0/opt_out' && e.keyword === 'minProperties'), 'at least one purpose')
  unknown.datasets[0].tables[0].opt_out = { marketing: { column: 'x', then: 'now' } }
  t.ok(errorsOf(unknown).some((e) => e.path === '/datasets/0/tables/0/opt_out/marketing' && e.keyword === 'additionalProperties'), 'unknown property')

  const cases: Array<[string, (c: PostgresConfig) => void, RegExp]> = [
    ['a primary key column', (c) => { c.datasets[0]!.tables[0]!.opt_out = { marketing: { column: 'id' } } }, /opt_out\/marketing\/column: "id" is a primary key column/],
    ['value equal to the opted-in value', (c) => { c.datasets[0]!.tables[0]!.opt_out = { marketing: { column: 'marketing_consent', value: false, opted_in: false } } }, /opt_out\/marketing: value and opted_in must differ/],
    ['the default value (false) equal to opted_in', (c) => { c.datasets[0]!.tables[0]!.opt_out = { marketing: { column: 'marketing_consent', opted_in: false } } }, /value and opted_in must differ/],
    ['two purposes on one column', (c) => { c.datasets[0]!.tables[0]!.opt_out = { marketing: { column: 'consent' }, profiling: { column: 'consent' } } }, /opt_out\/profiling\/column: "consent" is already used by marketing/],
    ['since_column on another purpose\'s column', (c) => { c.datasets[0]!.tables[0]!.opt_out = { marketing: { column: 'consent' }, profiling: { column: 'p', since_column: 'consent' } } }, /profiling\/since_column: "consent" is already used/],
    ['the restriction mark', (c) => {
      c.datasets[0]!.tables[0]!.restrict = { column: 'processing_restricted' }
      c.datasets[0]!.tables[0]!.opt_out = { marketing: { column: 'processing_restricted' } }
    }, /"processing_restricted" is the restriction's column/]
  ]
  for (const [what, change, message] of cases) {
    const c = structuredClone(optOutConfig('embedded:'))
    change(c)
    t.throws(() => checkConfig(c), { code: 'DSR_CONNECTOR_CONFIG', message }, what)
  }

  t.strictSame(postgresConnector.capabilitiesFor!(shopConfig('embedded:')), ['collect', 'erase'], 'no opt_out without the setting')
  t.strictSame(postgresConnector.capabilitiesFor!(config), ['collect', 'erase', 'opt_out'], 'opt_out where a table has it')
})

t.test('optOutStatement names only the asked purposes\' columns', async (t) => {
  const config = optOutConfig('embedded:')
  const newsletter = config.datasets[1]!.tables[0]!
  const catalog: Catalog = { tables: new Map(), foreignKeys: [] } as unknown as Catalog
  const model = buildModel(config, catalog)
  const params = newParams()
  const text = optOutStatement(model, newsletter, `t0."id" = ${params.add('801')}`, params, ['partner_sharing'])!
  t.equal(text, 'WITH changed AS (UPDATE "public"."newsletter_subscriptions" AS t0 SET "share_with_partners" = $2 ' +
    'WHERE t0."id" = $1 AND (t0."share_with_partners" IS DISTINCT FROM $2) RETURNING 1) ' +
    'SELECT (SELECT count(*) FROM changed)::int AS changed, EXISTS (SELECT 1 FROM "public"."newsletter_subscriptions" AS t0 WHERE t0."id" = $1) AS matched')
  t.strictSame(params.values, ['801', 'false'], 'the default value, false')
  t.notMatch(text, /status|profiling|service_emails/, 'no other column is named')

  const both = newParams()
  const marketing = optOutStatement(model, newsletter, 'true', both, ['marketing', 'profiling'])!
  t.match(marketing, /SET "status" = \$1, "unsubscribed_at" = CASE WHEN t0."status" IS DISTINCT FROM \$1 THEN now\(\) ELSE t0."unsubscribed_at" END, "profiling" = \$2/)
  t.strictSame(both.values, ['unsubscribed', null])
  t.equal(optOutStatement(model, config.datasets[0]!.tables[0]!, 'true', newParams(), ['profiling']), null, 'a table recording none of the purposes: no statement')
})

/** Ada's and Bob's consent columns, read back. */
async function consents (q: Query) {
  const rows = await q(`select 'c' || id as id, marketing_consent::text as m, (consent_withdrawn_at is not null)::text as at from crm.customers
    union all select 'n' || id, status || '/' || share_with_partners::text || '/' || coalesce(profiling, 'null') || '/' || service_emails::text,
      (unsubscribed_at is not null)::text from public.newsletter_subscriptions order by 1`)
  return Object.fromEntries(rows.map((r) => [String(r.id), `${String(r.m)}|${String(r.at)}`]))
}

async function optOutRun (t: Test, connector: Connector, q: Query) {
  const before = await consents(q)
  const collectedBefore = (await drain(connector.collect!(quietCtx(ADA, [])))).length

  t.strictSame(await drain(connector.optOut!(quietCtx(ADA, ['partner_sharing']))), [
    { status: 'opted_out', stream: 'newsletter', count: 1, purposes: ['partner_sharing'] }
  ], 'partner sharing: only the newsletter records it; customers are not asked')
  const sharing = await consents(q)
  t.strictSame(sharing, { ...before, n801: 'subscribed/false/on/true|false' }, 'only Ada\'s partner-sharing column changed')

  const first = await drain(connector.optOut!(quietCtx(ADA, ['marketing', 'partner_sharing', 'profiling'])))
  t.strictSame(first, [
    { status: 'opted_out', stream: 'customers', count: 1, purposes: ['marketing'] },
    { status: 'opted_out', stream: 'newsletter', count: 1, purposes: ['marketing', 'partner_sharing', 'profiling'] }
  ])
  const after = await consents(q)
  t.strictSame(after, { ...before, c1: 'false|true', n801: 'unsubscribed/false/null/true|true' }, 'Ada opted out everywhere, with when; transactional mail untouched')
  const sums = await checksums(q)
  const again = await drain(connector.optOut!(quietCtx(ADA, ['marketing', 'partner_sharing', 'profiling'])))
  t.strictSame(again.map((o) => o.status === 'opted_out' ? o.count : -1), [0, 0], 'a re-run changes nothing')
  t.strictSame(await checksums(q), sums, 'not a byte (the opt-out times stay)')
  t.strictSame(await drain(connector.optOut!(quietCtx({ email: 'nobody@example.invalid' }, ['marketing']))), [
    { status: 'not_found', stream: 'customers' }, { status: 'not_found', stream: 'newsletter' }
  ])
  t.strictSame((await consents(q)).c2, before.c2, 'Bob untouched')
  t.equal((await drain(connector.collect!(quietCtx(ADA, [])))).length, collectedBefore, 'nothing deleted')
}

t.test('opt_out on a real Postgres', async (t) => {
  const name = `dsr_pgoptout_${randomBytes(6).toString('hex')}`
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} })
  await admin.unsafe(`create database ${name}`)
  const url = new URL(ADMIN_URL)
  url.pathname = `/${name}`
  const sql = postgres(url.toString(), { max: 2, onnotice: () => {} })
  t.teardown(async () => {
    await sql.end({ timeout: 5 })
    await admin.unsafe(`drop database if exists ${name} with (force)`)
    await admin.end()
  })
  await sql.unsafe(SCHEMA_SQL + SEED_SQL + OPT_OUT_SQL)
  const q: Query = async (text, params = []) => Array.from(await sql.unsafe(text, params as string[]))
  const connector = await postgresConnector.create(optOutConfig(url.toString()), { log: captureLog().log, fetch })
  t.teardown(() => connector.close?.())
  await optOutRun(t, connector, q)

  // A column that does not take its value is refused before anything changes.
  const wrong = optOutConfig(url.toString())
  wrong.datasets[1]!.tables[0]!.opt_out = { marketing: { column: 'service_emails', value: 'no' } }
  const refused = await postgresConnector.create(wrong, { log: captureLog().log, fetch })
  t.teardown(() => refused.close?.())
  await t.rejects(drain(refused.optOut!(quietCtx(BOB, ['marketing']))), { code: 'DSR_CONNECTOR_CONFIG', message: /a boolean column needs true or false/ })
  const missing = optOutConfig(url.toString())
  missing.datasets[1]!.tables[0]!.opt_out = { marketing: { column: 'no_such_column' } }
  const absent = await postgresConnector.create(missing, { log: captureLog().log, fetch })
  t.teardown(() => absent.close?.())
  await t.rejects(drain(absent.optOut!(quietCtx(BOB, ['marketing']))), { code: 'DSR_CONNECTOR_CONFIG', message: /column "no_such_column" does not exist/ })
  t.equal((await consents(q)).n802, 'subscribed/true/on/true|false', 'Bob untouched by the refused runs')
})

t.test('opt_out on the embedded database (PGlite)', async (t) => {
  const dbh: DbHandle = await openDb({ dataDir: 'memory://' })
  t.teardown(() => dbh.close())
  if (dbh.raw.kind !== 'pglite') throw new Error('expected PGlite')
  const pg = dbh.raw.pg
  await pg.exec(SCHEMA_SQL + SEED_SQL + OPT_OUT_SQL)
  const q: Query = async (text, params = []) => (await pg.query<Record<string, unknown>>(text, params)).rows
  const connector = await postgresConnector.create(optOutConfig('embedded:'), { log: captureLog().log, fetch, serviceDatabase: dbh.raw })
  t.teardown(() => connector.close?.())
  await optOutRun(t, connector, q)
})
