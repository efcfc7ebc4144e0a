/**
 * Erase benchmark for the postgres connector: `events` holds 1,000,000 rows, 10,000 per subject
 * (index on customer_id). Each round erases one fresh subject through the connector (its own
 * transaction, lock timeout, planned DELETE) and one through a raw indexed
 * `DELETE FROM events WHERE customer_id = $1` (autocommit, prepared), alternating which goes
 * first, so drift hits both alike. Prints per-round times, medians and their ratio (goal ≤ 1.3×).
 *
 *   npx tsx bench/erase.ts [--rounds 5] [--subjects 100]
 *
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
    rounds: { type: 'string', default: '5' },
    subjects: { type: 'string', default: '100' }
  }
})
const ROUNDS = Number(args.rounds)
const SUBJECTS = Number(args.subjects)
const PER_SUBJECT = 10_000
const RATIO_GOAL = 1.3
// Two per round, plus one of each for the warm-up.
if (SUBJECTS < 2 * ROUNDS + 2) throw new Error(`--subjects must be at least ${2 * ROUNDS + 2}`)

const adminUrl = process.env.DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/test'
const name = `dsr_bench_${randomBytes(6).toString('hex')}`
const url = new URL(adminUrl)
url.pathname = `/${name}`

const admin = postgres(adminUrl, { max: 1, onnotice: () => {} })
await admin.unsafe(`create database ${name}`)
const sql = postgres(url.toString(), { max: 2, onnotice: () => {} })
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

try {
  const seedStart = performance.now()
  await sql.unsafe(`
    create table customers (id integer primary key, email text not null);
    create table events (
      id bigserial primary key,
      customer_id integer not null references customers (id),
      kind text not null,
      payload jsonb not null,
      created_at timestamptz not null
    );
    insert into customers select g, 'user' || g || '@example.com' from generate_series(1, ${SUBJECTS}) g;
    insert into events (customer_id, kind, payload, created_at)
      select 1 + (g % ${SUBJECTS}), 'page_view', jsonb_build_object('path', '/p/' || (g % 5000)), now() - g * interval '1 second'
        from generate_series(0, ${SUBJECTS * PER_SUBJECT - 1}) g;
    create index events_customer_id on events (customer_id);
  `)
  await sql.unsafe('vacuum analyze events')
  console.log(`seeded ${(SUBJECTS * PER_SUBJECT).toLocaleString('en')} events, ${PER_SUBJECT.toLocaleString('en')} per subject, in ${((performance.now() - seedStart) / 1000).toFixed(1)} s`)

  const config: PostgresConfig = {
    url: url.toString(),
    datasets: [{
      name: 'app',
      tables: [{ table: 'events', primary_key: ['id'], identity: [{ column: 'customer_id', kind: 'customer_id' }], erase: 'delete' }]
    }]
  }
  const silent = { debug () {}, info () {}, warn () {}, error () {} }
  const connector = await postgresConnector.create(config, { log: silent, fetch })

  const viaConnector = async (id: number) => {
    const started = performance.now()
    let count = 0
    const ctx = { requestId: `bench-${id}`, subject: { customer_id: String(id) }, signal: new AbortController().signal, log: silent }
    for await (const o of connector.erase!(ctx)) if (o.status === 'erased') count += o.count
    if (count !== PER_SUBJECT) throw new Error(`connector erased ${count} rows for subject ${id}`)
    return performance.now() - started
  }
  const raw = async (id: number) => {
    const started = performance.now()
    const res = await sql`delete from events where customer_id = ${id}`
    if (res.count !== PER_SUBJECT) throw new Error(`raw delete removed ${res.count} rows for subject ${id}`)
    return performance.now() - started
  }

  // Warm-up (not measured): connections, the connector's catalog, the prepared raw statement.
  let next = SUBJECTS
  await viaConnector(next--)
  await raw(next--)

  const times = { connector: [] as number[], raw: [] as number[] }
  for (let round = 1; round <= ROUNDS; round++) {
    const a = next--
    const b = next--
    let c: number, r: number
    if (round % 2) {
      c = await viaConnector(a)
      r = await raw(b)
    } else {
      r = await raw(a)
      c = await viaConnector(b)
    }
    times.connector.push(c)
    times.raw.push(r)
    console.log(`round ${round}: connector ${c.toFixed(1)} ms, raw ${r.toFixed(1)} ms (${round % 2 ? 'connector first' : 'raw first'})`)
  }
  await connector.close?.()

  const mc = median(times.connector)
  const mr = median(times.raw)
  const ratio = mc / mr
  console.log(`median         connector ${mc.toFixed(1)} ms, raw DELETE ${mr.toFixed(1)} ms`)
  console.log(`ratio          ${ratio.toFixed(2)}× (goal ≤ ${RATIO_GOAL}×: ${ratio <= RATIO_GOAL ? 'met' : 'NOT met'})`)
} finally {
  await sql.end({ timeout: 5 })
  await admin.unsafe(`drop database if exists ${name} with (force)`)
  await admin.end()
}
