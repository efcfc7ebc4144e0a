import { createHash, randomBytes } from 'node:crypto'
import t, { type Test } from 'tap'
import postgres from 'postgres'
import { createPostgresConnector, postgresConnector } from '../../connectors/postgres/index.js'
import { sqlClientFromUrl, type SqlClient } from '../../connectors/postgres/sql-client.js'
import { BATCH_SIZE } from '../../connectors/postgres/collect.js'
import { ConnectorError, ConnectorErrorCodes, type CollectedItem, type Connector, type ConnectorContext, type SubjectIdentity } from '../../connectors/types.js'
import { openDb, type DbHandle } from '../../src/db/client.js'
import {
  ADA, ADA_ERASED, ADA_KEYS, ADA_RERUN, BOB, BOB_KEYS, SALT, SCHEMA_SQL, SEED_SQL,
  captureLog, checksums, drain, keysByStream, remaining, shopConfig, sortedKeys, type Query
} from '../fixtures/postgres-connector.js'

/**
 * The postgres connector against a real server (always: the server exists wherever these tests
 * run, with or without DATABASE_URL), then against the service's embedded database (PGlite).
 */
const ADMIN_URL = process.env.DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/test'

type Tap = Test

/** A scratch database with the shop in it, dropped when the test ends. */
async function shopDatabase (t: Tap): Promise<{ url: string, q: Query, sql: postgres.Sql }> {
  const name = `dsr_pgconn_${randomBytes(6).toString('hex')}`
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
  await sql.unsafe(SCHEMA_SQL + SEED_SQL)
  const q: Query = async (text, params = []) => Array.from(await sql.unsafe(text, params as string[]))
  return { url: url.toString(), q, sql }
}

async function connect (t: Tap, config: Parameters<typeof postgresConnector.create>[0], serviceDatabase?: DbHandle) {
  const { lines, log } = captureLog()
  const connector: Connector = await postgresConnector.create(config, { log, fetch, ...(serviceDatabase ? { serviceDatabase: serviceDatabase.raw } : {}) })
  t.teardown(() => connector.close?.())
  return { connector, lines }
}

function ctx (subject: SubjectIdentity, signal = new AbortController().signal): ConnectorContext {
  return { requestId: 'req-1', subject, signal, log: captureLog().log }
}

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex')

/** Everything personal in the seed that must never reach a log line. */
// 'ada.' and 'lovelace' rather than 'ada' alone, which a uuid or hex hash in a log line can hold.
const PERSONAL = ['ada.', 'lovelace', '+4412', 'bob@', 'L-001', 'Square']

/** The whole collect → erase → erase-again story, on any database the connector can reach. */
async function collectAndErase (t: Tap, connector: Connector, q: Query, logs: string[]) {
  const items = await drain(connector.collect!(ctx(ADA))) as Array<CollectedItem & { type: 'record' }>
  t.strictSame(keysByStream(items), sortedKeys(ADA_KEYS), 'collect returns exactly the subject\'s rows')

  const customer = items.find((i) => i.stream === 'customers')!
  t.equal(customer.data.email, 'Ada.Lovelace@Example.com', 'values as stored')
  t.notOk('password_hash' in customer.data, 'excluded column absent')
  t.notOk(items.some((i) => 'dsr_key' in i.data), 'no key column leaks into data')
  t.notOk(items.filter((i) => i.stream === 'audit_log').some((i) => 'ip' in i.data), 'audit_log.ip excluded')
  t.strictSame(Object.keys(items.find((i) => i.stream === 'order_items')!.data).sort(), ['line', 'order_id', 'qty', 'sku'])
  t.equal(items.find((i) => i.stream === 'ticket_messages' && i.key === '9001')!.data.id, '9001', 'int8 as a string on every driver')
  t.equal(items.find((i) => i.stream === 'orders' && i.key === '101')!.data.total, '12.50', 'numeric as a string')

  const before = await checksums(q, ADA_KEYS)
  const outcomes = await drain(connector.erase!(ctx(ADA)))
  t.strictSame(outcomes, ADA_ERASED, 'children before parents; retained for kept columns')

  const left = await remaining(q, ADA_KEYS)
  t.strictSame(left, { customers: 0, orders: 0, order_items: 0, support_tickets: 0, ticket_messages: 0, invoices: 2, preferences: 0, audit_log: 0, newsletter: 0 })
  const invoices = await q('select id, customer_id, billing_name, billing_email, anonymised, amount::text as amount, country from crm.invoices where id in (701, 702) order by id')
  t.strictSame(invoices, [
    { id: 701, customer_id: null, billing_name: 'REDACTED', billing_email: sha256('ADA.LOVELACE@example.com' + SALT), anonymised: true, amount: '12.50', country: 'GB' },
    { id: 702, customer_id: null, billing_name: 'REDACTED', billing_email: sha256('ada.lovelace@example.com' + SALT), anonymised: true, amount: '99.00', country: 'GB' }
  ], 'null, fixed, hash (sha256 of value || salt) and keep applied')
  t.strictSame(await checksums(q, ADA_KEYS), before, 'every other row of every table unchanged')

  const whole = await checksums(q)
  t.strictSame(await drain(connector.erase!(ctx(ADA))), ADA_RERUN, 'a second erase finds nothing')
  t.strictSame(await checksums(q), whole, 'and changes nothing')
  t.strictSame(await drain(connector.collect!(ctx(ADA))), [], 'nothing left to collect')

  const leaks = logs.filter((line) => PERSONAL.some((p) => line.toLowerCase().includes(p.toLowerCase())))
  t.strictSame(leaks, [], 'no identifier or row value in the logs')
}

