/**
 * Collect benchmark for the postgres connector: one subject with 1,000,000 rows in `events`
 * (customer_id → customers), other subjects' rows beside them, streamed through `collect` into
 * storage the way the engine will store items: multi-row inserts of 1000 into
 * `bench_items(stream, key, data jsonb)` in the same database.
 *
 *   npx tsx bench/collect.ts [--rows 1000000] [--others 200000] [--batch 1000] [--no-store]
 *
 * `--no-store` drops the items instead of inserting them: the connector's own share of the time.
 *
 * Prints rows/s, total time and peak RSS (sampled every 50 ms; goal ≤ 250 MB).
 * Database: a fresh `dsr_bench_<random>` on the server named by DATABASE_URL (default
 * postgres://root@127.0.0.1:5432/test), dropped at the end.
 */
import { randomBytes } from 'node:crypto'
import { parseArgs } from 'node:util'
import postgres from 'postgres'
import { postgresConnector } from '../connectors/postgres/index.js'
import type { PostgresConfig } from '../connectors/postgres/config.js'

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    others: { type: 'string', default: '200000' },
    batch: { type: 'string', default: '1000' },
    'no-store': { type: 'boolean', default: false }
  }
})
const ROWS = Number(args.rows)
const OTHERS = Number(args.others)
const BATCH = Number(args.batch)
const RSS_GOAL_MB = 250

const adminUrl = process.env.DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/test'
const name = `dsr_bench_${randomBytes(6).toString('hex')}`
const url = new URL(adminUrl)
url.pathname = `/${name}`

const mb = (n: number) => (n / 1024 / 1024).toFixed(1)
const admin = postgres(adminUrl, { max: 1, onnotice: () => {} })
await admin.unsafe(`create database ${name}`)
const sql = postgres(url.toString(), { max: 2, onnotice: () => {} })

try {
  const seedStart = performance.now()
  await sql.unsafe(`
    create table customers (id integer primary key, email text not null unique, name text not null);
    create table events (
      id bigserial primary key,
      customer_id integer not null references customers (id),
      kind text not null,
      payload jsonb not null,
      created_at timestamptz not null
    );
    create table bench_items (stream text not null, key text not null, data jsonb not null);
    insert into customers select g, 'user' || g || '@example.com', 'User ' || g from generate_series(1, 101) g;
    insert into events (customer_id, kind, payload, created_at)
      select 1, 'page_view', jsonb_build_object('path', '/products/' || (g % 5000), 'ms', g % 997), now() - g * interval '1 second'
        from generate_series(1, ${ROWS}) g;
    insert into events (customer_id, kind, payload, created_at)
      select 2 + (g % 100), 'page_view', jsonb_build_object('path', '/p/' || g, 'ms', g % 997), now() - g * interval '1 second'
        from generate_series(1, ${OTHERS}) g;
    create index events_customer_id on events (customer_id);
  `)
  await sql.unsafe('vacuum analyze customers')
  await sql.unsafe('vacuum analyze events')
  console.log(`seeded ${ROWS.toLocaleString('en')} subject rows + ${OTHERS.toLocaleString('en')} others in ${((performance.now() - seedStart) / 1000).toFixed(1)} s`)

  const config: PostgresConfig = {
    url: url.toString(),
    datasets: [{
      name: 'app',
      tables: [
        { table: 'customers', primary_key: ['id'], identity: [{ column: 'email', kind: 'email', case_insensitive: true }], erase: 'delete' },
        { table: 'events', primary_key: ['id'], references: [{ column: 'customer_id', table: 'customers', to: 'id' }], erase: 'delete' }
      ]
    }]
  }
  const silent = { debug () {}, info () {}, warn () {}, error () {} }
  const connector = await postgresConnector.create(config, { log: silent, fetch })

  global.gc?.()
  const rssBefore = process.memoryUsage().rss
  let peak = rssBefore
  const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss) }, 50)

  const started = performance.now()
  let buffer: Array<{ stream: string, key: string, data: unknown }> = []
  let stored = 0
  const flush = async () => {
    if (buffer.length === 0) return
    if (args['no-store']) {
      stored += buffer.length
      buffer = []
      return
    }
    await sql`insert into bench_items ${sql(buffer as Array<Record<string, postgres.ParameterOrJSON<never>>>)}`
    stored += buffer.length
    buffer = []
  }
  const ctx = { requestId: 'bench', subject: { email: 'USER1@example.com' }, signal: new AbortController().signal, log: silent }
  for await (const item of connector.collect!(ctx)) {
    if (item.type !== 'record') continue
    buffer.push({ stream: item.stream, key: item.key, data: item.data })
    if (buffer.length >= BATCH) await flush()
  }
  await flush()
  const seconds = (performance.now() - started) / 1000
  clearInterval(sampler)
  peak = Math.max(peak, process.memoryUsage().rss)
  await connector.close?.()

  const [check] = await sql`select count(*)::int as n, count(*) filter (where stream = 'events')::int as events from bench_items`
  const expected = args['no-store'] ? 0 : ROWS + 1
  console.log(`stored         ${stored.toLocaleString('en')} items (bench_items holds ${check?.n.toLocaleString('en')}, events ${check?.events.toLocaleString('en')}; expected ${expected.toLocaleString('en')})`)
  console.log(`total time     ${seconds.toFixed(2)} s`)
  console.log(`throughput     ${Math.round(stored / seconds).toLocaleString('en')} rows/s (${args['no-store'] ? 'collect only, items dropped' : 'collect + store'})`)
  console.log(`RSS            before ${mb(rssBefore)} MB, peak ${mb(peak)} MB (goal ≤ ${RSS_GOAL_MB} MB: ${peak / 1024 / 1024 <= RSS_GOAL_MB ? 'met' : 'NOT met'})`)
  if (check?.n !== expected || stored !== ROWS + 1) process.exitCode = 1
} finally {
  await sql.end({ timeout: 5 })
  await admin.unsafe(`drop database if exists ${name} with (force)`)
  await admin.end()
}
