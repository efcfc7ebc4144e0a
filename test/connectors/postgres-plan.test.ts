import t from 'tap'
import { Value } from 'typebox/value'
import { postgresConnector } from '../../connectors/postgres/index.js'
import { checkConfig, PostgresConfigSchema, type PostgresConfig } from '../../connectors/postgres/config.js'
import type { Catalog, ColumnInfo } from '../../connectors/postgres/catalog.js'
import { toConnectorError } from '../../connectors/postgres/errors.js'
import { quoteIdent, quoteTable } from '../../connectors/postgres/identifiers.js'
import { buildModel, eraseOrder, fitsColumn, newParams, predicate, restrictStatement, updateStatement } from '../../connectors/postgres/plan.js'
import { ConnectorError, ConnectorErrorCodes } from '../../connectors/types.js'
import { shopConfig } from '../fixtures/postgres-connector.js'

/** Configuration, planning and error mapping: no database needed. */

const errorsOf = (value: unknown) => [...Value.Errors(PostgresConfigSchema, value)].map((e) => ({ path: e.instancePath, keyword: e.keyword }))

t.test('the schema accepts the shop and rejects bad input at a precise path', async (t) => {
  t.strictSame(errorsOf(shopConfig('postgres://u@h/db')), [])
  t.strictSame(errorsOf(shopConfig('embedded:')), [])

  const injected = shopConfig('embedded:')
  injected.datasets[0]!.tables[1]!.table = 'crm.orders; drop table crm.customers'
  t.strictSame(errorsOf(injected), [{ path: '/datasets/0/tables/1/table', keyword: 'pattern' }], 'a table name that is not an identifier')

  const badColumn = shopConfig('embedded:')
  badColumn.datasets[0]!.tables[0]!.primary_key = ['id"--']
  t.strictSame(errorsOf(badColumn), [{ path: '/datasets/0/tables/0/primary_key/0', keyword: 'pattern' }])

  const badStrategy = structuredClone(shopConfig('embedded:')) as unknown as { datasets: Array<{ tables: Array<Record<string, any>> }> }
  badStrategy.datasets[0]!.tables[5]!.erase.columns.billing_name = { strategy: 'scramble' }
  const errors = errorsOf(badStrategy)
  t.ok(errors.some((e) => e.path === '/datasets/0/tables/5/erase/columns/billing_name/strategy' && e.keyword === 'const'), 'unknown strategy named at its own path')
  t.ok(errors.every((e) => e.path.startsWith('/datasets/0/tables/5/erase')), 'and nowhere else')

  const extra = structuredClone(shopConfig('embedded:')) as unknown as Record<string, any>
  extra.datasets[1].tables[0].identity[0].fuzzy = true
  t.strictSame(errorsOf(extra), [
    { path: '/datasets/1/tables/0/identity/0/fuzzy', keyword: 'boolean' },
    { path: '/datasets/1/tables/0/identity/0', keyword: 'additionalProperties' }
  ], 'unknown property')

  const kind = structuredClone(shopConfig('embedded:')) as unknown as Record<string, any>
  kind.datasets[1].tables[0].identity[0].kind = 'ssn'
  t.ok(errorsOf(kind).every((e) => e.path === '/datasets/1/tables/0/identity/0/kind'), 'unknown identity kind')

  t.strictSame(errorsOf({ ...shopConfig('embedded:'), url: 'mysql://x' }), [{ path: '/url', keyword: 'pattern' }])

  const restrict = structuredClone(shopConfig('embedded:')) as unknown as Record<string, any>
  restrict.datasets[0].tables[0].restrict = { column: 'processing_restricted', value: true, lifted: false, since_column: 'restricted_since' }
  t.strictSame(errorsOf(restrict), [], 'a restrict setting')
  restrict.datasets[0].tables[0].restrict = { column: 'bad name' }
  t.ok(errorsOf(restrict).some((e) => e.path === '/datasets/0/tables/0/restrict/column' && e.keyword === 'pattern'), 'the mark column is an identifier')
  restrict.datasets[0].tables[0].restrict = { column: 'x', value: null }
  t.ok(errorsOf(restrict).some((e) => e.path.startsWith('/datasets/0/tables/0/restrict/value')), 'the restricted value cannot be null')
  restrict.datasets[0].tables[0].restrict = { column: 'x', when: 'now' }
  t.ok(errorsOf(restrict).some((e) => e.path === '/datasets/0/tables/0/restrict' && e.keyword === 'additionalProperties'), 'unknown property')
})