t.test('collect and erase on a real Postgres', async (t) => {
  const { url, q } = await shopDatabase(t)
  const { connector, lines } = await connect(t, shopConfig(url))
  await collectAndErase(t, connector, q, lines)
})

t.test('collect matches by every identity kind, and only the subject', async (t) => {
  const { url } = await shopDatabase(t)
  const { connector } = await connect(t, shopConfig(url))
  const ada = sortedKeys(ADA_KEYS)
  const { newsletter: _n, preferences: _p, ...adaViaCustomer } = ada
  const viaCustomer = { ...adaViaCustomer, invoices: ['701'] }

  t.strictSame(keysByStream(await drain(connector.collect!(ctx({ phone: '+441234567890' })))), viaCustomer, 'by phone')
  t.strictSame(keysByStream(await drain(connector.collect!(ctx({ customer_id: '1' })))), viaCustomer, 'by customer id')
  t.strictSame(keysByStream(await drain(connector.collect!(ctx({ external_ids: [{ system: 'legacy_crm', id: 'L-001' }] })))), viaCustomer, 'by external id')
  t.strictSame(await drain(connector.collect!(ctx({ external_ids: [{ system: 'other', id: 'L-001' }] }))), [], 'external id of another system')
  t.strictSame(await drain(connector.collect!(ctx({ customer_id: 'cus_not_a_number' }))), [], 'an id that cannot fit the column matches nothing, without an error')
  t.strictSame(keysByStream(await drain(connector.collect!(ctx(BOB)))), sortedKeys(BOB_KEYS), 'Bob, case-insensitively')
  t.strictSame(keysByStream(await drain(connector.collect!(ctx({ email: 'dora@example.net' })))), { newsletter: ['803'] })
  t.strictSame(await drain(connector.collect!(ctx({ account_id: 'acc-1' }))), [], 'nothing identifies by account id')
})

t.test('a subject nothing can identify costs no query at all', async (t) => {
  const { url } = await shopDatabase(t)
  const real = sqlClientFromUrl(url, { max: 1 })
  const calls: string[] = []
  const spy: SqlClient = {
    kind: real.kind,
    query: (text, params, opts) => { calls.push('query'); return real.query(text, params, opts) },
    many: (statements, opts) => { calls.push(...statements.map(() => 'query')); return real.many(statements, opts) },
    cursor: (text, params, size, opts) => { calls.push('cursor'); return real.cursor(text, params, size, opts) },
    transaction: (fn) => { calls.push('transaction'); return real.transaction(fn) },
    close: () => real.close()
  }
  const connector = createPostgresConnector(shopConfig(url), spy, captureLog().log)
  t.teardown(() => connector.close?.())
  await drain(connector.collect!(ctx(ADA)))
  calls.length = 0
  t.strictSame(await drain(connector.collect!(ctx({ account_id: 'acc-1', external_ids: [{ system: 'other', id: 'x' }] }))), [])
  t.strictSame(await drain(connector.erase!(ctx({ phone_sha256: 'f'.repeat(64) }))), [])
  t.strictSame(calls, [], 'the catalog is cached and no table is queried')
  await drain(connector.collect!(ctx({ phone: '+15550000002' })))
  t.equal(calls.length, 7, 'a phone number reaches 7 tables through customers: preferences and newsletter are not queried')
})

