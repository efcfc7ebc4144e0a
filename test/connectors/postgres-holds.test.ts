import { randomBytes } from 'node:crypto'
import t, { type Test } from 'tap'
import postgres from 'postgres'
import { Value } from 'typebox/value'
import { createPostgresConnector } from '../../connectors/postgres/index.js'
import { PostgresConfigSchema, type PostgresConfig } from '../../connectors/postgres/config.js'
import { sqlClientFromUrl } from '../../connectors/postgres/sql-client.js'
import type { ConnectorContext, EraseOutcome, RetainedStream } from '../../connectors/types.js'

const ADMIN_URL = process.env.DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/test'
const quiet = { debug () {}, info () {}, warn () {}, error () {} }

const SCHEMA = `
create table customers (id int primary key, email text not null, name text);
create table orders (id int primary key, customer_id int not null references customers(id), total numeric not null);
create table order_lines (id int primary key, order_id int not null references orders(id), sku text not null);
create table reviews (id int primary key, customer_id int not null references customers(id), body text not null);
create table invoices (id int primary key, email text, amount numeric not null);
insert into customers values (1, 'ada@example.com', 'Ada'), (2, 'grace@example.com', 'Grace');
insert into orders values (10, 1, 12.5), (11, 2, 3);
insert into order_lines values (100, 10, 'ENGINE'), (101, 11, 'COBOL');
insert into reviews values (1000, 1, 'Lovely'), (1001, 2, 'Fine');
insert into invoices values (7, 'ada@example.com', 12.5);`

const config: PostgresConfig = {
  url: 'postgres://unused',
  datasets: [{
    name: 'shop',
    tables: [
      { table: 'customers', primary_key: ['id'], identity: [{ column: 'email', kind: 'email' }], erase: 'delete' },
      { table: 'orders', primary_key: ['id'], references: [{ column: 'customer_id', table: 'customers', to: 'id' }], erase: 'delete' },
      { table: 'order_lines', stream: 'lines', primary_key: ['id'], references: [{ column: 'order_id', table: 'orders', to: 'id' }], erase: 'delete' },
      { table: 'reviews', primary_key: ['id'], references: [{ column: 'customer_id', table: 'customers', to: 'id' }], erase: 'delete' },
      {
        table: 'invoices',
        primary_key: ['id'],
        identity: [{ column: 'email', kind: 'email' }],
        erase: { columns: { email: { strategy: 'null' }, amount: { strategy: 'keep', reason: 'Invoices are kept 10 years for tax law', ground: 'tax_and_accounting', review: 'P10Y' } } }
      }
    ]
  }]
}

async function shop (t: Test) {
  const name = `dsr_pgholds_${randomBytes(6).toString('hex')}`
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} })
  await admin.unsafe(`create database ${name}`)
  const url = new URL(ADMIN_URL)
  url.pathname = `/${name}`
  const sql = postgres(url.toString(), { max: 1, onnotice: () => {} })
  await sql.unsafe(SCHEMA)
  const connector = createPostgresConnector({ ...config, url: url.toString() }, sqlClientFromUrl(url.toString(), { max: 2 }), quiet)
  t.teardown(async () => {
    await connector.close?.()
    await sql.end({ timeout: 5 })
    await admin.unsafe(`drop database if exists ${name} with (force)`)
    await admin.end()
  })
  return { connector, sql }
}

const ctx = (retain?: RetainedStream[]): ConnectorContext => ({
  requestId: 'req-1', subject: { email: 'ada@example.com' }, signal: new AbortController().signal, log: quiet, ...(retain ? { retain } : {})
})

async function drain (run: AsyncIterable<EraseOutcome>): Promise<EraseOutcome[]> {
  const out: EraseOutcome[] = []
  for await (const o of run) out.push(o)
  return out
}

const HOLD: RetainedStream = { stream: 'lines', reason: 'legal hold CASE-9: litigation', ground: 'legal_claims', reference: 'CASE-9' }

t.test('a held stream is kept with the tables it refers to, up the chain; tables referring to a kept one are erased', async (t) => {
  const { connector, sql } = await shop(t)
  t.equal(connector.skipsStreams, true)
  const preview = await connector.previewErase!(ctx([HOLD]))
  t.match(preview.find((p) => p.stream === 'lines'), { erase: 0, retain: 1, reasons: ['legal hold CASE-9: litigation'] })
  t.match(preview.find((p) => p.stream === 'customers'), { erase: 0, retain: 1, reasons: [/kept because held records of orders refer to it/] })
  t.match(preview.find((p) => p.stream === 'reviews'), { erase: 1, retain: 0 })

  const outcomes = await drain(connector.erase!(ctx([HOLD])))
  const by = (stream: string) => outcomes.filter((o) => o.stream === stream)
  t.strictSame(by('lines'), [{ status: 'retained', stream: 'lines', reason: 'legal hold CASE-9: litigation', count: 1, ground: 'legal_claims', reference: 'CASE-9' }])
  t.match(by('orders'), [{ status: 'retained', count: 1, ground: 'legal_claims', reference: 'CASE-9', reason: 'legal hold CASE-9: litigation; kept because held records of lines refer to it' }])
  t.match(by('customers'), [{ status: 'retained', count: 1, ground: 'legal_claims', reason: /kept because held records of orders refer to it$/ }])
  t.strictSame(by('reviews'), [{ status: 'erased', stream: 'reviews', count: 1 }])
  const left = await sql.unsafe(`select (select count(*) from customers where id = 1)::int as c, (select count(*) from orders where customer_id = 1)::int as o,
    (select count(*) from order_lines where order_id = 10)::int as l, (select count(*) from reviews where customer_id = 1)::int as r`)
  t.strictSame({ ...left[0] }, { c: 1, o: 1, l: 1, r: 0 }, 'the held chain is there; the review is gone')

  // Without the hold, the same erasure erases all of it.
  const after = await drain(connector.erase!(ctx()))
  t.ok(['lines', 'orders', 'customers'].every((s) => after.some((o) => o.stream === s && o.status === 'erased')), 'released: erased')
})

t.test('a kept column reports its ground and review period; files without them stay valid', async (t) => {
  const { connector } = await shop(t)
  const outcomes = await drain(connector.erase!(ctx()))
  t.match(outcomes.filter((o) => o.stream === 'invoices'), [
    { status: 'erased', count: 1 },
    { status: 'retained', reason: 'Invoices are kept 10 years for tax law', ground: 'tax_and_accounting', review: 'P10Y' }
  ])
  const plain = structuredClone(config)
  const invoices = plain.datasets[0]!.tables[4]!
  invoices.erase = { columns: { email: { strategy: 'null' }, amount: { strategy: 'keep', reason: 'Kept for tax law' } } }
  t.ok(Value.Check(PostgresConfigSchema, plain), 'keep with a reason only is still valid')
  invoices.erase = { columns: { amount: { strategy: 'keep', reason: 'x', ground: 'because' as 'legal_claims' } } }
  t.notOk(Value.Check(PostgresConfigSchema, plain), 'an unknown ground is refused')
  invoices.erase = { columns: { amount: { strategy: 'keep', reason: 'x', review: '10 years' } } }
  t.notOk(Value.Check(PostgresConfigSchema, plain), 'a review that is no ISO 8601 duration is refused')
  invoices.erase = { columns: { amount: { strategy: 'keep', reason: 'x', review: 'P1Y6M' } } }
  t.ok(Value.Check(PostgresConfigSchema, plain))
})