t.test('checkConfig: what the schema cannot say', async (t) => {
  const cases: Array<[string, (c: PostgresConfig) => void, RegExp]> = [
    ['reference outside its dataset', (c) => { c.datasets[1]!.tables[0]!.references = [{ column: 'email', table: 'crm.customers', to: 'email' }] }, /datasets\/1\/tables\/0\/references\/0: table "crm.customers" is not a table of dataset "marketing"/],
    ['external_id without system', (c) => { delete c.datasets[0]!.tables[0]!.identity![3]!.system }, /identity\/3: kind external_id needs "system"/],
    ['hash without salt', (c) => { delete c.salt }, /datasets\/0\/tables\/5\/erase: strategy hash needs "salt"/],
    ['duplicate stream', (c) => { c.datasets[1]!.tables[0]!.stream = 'orders' }, /stream "orders" is used twice/],
    ['an update erasing nothing', (c) => { c.datasets[0]!.tables[5]!.erase = { columns: {} } }, /datasets\/0\/tables\/5\/erase\/columns: list at least one column/],
    ['erasing a primary key column', (c) => { (c.datasets[0]!.tables[5]!.erase as { columns: Record<string, unknown> }).columns.id = { strategy: 'null' } }, /erase\/columns\/id: a primary key column cannot be erased/]
  ]
  for (const [name, mutate, message] of cases) {
    const config = shopConfig('embedded:')
    mutate(config)
    t.throws(() => checkConfig(config), { code: ConnectorErrorCodes.Config, retryable: false, message }, name)
  }
  t.doesNotThrow(() => checkConfig(shopConfig('embedded:')))
  await t.rejects(async () => postgresConnector.create({ ...shopConfig('postgres://u@127.0.0.1:1/x'), salt: undefined } as PostgresConfig, { log: console, fetch }),
    { code: ConnectorErrorCodes.Config }, 'create checks too, before connecting')
})

const col = (name: string, base: string, category = 'S'): ColumnInfo => ({ name, type: base, base, category, notNull: false, maxLength: null })

/** A catalog as the shop's database would give it (only what the planner reads). */
function shopCatalog (config: PostgresConfig): Catalog {
  const tables = new Map(config.datasets.flatMap((d) => d.tables).map((t, i) => [t.table, { oid: String(i + 1), columns: new Map<string, ColumnInfo>() }]))
  tables.get('crm.customers')!.columns = new Map([['id', col('id', 'int4', 'N')], ['email', col('email', 'text')], ['legacy_ref', col('legacy_ref', 'text')]])
  tables.get('crm.invoices')!.columns = new Map([['anonymised', col('anonymised', 'bool', 'B')]])
  return { tables, foreignKeys: [{ child: 'crm.customer_preferences', parent: 'crm.customers', name: 'fk' }] }
}

t.test('predicate: one recursive condition per table, parameters only', async (t) => {
  const config = shopConfig('embedded:')
  const model = buildModel(config, shopCatalog(config))
  const items = config.datasets[0]!.tables[2]!
  const params = newParams()
  const where = predicate(model, items, { email: 'Ada@Example.COM', customer_id: '1' }, params)
  t.equal(where,
    't0."order_id" IN (SELECT t1."id" FROM "crm"."orders" AS t1 WHERE t1."customer_id" IN (SELECT t2."id" FROM "crm"."customers" AS t2 WHERE (lower(t2."email") = $1 OR t2."id" = $2)))')
  t.strictSame(params.values, ['ada@example.com', '1'], 'lower-cased for case-insensitive columns')

  const none = newParams()
  t.equal(predicate(model, items, { account_id: 'acc-1' }, none), null, 'no identifier, no path: no predicate')
  t.equal(predicate(model, items, { customer_id: 'cus_abc' }, none), null, 'a value that cannot fit an integer column is dropped')
  t.strictSame(none.values, [])

  const ext = newParams()
  const customers = config.datasets[0]!.tables[0]!
  t.equal(predicate(model, customers, { external_ids: [{ system: 'legacy_crm', id: 'L-1' }, { system: 'x', id: 'L-2' }, { system: 'legacy_crm', id: 'L-3' }] }, ext), 't0."legacy_ref" IN ($1, $2)')
  t.strictSame(ext.values, ['L-1', 'L-3'])
})