t.test('collect: small tables come from one probe round trip, a table past a batch streams through a cursor', async (t) => {
  const { url, sql } = await shopDatabase(t)
  // One more than two cursor batches of Ada's rows, and a few of Bob's.
  await sql.unsafe('create table crm.page_views (id serial primary key, customer_id int references crm.customers(id), path text)')
  await sql.unsafe(`insert into crm.page_views (customer_id, path)
    select c.id, '/p/' || g from crm.customers c, generate_series(1, case when lower(c.email) = 'ada.lovelace@example.com' then ${2 * BATCH_SIZE + 1} else 3 end) g`)
  const config = shopConfig(url)
  config.datasets[0]!.tables.push({ table: 'crm.page_views', primary_key: ['id'], references: [{ column: 'customer_id', table: 'crm.customers', to: 'id' }], erase: 'delete' })
  const real = sqlClientFromUrl(url, { max: 2 })
  const calls: string[] = []
  const spy: SqlClient = {
    ...real,
    many: (statements, opts) => { calls.push(`many ${statements.length}`); return real.many(statements, opts) },
    cursor: (text, params, size, opts) => { calls.push(`cursor ${/FROM "crm"\."(\w+)"/.exec(text)?.[1]}`); return real.cursor(text, params, size, opts) },
    close: () => real.close()
  }
  const connector = createPostgresConnector(config, spy, captureLog().log)
  t.teardown(() => connector.close?.())
  const items = await drain(connector.collect!(ctx(ADA))) as Array<CollectedItem & { type: 'record' }>
  const views = items.filter((i) => i.stream === 'page_views')
  const [counted] = await sql.unsafe<Array<{ n: number }>>('select count(*)::int as n from crm.page_views v join crm.customers c on c.id = v.customer_id where lower(c.email) = \'ada.lovelace@example.com\'')
  const n = counted!.n
  t.equal(views.length, n, `every one of Ada's ${n} page views`)
  t.equal(new Set(views.map((v) => v.key)).size, n, 'each once')
  t.strictSame(keysByStream(items.filter((i) => i.stream !== 'page_views')), sortedKeys(ADA_KEYS), 'the other tables as before')
  const tables = config.datasets.flatMap((d) => d.tables).length
  // page_views is the last table, so its cursor comes after every probe round trip (at most 8 tables each).
  const probes = Array.from({ length: Math.ceil(tables / 8) }, (_, i) => `many ${Math.min(8, tables - 8 * i)}`)
  t.strictSame(calls, [...probes, 'cursor page_views'], 'the tables are probed together; only the one past a batch is read again, through a cursor')
})

t.test('erase orders tables even when the config lists every parent first, across reversed datasets', async (t) => {
  const { url, q } = await shopDatabase(t)
  const config = shopConfig(url)
  config.datasets.reverse()
  const parentsFirst = ['crm.customers', 'crm.support_tickets', 'crm.orders', 'public.audit_log', 'crm.customer_preferences', 'crm.ticket_messages', 'crm.order_items', 'crm.invoices']
  config.datasets[1]!.tables.sort((a, b) => parentsFirst.indexOf(a.table) - parentsFirst.indexOf(b.table))
  const { connector } = await connect(t, config)
  const before = await checksums(q, BOB_KEYS)
  const outcomes = await drain(connector.erase!(ctx(BOB)))
  t.equal(outcomes.filter((o) => o.status === 'erased').length, 9)
  t.equal(outcomes.at(-1)?.stream, 'customers', 'customers last in its dataset')
  t.strictSame(await remaining(q, BOB_KEYS), { customers: 0, orders: 0, order_items: 0, support_tickets: 0, ticket_messages: 0, invoices: 1, preferences: 0, audit_log: 0, newsletter: 0 })
  t.strictSame(await checksums(q, BOB_KEYS), before)
})

