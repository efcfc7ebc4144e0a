/**
 * Suppression check benchmark: POST /v1/suppressions/check at a fixed rate (500 checks/s by default)
 * against a suppression list of 100,000 people on a real Postgres, measured with autocannon on
 * loopback. The goal: p99 under 5 ms at 500 checks/s.
 *
 *   npx tsx bench/suppression-check.ts [--people 100000] [--rate 500] [--rounds 3] [--duration 10] [--connections 10] [--warmup 3] [--embedded]
 *
 * Database: a fresh `dsr_bench_<random>` database on the server named by DATABASE_URL (default
 * postgres://root@127.0.0.1:5432/test), migrated, seeded, dropped at the end. `--embedded` uses an
 * in-memory PGlite instead.
 *
 * The list holds one marketing opt-out per person (keyed by the HMAC of their e-mail, as the service
 * writes it), and a restriction (`processing`) for one person in ten. Checks cycle through 1,000
 * bodies: half for listed people (e-mail or its SHA-256), half for people not listed, over every
 * purpose. Exit code 0 whether or not the goal is met; non-zero on errors or any non-200 response.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import type { EventEmitter } from 'node:events'
import postgres from 'postgres'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { openDb, type DbHandle } from '../src/db/client.js'
import { suppressions } from '../src/db/schema-suppressions.js'
import { personKeys } from '../src/domain/person-keys.js'
import { CHECK_PURPOSES } from '../src/domain/purposes.js'
import { hashKey, type KeyRecord } from '../src/services/api-keys.js'
import { createLocalBlobStore } from '../src/storage/blob-store.js'

// ---- autocannon (ships without types; only what this file uses is typed) ----------------------

interface AutocannonOptions {
  url: string
  method: 'POST'
  headers: Record<string, string>
  requests: Array<{ method: 'POST', body: string }>
  connections: number
  duration: number
  overallRate: number
}
interface Histogram { average: number, mean: number, p50: number, p99: number, max: number, [k: string]: number }
interface AutocannonResult {
  requests: Histogram & { total: number }
  latency: Histogram
  errors: number
  timeouts: number
  non2xx: number
  '2xx': number
  statusCodeStats: Record<string, { count: number }>
}
type AutocannonRun = EventEmitter & PromiseLike<AutocannonResult>
const autocannon = createRequire(import.meta.url)('autocannon') as (opts: AutocannonOptions) => AutocannonRun

// ---- options ------------------------------------------------------------------------------------

const { values: args } = parseArgs({
  options: {
    people: { type: 'string', default: '100000' },
    rate: { type: 'string', default: '500' },
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    embedded: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false }
  }
})
if (args.help) {
  console.log('usage: npx tsx bench/suppression-check.ts [--people 100000] [--rate 500] [--rounds 3] [--duration 10] [--connections 10] [--warmup 3] [--embedded]')
  process.exit(0)
}
const positiveInt = (name: string, v: string | undefined): number => {
  const n = Number(v)
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${v}`)
  return n
}
const PEOPLE = positiveInt('people', args.people)
const RATE = positiveInt('rate', args.rate)
const ROUNDS = positiveInt('rounds', args.rounds)
const DURATION = positiveInt('duration', args.duration)
const CONNECTIONS = positiveInt('connections', args.connections)
const WARMUP = positiveInt('warmup', args.warmup)
const EMBEDDED = args.embedded ?? false
const GOAL_P99_MS = 5

const API_KEY = `bench-${randomBytes(16).toString('hex')}`
const HMAC_SECRET = randomBytes(32).toString('base64url')
const email = (i: number) => `person${i}@example.com`
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex')

// ---- the list -------------------------------------------------------------------------------

/** One marketing opt-out per person; a restriction for one in ten. Rows as the service writes them (SuppressionsRepository.addIn). */
async function seed (dbh: DbHandle): Promise<number> {
  const since = new Date(Date.now() - 86_400_000)
  let rows = 0
  const BATCH = 2_000
  for (let from = 0; from < PEOPLE; from += BATCH) {
    const batch: Array<typeof suppressions.$inferInsert> = []
    for (let i = from; i < Math.min(PEOPLE, from + BATCH); i++) {
      const keys = personKeys({ email: email(i) }, HMAC_SECRET)
      for (const personKey of keys) batch.push({ requestId: randomUUID(), requestType: 'marketing_opt_out', purpose: 'marketing', personKey, since })
      if (i % 10 === 0) for (const personKey of keys) batch.push({ requestId: randomUUID(), requestType: 'restriction', purpose: 'processing', personKey, since })
    }
    await dbh.db.insert(suppressions).values(batch)
    rows += batch.length
  }
  await dbh.executor.executeSql('analyze suppressions')
  return rows
}