t.test('predicate: reference cycles end', async (t) => {
  const config: PostgresConfig = {
    url: 'embedded:',
    datasets: [{
      name: 'd',
      tables: [
        { table: 'a', primary_key: ['id'], identity: [{ column: 'email', kind: 'email' }], references: [{ column: 'b_id', table: 'b', to: 'id' }], erase: 'delete' },
        { table: 'b', primary_key: ['id'], references: [{ column: 'a_id', table: 'a', to: 'id' }], erase: 'delete' }
      ]
    }]
  }
  const model = buildModel(config, { tables: new Map(), foreignKeys: [] })
  const params = newParams()
  t.equal(predicate(model, config.datasets[0]!.tables[1]!, { email: 'x@y' }, params), 't0."a_id" IN (SELECT t1."id" FROM "a" AS t1 WHERE t1."email" = $1)')
  t.equal(predicate(model, config.datasets[0]!.tables[0]!, { email: 'x@y' }, newParams()), 't0."email" = $1', 'a → b → a stops at a')
  const { order, cyclic } = eraseOrder(config.datasets[0]!.tables, model.catalog)
  t.equal(cyclic, true)
  t.strictSame(order.map((x) => x.table), ['a', 'b'])
})

t.test('eraseOrder: children first, from references and foreign keys', async (t) => {
  const config = shopConfig('embedded:')
  const { order, cyclic } = eraseOrder(config.datasets[0]!.tables, shopCatalog(config))
  t.equal(cyclic, false)
  t.strictSame(order.map((x) => x.table), [
    'crm.order_items', 'crm.orders', 'crm.ticket_messages', 'crm.support_tickets', 'crm.invoices',
    'crm.customer_preferences', 'public.audit_log', 'crm.customers'
  ])
  const pair = config.datasets[0]!.tables.filter((x) => x.table === 'crm.customers' || x.table === 'crm.customer_preferences')
  t.strictSame(eraseOrder(pair, shopCatalog(config)).order.map((x) => x.table), ['crm.customer_preferences', 'crm.customers'])
  t.strictSame(eraseOrder(pair, { tables: new Map(), foreignKeys: [] }).order.map((x) => x.table), ['crm.customers', 'crm.customer_preferences'],
    'the undeclared foreign key alone puts preferences first')
})

t.test('updateStatement: skips rows already erased, so a re-run counts zero', async (t) => {
  const config = shopConfig('embedded:')
  const model = buildModel(config, shopCatalog(config))
  const params = newParams()
  const text = updateStatement(model, config.datasets[0]!.tables[5]!, `t0."id" = ${params.add('701')}`, params)
  t.match(text, /SET "customer_id" = NULL, "billing_name" = \$2, "billing_email" = encode\(sha256\(convert_to\(t0."billing_email"::text \|\| \$3, 'UTF8'\)\), 'hex'\), "anonymised" = \$4/)
  t.match(text, /AND NOT \(t0."customer_id" IS NULL AND t0."billing_name" IS NOT DISTINCT FROM \$2 AND \(t0."billing_email" IS NULL OR t0."billing_email"::text ~ '\^\[0-9a-f\]\{64\}\$'\)/)
  t.notMatch(text, /"amount"|"country"/, 'kept columns untouched')
  t.match(text, /AND t0."anonymised" IS NOT DISTINCT FROM \$4\) RETURNING 1\) SELECT \(SELECT count\(\*\) FROM changed\)::int AS changed, EXISTS \(SELECT 1 FROM "crm"."invoices" AS t0 WHERE t0."id" = \$1\) AS matched$/)
  t.strictSame(params.values, ['701', 'REDACTED', 'pepper-for-tests-0001', true], 'a real boolean for a boolean column')
})