t.test('abort: collect and erase stop with a retryable timeout and change nothing', async (t) => {
  const { url, q } = await shopDatabase(t)
  const { connector } = await connect(t, shopConfig(url))
  const ac = new AbortController()
  ac.abort()
  await t.rejects(drain(connector.collect!(ctx(ADA, ac.signal))), { code: ConnectorErrorCodes.Timeout, retryable: true })

  const mid = new AbortController()
  const seen: string[] = []
  await t.rejects((async () => {
    for await (const item of connector.collect!(ctx(ADA, mid.signal))) {
      seen.push(item.stream)
      mid.abort()
    }
  })(), { code: ConnectorErrorCodes.Timeout, retryable: true })
  t.strictSame(seen, ['customers'], 'stopped after the batch in hand')

  const whole = await checksums(q)
  await t.rejects(drain(connector.erase!(ctx(ADA, ac.signal))), { code: ConnectorErrorCodes.Timeout, retryable: true })
  t.strictSame(await checksums(q), whole)
})

t.test('configuration problems are permanent DSR_CONNECTOR_CONFIG errors', async (t) => {
  const { url, sql } = await shopDatabase(t)
  const wrongTable = shopConfig(url)
  wrongTable.datasets[1]!.tables[0]!.table = 'public.newsletter_subscriptionz'
  const a = (await connect(t, wrongTable)).connector
  const err = await drain(a.collect!(ctx(ADA))).catch((e: unknown) => e)
  t.ok(err instanceof ConnectorError)
  t.match(err, { code: ConnectorErrorCodes.Config, retryable: false, message: /newsletter_subscriptionz/ })
  await t.rejects(drain(a.erase!(ctx(ADA))), { code: ConnectorErrorCodes.Config, retryable: false })

  const wrongColumn = shopConfig(url)
  wrongColumn.datasets[0]!.tables[0]!.identity![0]!.column = 'emial'
  const b = (await connect(t, wrongColumn)).connector
  await t.rejects(drain(b.collect!(ctx(ADA))), { code: ConnectorErrorCodes.Config, retryable: false, message: /datasets\/0\/tables\/0 \(crm\.customers\)\/identity\/0: column "emial"/ })

  // A table dropped after the catalog was read: the server's 42P01, mapped.
  const c = (await connect(t, shopConfig(url))).connector
  await drain(c.collect!(ctx(ADA)))
  await sql.unsafe('drop table public.newsletter_subscriptions')
  await t.rejects(drain(c.collect!(ctx(ADA))), { code: ConnectorErrorCodes.Config, retryable: false, message: /42P01/ })

  await t.rejects(async () => postgresConnector.create(shopConfig('embedded:'), { log: captureLog().log, fetch }),
    { code: ConnectorErrorCodes.Config, retryable: false }, 'embedded: without the service database')
})

t.test('health: ok, and down without throwing', async (t) => {
  const { url } = await shopDatabase(t)
  const { connector } = await connect(t, shopConfig(url))
  const ok = await connector.health({ signal: new AbortController().signal })
  t.match(ok, { status: 'ok', latencyMs: Number })

  const bad = new URL(ADMIN_URL)
  bad.port = '1'
  const { connector: down } = await connect(t, shopConfig(bad.toString()))
  const res = await down.health({ signal: new AbortController().signal })
  t.match(res, { status: 'down', retryable: true, message: /cannot reach the database/ })
  t.notMatch(JSON.stringify(res), /127\.0\.0\.1|root/, 'no address or user in the message')

  const aborted = new AbortController()
  aborted.abort()
  t.match(await connector.health({ signal: aborted.signal }), { status: 'down', retryable: true })
})

t.test('embedded: on the service database (PGlite)', async (t) => {
  const dbh = await openDb({ dataDir: 'memory://' })
  t.teardown(() => dbh.close())
  if (dbh.raw.kind !== 'pglite') throw new Error('expected PGlite')
  const pg = dbh.raw.pg
  await pg.exec(SCHEMA_SQL + SEED_SQL)
  const q: Query = async (text, params = []) => (await pg.query<Record<string, unknown>>(text, params)).rows
  const { connector, lines } = await connect(t, shopConfig('embedded:'), dbh)
  await collectAndErase(t, connector, q, lines)
  t.match(await connector.health({ signal: new AbortController().signal }), { status: 'ok' })
  await connector.close!()
  t.strictSame(await q('select 1 as one'), [{ one: 1 }], 'closing the connector leaves the service database open')
})