/** 1,000 check bodies: listed and unlisted people, by e-mail or its SHA-256, over every purpose. */
function bodies (): Array<{ method: 'POST', body: string }> {
  return Array.from({ length: 1000 }, (_, n) => {
    const i = Math.floor((n * 7919) % PEOPLE)
    const address = n % 2 === 0 ? email(i) : `nobody${n}@example.net`
    const subject = n % 4 === 0 ? { email_sha256: sha256(address) } : { email: address }
    return { method: 'POST' as const, body: JSON.stringify({ subject, purpose: CHECK_PURPOSES[n % CHECK_PURPOSES.length] }) }
  })
}

// ---- measurement ----------------------------------------------------------------------------

interface Sample { reqPerSec: number, p50: number, p99: number, max: number, total: number }

const headers = { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` }

function percentile (values: number[], q: number): number {
  if (values.length === 0) return NaN
  const sorted = Float64Array.from(values).sort()
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!
}

function median (values: number[]): number {
  const s = [...values].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

async function measure (url: string, duration: number, label: string): Promise<Sample> {
  const times: number[] = []
  const run = autocannon({ url, method: 'POST', headers, requests: bodies(), connections: CONNECTIONS, duration, overallRate: RATE })
  run.on('response', (_client: unknown, _status: number, _bytes: number, responseTime: number) => { times.push(responseTime) })
  const r = await run
  if (r.non2xx > 0 || r.errors > 0 || r.timeouts > 0 || r['2xx'] === 0) {
    throw new Error(`${label}: ${r['2xx']} 2xx, ${r.non2xx} non-2xx (${JSON.stringify(r.statusCodeStats)}), ${r.errors} errors, ${r.timeouts} timeouts — the run is invalid`)
  }
  return { reqPerSec: r.requests.average, p50: percentile(times, 0.5), p99: percentile(times, 0.99), max: Math.max(...times), total: r.requests.total }
}

/**
 * One check at a time, no other load from here: the check's own cost (HTTP on loopback, auth,
 * validation, HMAC, one indexed query), apart from queueing under load.
 */
async function sequential (url: string, n: number, method: 'GET' | 'POST' = 'POST'): Promise<{ p50: number, p99: number }> {
  const list = bodies()
  const times: number[] = []
  for (let i = 0; i < n; i++) {
    const started = performance.now()
    const res = await fetch(url, method === 'POST' ? { method, headers, body: list[i % list.length]!.body } : {})
    await res.arrayBuffer()
    if (res.status !== 200) throw new Error(`sequential check: HTTP ${res.status}`)
    times.push(performance.now() - started)
  }
  return { p50: percentile(times, 0.5), p99: percentile(times, 0.99) }
}

/** A few checks by hand first: a broken setup fails with its actual response, and the answers are right. */
async function smokeTest (url: string): Promise<void> {
  const ask = async (subject: Record<string, string>, purpose: string) => {
    const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ subject, purpose }) })
    const body = await res.json() as { result?: string }
    if (res.status !== 200) throw new Error(`smoke test: HTTP ${res.status} ${JSON.stringify(body)}`)
    return body.result
  }
  const expect = [
    [await ask({ email: email(0) }, 'marketing'), 'suppressed'],
    [await ask({ email: email(0) }, 'transactional'), 'suppressed'], // person 0 is restricted too
    [await ask({ email: email(1) }, 'transactional'), 'allowed'],
    [await ask({ email_sha256: sha256(email(1)) }, 'marketing'), 'suppressed'],
    [await ask({ email: 'nobody@example.net' }, 'marketing'), 'allowed']
  ]
  if (expect.some(([got, want]) => got !== want)) throw new Error(`smoke test: wrong answers ${JSON.stringify(expect)}`)
}

// ---- setup, run, teardown -------------------------------------------------------------------

const cleanups: Array<[string, () => Promise<unknown>]> = []
let cleaned = false
async function cleanup (): Promise<void> {
  if (cleaned) return
  cleaned = true
  for (const [what, fn] of cleanups.reverse()) {
    try { await fn() } catch (err) {
      process.exitCode = 1
      console.error(`cleanup (${what}) failed:`, err)
    }
  }
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`\n${signal}: cleaning up`)
    cleanup().finally(() => process.exit(130))
  })
}

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
const ms = (n: number) => `${n.toFixed(2)} ms`

async function main (): Promise<void> {
  let dbh: DbHandle
  let dbLabel: string
  if (EMBEDDED) {
    dbh = await openDb({ dataDir: 'memory://' })
    cleanups.push(['close PGlite', () => dbh.close()])
    dbLabel = 'PGlite (memory://)'
  } else {
    const adminUrl = process.env.DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/test'
    const name = `dsr_bench_${randomBytes(6).toString('hex')}`
    const admin = postgres(adminUrl, { max: 1, onnotice: () => {} })
    cleanups.push(['end admin connection', () => admin.end({ timeout: 5 })])
    await admin.unsafe(`create database ${name}`)
    cleanups.push([`drop database ${name}`, () => admin.unsafe(`drop database if exists ${name} with (force)`)])
    const url = new URL(adminUrl)
    url.pathname = `/${name}`
    dbh = await openDb({ url: url.toString(), maxConnections: 10 })
    cleanups.push(['close service pool', () => dbh.close()])
    const [{ version }] = await admin<[{ version: string }]>`select current_setting('server_version') as version`
    dbLabel = `PostgreSQL ${version} at ${url.host}, database ${name}`
  }
  await dbh.migrate()
  const seeding = Date.now()
  const rows = await seed(dbh)
  const seeded = (Date.now() - seeding) / 1000

  const config = loadConfig({ LOG_LEVEL: 'silent', ROLE: 'api', RECEIPT_HMAC_KEY: HMAC_SECRET })
  const apiKeys = new Map<string, KeyRecord>([[hashKey(API_KEY), { name: 'bench', scopes: ['suppressions:check'] }]])
  const storageDir = await mkdtemp(path.join(os.tmpdir(), 'dsr-bench-'))
  cleanups.push(['remove storage dir', () => rm(storageDir, { recursive: true, force: true })])
  const service = await buildApp({ config, dbh, apiKeys, registry: new Map(), storage: createLocalBlobStore(storageDir) })
  cleanups.push(['close service', () => service.close()])
  await service.listen({ host: '127.0.0.1', port: 0 })
  const url = `http://127.0.0.1:${(service.server.address() as AddressInfo).port}/v1/suppressions/check`

  const cpus = os.cpus()
  console.log('bench/suppression-check — POST /v1/suppressions/check at a fixed rate')
  console.log(`  node ${process.version}, ${os.platform()} ${os.arch()}, os.cpus().length = ${cpus.length} (${cpus[0]?.model.trim() ?? '?'}), load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`)
  console.log(`  database: ${dbLabel}`)
  console.log(`  list: ${fmt(PEOPLE)} people, ${fmt(rows)} entries (seeded in ${seeded.toFixed(1)} s)`)
  console.log(`  load: autocannon, ${fmt(RATE)} checks/s over ${CONNECTIONS} connections, ${DURATION} s per round, ${ROUNDS} rounds, ${WARMUP} s warm-up`)
  console.log('  bodies: 1,000, half listed people, half not, by e-mail or SHA-256, every purpose; autocannon runs in this same process')
  console.log()

  await smokeTest(url)
  process.stdout.write(`warm-up ${WARMUP} s ... `)
  await measure(url, WARMUP, 'warm-up')
  console.log('done')
  const alone = await sequential(url, 2_000)
  const floor = await sequential(url.replace('/v1/suppressions/check', '/health/live'), 2_000, 'GET')
  console.log(`one at a time (2,000 each, fetch): check p50 ${ms(alone.p50)}, p99 ${ms(alone.p99)}; ` +
    `floor GET /health/live p50 ${ms(floor.p50)}, p99 ${ms(floor.p99)}`)
  console.log()

  const samples: Sample[] = []
  const row = (cells: string[]) => console.log(cells.map((c, i) => i === 0 ? c.padEnd(6) : c.padStart(12)).join(' '))
  row(['round', 'checks/s', 'p50', 'p99', 'max', 'checks'])
  for (let round = 1; round <= ROUNDS; round++) {
    const s = await measure(url, DURATION, `round ${round}`)
    samples.push(s)
    row([String(round), fmt(s.reqPerSec, 1), ms(s.p50), ms(s.p99), ms(s.max), fmt(s.total)])
  }
  const of = (pick: (s: Sample) => number) => median(samples.map(pick))
  const p99 = of((s) => s.p99)
  console.log()
  console.log(`medians over ${ROUNDS} round(s): ${fmt(of((s) => s.reqPerSec), 1)} checks/s, p50 ${ms(of((s) => s.p50))}, p99 ${ms(p99)}`)
  console.log(`goal: p99 < ${GOAL_P99_MS} ms at ${fmt(RATE)} checks/s — ${p99 < GOAL_P99_MS ? 'MET' : 'NOT MET'}`)
  console.log('  (exact per-response times as autocannon reports them, client and server on one machine)')
}

try {
  await main()
} catch (err) {
  process.exitCode = 1
  console.error('\nbench/suppression-check FAILED:', err instanceof Error ? err.message : err)
  if (err instanceof Error && err.stack && !err.message.includes('the run is invalid')) console.error(err.stack)
} finally {
  await cleanup()
}