t.test('restrictStatement: marks only unmarked rows, lifts only marked ones', async (t) => {
  const config = shopConfig('embedded:')
  const customers = config.datasets[0]!.tables[0]!
  customers.restrict = { column: 'processing_restricted', since_column: 'restricted_since' }
  const catalog = shopCatalog(config)
  catalog.tables.get('crm.customers')!.columns.set('processing_restricted', col('processing_restricted', 'bool', 'B'))
  const model = buildModel(config, catalog)

  const placing = newParams()
  const place = restrictStatement(model, customers, `t0."id" = ${placing.add('1')}`, placing, 'restrict')
  t.equal(place, 'WITH changed AS (UPDATE "crm"."customers" AS t0 SET "processing_restricted" = $2, "restricted_since" = now() ' +
    'WHERE t0."id" = $1 AND t0."processing_restricted" IS DISTINCT FROM $2 RETURNING 1) ' +
    'SELECT (SELECT count(*) FROM changed)::int AS changed, EXISTS (SELECT 1 FROM "crm"."customers" AS t0 WHERE t0."id" = $1) AS matched')
  t.strictSame(placing.values, ['1', true], 'defaults: true to restrict, as a real boolean')

  const lifting = newParams()
  const lift = restrictStatement(model, customers, `t0."id" = ${lifting.add('1')}`, lifting, 'unrestrict')
  t.match(lift, /SET "processing_restricted" = \$3, "restricted_since" = NULL WHERE t0."id" = \$1 AND t0."processing_restricted" IS NOT DISTINCT FROM \$2 RETURNING 1/)
  t.strictSame(lifting.values, ['1', true, false], 'only rows carrying the mark are set back to lifted (false)')

  const newsletter = config.datasets[1]!.tables[0]!
  newsletter.restrict = { column: 'processing', value: 'restricted', lifted: null }
  const text = newParams()
  t.notMatch(restrictStatement(model, newsletter, 'true', text, 'unrestrict'), /since|now\(\)/, 'no since_column: no time')
  t.strictSame(text.values, ['restricted', null], 'text marks as strings; a null lift')
  t.throws(() => restrictStatement(model, config.datasets[0]!.tables[1]!, 'true', newParams(), 'restrict'), TypeError, 'a table without restrict')
})

t.test('fitsColumn and identifiers', async (t) => {
  t.ok(fitsColumn('42', col('id', 'int4', 'N')))
  t.notOk(fitsColumn('2147483648', col('id', 'int4', 'N')), 'out of int4 range')
  t.ok(fitsColumn('9223372036854775807', col('id', 'int8', 'N')))
  t.notOk(fitsColumn('4.2', col('id', 'int8', 'N')))
  t.ok(fitsColumn('4.2e3', col('n', 'numeric', 'N')))
  t.ok(fitsColumn('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', col('u', 'uuid', 'U')))
  t.notOk(fitsColumn('not-a-uuid', col('u', 'uuid', 'U')))
  t.ok(fitsColumn('anything', col('e', 'text')))
  t.equal(quoteIdent('we"ird'), '"we""ird"')
  t.equal(quoteTable('Sales.Orders'), '"Sales"."Orders"')
  t.throws(() => quoteTable('a.b.c'))
  t.throws(() => quoteTable('a; drop'))
})

t.test('driver errors map to coded, data-free connector errors', async (t) => {
  const C = ConnectorErrorCodes
  const cases: Array<[string, string, boolean]> = [
    ['ECONNREFUSED', C.Network, true], ['ECONNRESET', C.Network, true], ['CONNECT_TIMEOUT', C.Network, true],
    ['57P01', C.Unavailable, true], ['53300', C.Unavailable, true], ['40001', C.Unavailable, true], ['40P01', C.Unavailable, true],
    ['08006', C.Network, true], ['57014', C.Timeout, true],
    ['28P01', C.Auth, false], ['28000', C.Auth, false], ['42501', C.Auth, false],
    ['42P01', C.Config, false], ['42703', C.Config, false], ['23503', C.Config, false],
    ['22P02', C.BadRequest, false], ['XX000', C.Internal, false]
  ]
  for (const [code, expected, retryable] of cases) {
    const err = toConnectorError(Object.assign(new Error('boom'), { code }), 'collect orders')
    t.match(err, { code: expected, retryable }, code)
  }
  const leaky = Object.assign(new Error('invalid input syntax for type integer: "ada@example.com"'), {
    code: '22P02', detail: 'Key (email)=(ada@example.com)', query: 'select …', params: ['ada@example.com'], table: 'customers'
  })
  const mapped = toConnectorError(leaky, 'erase customers')
  t.equal(mapped.message, 'erase customers: a value does not fit its column type (22P02)')
  t.strictSame(mapped.cause, { code: '22P02', table: 'customers' }, 'cause keeps codes and names only')
  t.notMatch(JSON.stringify({ m: mapped.message, c: mapped.cause }), /ada/)

  const ac = new AbortController()
  ac.abort()
  t.match(toConnectorError(new Error('x'), 'collect', ac.signal), { code: C.Timeout, retryable: true })
  const own = new ConnectorError(C.Auth, 'kept', { retryable: false })
  t.equal(toConnectorError(own, 'x'), own)
  t.match(toConnectorError('weird', 'x'), { code: C.Internal, retryable: false })
})