t.test('embedded: on the service database (postgres.js)', async (t) => {
  const { url, q } = await shopDatabase(t)
  const dbh = await openDb({ url, maxConnections: 2 })
  t.teardown(() => dbh.close())
  const { connector, lines } = await connect(t, shopConfig('embedded:'), dbh)
  await collectAndErase(t, connector, q, lines)
  await connector.close!()
  t.ok(await dbh.executor.executeSql('select 1', []), 'closing the connector leaves the service pool open')
})

t.test('the definition', async (t) => {
  t.equal(postgresConnector.driver, 'postgres')
  t.strictSame(postgresConnector.capabilities, ['collect', 'erase', 'restrict', 'opt_out', 'retention'], 'all it may have')
  t.strictSame(postgresConnector.capabilitiesFor!(shopConfig('embedded:')), ['collect', 'erase'], 'restrict and retention only when configured')
  t.strictSame(postgresConnector.capabilitiesFor!(restrictConfig('embedded:')), ['collect', 'erase', 'restrict'])
  t.strictSame(postgresConnector.capabilitiesFor!({ ...shopConfig('embedded:'), retention: [{ table: 'crm.orders', column: 'placed_at', max_age_days: 1, action: 'delete' }] }),
    ['collect', 'erase', 'retention'])
  t.strictSame(postgresConnector.streams, [])
  t.strictSame(postgresConnector.secretFields, ['url', 'salt'])
  const streams = postgresConnector.streamsFor!(shopConfig('embedded:'))
  t.strictSame(streams.map((s) => s.name), ['customers', 'orders', 'order_items', 'support_tickets', 'ticket_messages', 'invoices', 'preferences', 'audit_log', 'newsletter'])
  t.strictSame(streams[0], { name: 'customers', description: 'Customer accounts', categories: ['contact', 'identity'] })
  t.strictSame(streams[2], { name: 'order_items', description: 'Rows of crm.order_items', categories: [] })
})

// ---- restriction of processing ------------------------------------------------------------------

/** Mark columns for the shop: a flag and its time on customers, a hold on orders, a text status on the newsletter. */
const RESTRICT_SQL = `
  alter table crm.customers add column processing_restricted boolean not null default false, add column restricted_since timestamptz;
  alter table crm.orders add column on_hold boolean not null default false;
  alter table public.newsletter_subscriptions add column processing text not null default 'active';`

/** The shop, restricting: orders are reached only through their reference to customers. */
function restrictConfig (url: string) {
  const config = shopConfig(url)
  const table = (name: string) => config.datasets.flatMap((d) => d.tables).find((x) => x.table === name)!
  table('crm.customers').restrict = { column: 'processing_restricted', since_column: 'restricted_since' }
  table('crm.orders').restrict = { column: 'on_hold', value: true, lifted: false }
  table('public.newsletter_subscriptions').restrict = { column: 'processing', value: 'restricted', lifted: 'active' }
  return config
}

async function marks (q: Query) {
  const ids = async (text: string) => (await q(text)).map((r) => Number(r.id)).sort((a, b) => a - b)
  return {
    customers: await ids('select id from crm.customers where processing_restricted'),
    since: await ids('select id from crm.customers where restricted_since is not null'),
    orders: await ids('select id from crm.orders where on_hold'),
    newsletter: await ids('select id from public.newsletter_subscriptions where processing <> \'active\'')
  }
}

const ADA_MARKED = [
  { status: 'restricted', stream: 'customers', count: 1 },
  { status: 'restricted', stream: 'orders', count: 2 },
  { status: 'restricted', stream: 'newsletter', count: 1 }
]

/** Restrict → restrict again → unrestrict → unrestrict again, on any database the connector can reach. */
async function restrictAndLift (t: Tap, connector: Connector, q: Query, logs: string[]) {
  // The task's own logger (ctx.log), captured: restrict logs there, like erase.
  const taskLog = captureLog()
  const ctx = (subject: SubjectIdentity): ConnectorContext => ({ requestId: 'req-1', subject, signal: new AbortController().signal, log: taskLog.log })
  const untouched = await checksums(q, ADA_KEYS)
  const original = await checksums(q)
  t.strictSame(await marks(q), { customers: [], since: [], orders: [], newsletter: [] })

  t.strictSame(await drain(connector.restrict!(ctx(ADA))), ADA_MARKED, 'marked in every table with a restrict setting, found as collect finds rows')
  t.strictSame(await marks(q), { customers: [1], since: [1], orders: [101, 102], newsletter: [801] }, 'Ada\'s rows only')
  t.strictSame(await checksums(q, ADA_KEYS), untouched, 'every other row of every table unchanged')
  const [first] = await q('select restricted_since::text as at from crm.customers where id = 1')

  t.strictSame(await drain(connector.restrict!(ctx(ADA))), ADA_MARKED.map((o) => ({ ...o, count: 0 })), 'a re-run changes nothing')
  t.strictSame(await q('select restricted_since::text as at from crm.customers where id = 1'), [first], 'and keeps the first time')
  const items = await drain(connector.collect!(ctx(ADA))) as Array<CollectedItem & { type: 'record' }>
  t.equal(items.find((i) => i.stream === 'customers')!.data.processing_restricted, true, 'restricted rows are still collected, with their mark')

  t.strictSame(await drain(connector.restrict!(ctx({ email: 'dora@example.net' }))), [
    { status: 'not_found', stream: 'customers' }, { status: 'not_found', stream: 'orders' }, { status: 'restricted', stream: 'newsletter', count: 1 }
  ], 'Dora only subscribes')
  t.strictSame(await drain(connector.restrict!(ctx({ account_id: 'acc-1' }))), [], 'nothing identifies by account id: no outcome')

  t.strictSame(await drain(connector.unrestrict!(ctx(ADA))), ADA_MARKED.map((o) => ({ ...o, status: 'unrestricted' })), 'lifted where placed')
  t.strictSame(await marks(q), { customers: [], since: [], orders: [], newsletter: [803] }, 'Ada unmarked, her time cleared; Dora still restricted')
  t.strictSame(await drain(connector.unrestrict!(ctx(ADA))), ADA_MARKED.map((o) => ({ ...o, status: 'unrestricted', count: 0 })), 'a second lift changes nothing')
  await drain(connector.unrestrict!(ctx({ email: 'dora@example.net' })))
  t.strictSame(await checksums(q), original, 'placed and lifted: every row as it was')

  const leaks = [...logs, ...taskLog.lines].filter((line) => PERSONAL.some((p) => line.toLowerCase().includes(p.toLowerCase())) || line.includes('dora'))
  t.strictSame(leaks, [], 'no identifier or row value in the logs')
  t.ok(taskLog.lines.some((l) => l.includes('restrict outcome') && l.includes('"count":2')), 'outcomes are logged, with counts only')
}

t.test('restrict and unrestrict on a real Postgres', async (t) => {
  const { url, q, sql } = await shopDatabase(t)
  await sql.unsafe(RESTRICT_SQL)
  const { connector, lines } = await connect(t, restrictConfig(url))
  await restrictAndLift(t, connector, q, lines)
})

t.test('restrict and unrestrict on the service database (PGlite)', async (t) => {
  const dbh = await openDb({ dataDir: 'memory://' })
  t.teardown(() => dbh.close())
  if (dbh.raw.kind !== 'pglite') throw new Error('expected PGlite')
  const pg = dbh.raw.pg
  await pg.exec(SCHEMA_SQL + SEED_SQL + RESTRICT_SQL)
  const q: Query = async (text, params = []) => (await pg.query<Record<string, unknown>>(text, params)).rows
  const { connector, lines } = await connect(t, restrictConfig('embedded:'), dbh)
  await restrictAndLift(t, connector, q, lines)
})

t.test('restrict is one transaction per dataset: a failing table leaves its dataset unmarked', async (t) => {
  const { url, q, sql } = await shopDatabase(t)
  await sql.unsafe(RESTRICT_SQL + 'alter table crm.orders add constraint orders_never_held check (not on_hold or id <> 102);')
  const { connector } = await connect(t, restrictConfig(url))
  const seen: string[] = []
  await t.rejects((async () => { for await (const o of connector.restrict!(ctx(ADA))) seen.push(o.stream) })(),
    { code: ConnectorErrorCodes.Internal, retryable: false, message: /restrict orders: database error \(23514\)/ })
  t.strictSame(seen, [], 'no outcome is reported for a dataset that rolled back')
  t.strictSame(await marks(q), { customers: [], since: [], orders: [], newsletter: [] }, 'customers, marked first in the dataset, rolled back too')
})

t.test('restrict settings: checked by the schema, at create, and against the database on first restrict', async (t) => {
  const { url, q, sql } = await shopDatabase(t)
  const pk = restrictConfig(url)
  pk.datasets[0]!.tables[0]!.restrict = { column: 'id' }
  await t.rejects(async () => postgresConnector.create(pk, { log: captureLog().log, fetch }), { code: ConnectorErrorCodes.Config, message: /tables\/0\/restrict\/column: a primary key column/ })
  const same = restrictConfig(url)
  same.datasets[0]!.tables[0]!.restrict = { column: 'processing_restricted', value: false }
  await t.rejects(async () => postgresConnector.create(same, { log: captureLog().log, fetch }), { code: ConnectorErrorCodes.Config, message: /value and lifted must differ/ })
  const since = restrictConfig(url)
  since.datasets[0]!.tables[0]!.restrict = { column: 'processing_restricted', since_column: 'processing_restricted' }
  await t.rejects(async () => postgresConnector.create(since, { log: captureLog().log, fetch }), { code: ConnectorErrorCodes.Config, message: /since_column: must be a column of its own/ })

  // The database lacks the mark columns (like a sample database seeded before they existed):
  // restrict fails, permanently, naming the column; collect and erase are unaffected.
  const { connector } = await connect(t, restrictConfig(url))
  await t.rejects(drain(connector.restrict!(ctx(ADA))), { code: ConnectorErrorCodes.Config, retryable: false, message: /tables\/0 \(crm\.customers\)\/restrict\/column: column "processing_restricted" does not exist/ })
  await t.rejects(drain(connector.unrestrict!(ctx(ADA))), { code: ConnectorErrorCodes.Config, retryable: false })
  t.equal((await drain(connector.collect!(ctx(ADA)))).length, 15, 'collect still works')

  await sql.unsafe(RESTRICT_SQL + 'alter table crm.customers add column note text, add column held_on date not null default now();')
  const cases: Array<[string, (c: ReturnType<typeof restrictConfig>) => void, RegExp]> = [
    ['a text value on a boolean', (c) => { c.datasets[0]!.tables[0]!.restrict = { column: 'processing_restricted', value: 'yes', lifted: 'no' } }, /restrict\/value: a boolean column needs true or false/],
    ['null lifted on NOT NULL', (c) => { c.datasets[0]!.tables[1]!.restrict = { column: 'on_hold', lifted: null } }, /tables\/1 \(crm\.orders\)\/restrict\/lifted: null on a NOT NULL column/],
    ['a boolean on a date', (c) => { c.datasets[0]!.tables[0]!.restrict = { column: 'held_on' } }, /restrict\/value: a boolean value for a date column/],
    ['since on a text column', (c) => { c.datasets[0]!.tables[0]!.restrict = { column: 'processing_restricted', since_column: 'note' } }, /since_column: needs a timestamp column, "note" is text/],
    ['since NOT NULL', (c) => { c.datasets[0]!.tables[0]!.restrict = { column: 'processing_restricted', since_column: 'held_on' } }, /since_column: "held_on" is NOT NULL/]
  ]
  for (const [what, change, message] of cases) {
    const config = restrictConfig(url)
    change(config)
    const { connector: c } = await connect(t, config)
    await t.rejects(drain(c.restrict!(ctx(ADA))), { code: ConnectorErrorCodes.Config, retryable: false, message }, what)
  }
  t.strictSame(await marks(q), { customers: [], since: [], orders: [], newsletter: [] }, 'no refused config marked anything')

  const plain = (await connect(t, shopConfig(url))).connector
  t.equal(plain.restrict, undefined, 'no restrict setting: no restrict')
  t.equal(plain.unrestrict, undefined)
})
