/**
 * Intake benchmark: POST /v1/requests (the service) against a bare Fastify route doing one plain
 * INSERT into the same table (the floor), both measured with autocannon on loopback, in the same
 * process and the same run, alternating rounds so drift (table growth, autovacuum, CPU heat)
 * hits both sides alike.
 *
 *   npx tsx bench/intake.ts [--rounds 3] [--duration 10] [--connections 10] [--warmup 3] [--embedded] [--verbose]
 *
 * Database: a fresh `dsr_bench_<random>` database on the server named by DATABASE_URL (default
 * postgres://root@127.0.0.1:5432/test), migrated, dropped at the end. `--embedded` uses an
 * in-memory PGlite instead (both servers then share its single connection).
 *
 * Exit code 0 whether or not the goal is met; non-zero on errors or any non-2xx response.
 */
import { randomBytes, randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import type { EventEmitter } from 'node:events'
import Fastify, { type FastifyInstance } from 'fastify'
import postgres from 'postgres'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { openDb, type DbHandle } from '../src/db/client.js'
import { hashKey, type KeyRecord } from '../src/services/api-keys.js'
import { createLocalBlobStore } from '../src/storage/blob-store.js'
import { cleanupRegistry, fmt, freshDatabase, LOAD_OPTIONS, loadSettings, median, ms, percentile, runBench } from './support.js'

// ---- autocannon (ships without types; only what this file uses is typed) ----------------------

interface AutocannonOptions {
  url: string
  method: 'POST'
  headers: Record<string, string>
  body: string
  connections: number
  duration: number
}
interface Histogram { average: number, mean: number, stddev: number, min: number, max: number, p50: number, p90: number, p99: number, [k: string]: number }
interface AutocannonResult {
  requests: Histogram & { total: number, sent: number }
  latency: Histogram
  throughput: Histogram
  errors: number
  timeouts: number
  non2xx: number
  '2xx': number
  statusCodeStats: Record<string, { count: number }>
  duration: number
}
type AutocannonRun = EventEmitter & PromiseLike<AutocannonResult>
const autocannon = createRequire(import.meta.url)('autocannon') as (opts: AutocannonOptions) => AutocannonRun

// ---- options ------------------------------------------------------------------------------------

const { values: args } = parseArgs({
  options: {
    verbose: { type: 'boolean', default: false },
    ...LOAD_OPTIONS
  }
})
if (args.help) {
  console.log('usage: npx tsx bench/intake.ts [--rounds 3] [--duration 10] [--connections 10] [--warmup 3] [--embedded] [--verbose]')
  process.exit(0)
}
const { rounds: ROUNDS, duration: DURATION, connections: CONNECTIONS, warmup: WARMUP, embedded: EMBEDDED } = loadSettings(args)
const POOL_SIZE = 10 // the service's default (openDb maxConnections); the baseline gets the same
const GOAL = 0.8

const API_KEY = `bench-${randomBytes(16).toString('hex')}`
const BODY = JSON.stringify({ type: 'access', subject: { email: 'bench@example.com' }, regime: 'gdpr' })

// ---- the baseline: bare Fastify, one plain INSERT --------------------------------------------

type Insert = (text: string, values: unknown[]) => Promise<unknown>

const BASELINE_INSERT = `
  insert into requests (
    id, type, status, regime, jurisdiction, subject, requester, channel, callback_url, changes, notes,
    time_zone, received_at, due_at, acknowledge_by, extended_due_at, deadline_rule,
    created_by, idempotency_key, request_hash, created_at, updated_at
  ) values (
    $1, $2::request_type, 'received'::request_status, $3::regime, null, $4::jsonb, $5::jsonb, 'api'::channel, null, null, null,
    'UTC', $6::timestamptz, $7::timestamptz, null, $8::timestamptz, $9,
    'bench', null, null, $6::timestamptz, $6::timestamptz
  )`

async function buildBaseline (insert: Insert): Promise<FastifyInstance> {
  const app = Fastify()
  app.post('/v1/requests', async (request, reply) => {
    const body = request.body as { type: string, regime: string, subject: Record<string, unknown> }
    const id = randomUUID()
    const now = new Date()
    // Fixed offsets, no calendar: this route is the cost of parsing + one INSERT, nothing more.
    const due = new Date(now.getTime() + 30 * 86_400_000)
    const extended = new Date(now.getTime() + 90 * 86_400_000)
    await insert(BASELINE_INSERT, [
      id, body.type, body.regime, JSON.stringify(body.subject), '{"kind":"subject"}',
      now.toISOString(), due.toISOString(), extended.toISOString(), 'baseline'
    ])
    return reply.status(202).send({ id, status: 'received' })
  })
  return app
}

// ---- measurement ----------------------------------------------------------------------------

interface Target { name: 'service' | 'baseline', url: string }
interface Sample {
  target: Target['name']
  reqPerSec: number // autocannon requests.average (per-second samples)
  p99: number // autocannon latency.p99, ms (its histogram holds whole milliseconds)
  p99Exact: number // p99 of every response time autocannon reported, ms, unrounded
  mean: number
  total: number
  non2xx: number
  errors: number
  timeouts: number
}

const headers = (): Record<string, string> => ({ 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` })

async function measure (target: Target, duration: number, label: string): Promise<Sample> {
  const times: number[] = []
  const run = autocannon({ url: target.url, method: 'POST', headers: headers(), body: BODY, connections: CONNECTIONS, duration })
  run.on('response', (_client: unknown, _status: number, _bytes: number, responseTime: number) => { times.push(responseTime) })
  const r = await run
  if (args.verbose && label === 'warm-up') console.log(`[verbose] raw autocannon result for ${target.name}:`, JSON.stringify(r, null, 2))
  const sample: Sample = {
    target: target.name,
    reqPerSec: r.requests.average,
    p99: r.latency.p99,
    p99Exact: percentile(times, 0.99),
    mean: r.latency.mean,
    total: r.requests.total,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts
  }
  if (sample.non2xx > 0 || sample.errors > 0 || sample.timeouts > 0 || r['2xx'] === 0) {
    throw new Error(`${label} ${target.name}: ${r['2xx']} 2xx, ${sample.non2xx} non-2xx ` +
      `(${JSON.stringify(r.statusCodeStats)}), ${sample.errors} errors, ${sample.timeouts} timeouts — the run is invalid`)
  }
  return sample
}

/** One request by hand first, so a broken setup fails with its actual response, not a count. */
async function smokeTest (target: Target, expect: (body: any) => boolean): Promise<void> {
  const res = await fetch(target.url, { method: 'POST', headers: headers(), body: BODY })
  const text = await res.text()
  let parsed: unknown
  try { parsed = JSON.parse(text) } catch { parsed = undefined }
  if (res.status !== 202 || !expect(parsed)) throw new Error(`${target.name} smoke test: HTTP ${res.status} ${text}`)
}

// ---- setup, run, teardown -------------------------------------------------------------------

const { cleanups, cleanup } = cleanupRegistry()

async function main (): Promise<void> {
  // Database
  let dbh: DbHandle
  let baselineInsert: Insert
  let dbLabel: string
  if (EMBEDDED) {
    dbh = await openDb({ dataDir: 'memory://' })
    cleanups.push(['close PGlite', () => dbh.close()])
    const exec = dbh.executor
    baselineInsert = (text, values) => exec.executeSql(text, values)
    dbLabel = 'PGlite (memory://), one connection shared by both servers'
  } else {
    const fresh = await freshDatabase(cleanups)
    const url = fresh.url
    dbh = await openDb({ url, maxConnections: POOL_SIZE })
    cleanups.push(['close service pool', () => dbh.close()])
    const pool = postgres(url, { max: POOL_SIZE, onnotice: () => {}, connection: { application_name: 'dsar-bench-baseline' } })
    cleanups.push(['close baseline pool', () => pool.end({ timeout: 5 })])
    baselineInsert = (text, values) => pool.unsafe(text, values as postgres.ParameterOrJSON<never>[], { prepare: true })
    dbLabel = `${fresh.label}, pool max ${POOL_SIZE} per server`
  }
  await dbh.migrate()

  // Server A: the service. ROLE=api: no task workers (there are no connectors anyway), as an
  // intake-only node would run; the job queue itself still starts, as it does in production.
  const config = loadConfig({ LOG_LEVEL: 'silent', ROLE: 'api' })
  const apiKeys = new Map<string, KeyRecord>([[hashKey(API_KEY), { name: 'bench', scopes: ['requests:write'] }]])
  const storageDir = await mkdtemp(path.join(os.tmpdir(), 'dsr-bench-'))
  cleanups.push(['remove storage dir', () => rm(storageDir, { recursive: true, force: true })])
  const service = await buildApp({ config, dbh, apiKeys, registry: new Map(), storage: createLocalBlobStore(storageDir) })
  cleanups.push(['close service', () => service.close()])
  await service.listen({ host: '127.0.0.1', port: 0 })

  // Server B: the baseline
  const baseline = await buildBaseline(baselineInsert)
  cleanups.push(['close baseline', () => baseline.close()])
  await baseline.listen({ host: '127.0.0.1', port: 0 })

  const urlOf = (app: FastifyInstance) => `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/v1/requests`
  const A: Target = { name: 'service', url: urlOf(service) }
  const B: Target = { name: 'baseline', url: urlOf(baseline) }

  const cpus = os.cpus()
  console.log('bench/intake — POST /v1/requests vs a bare Fastify route doing one INSERT')
  console.log(`  node ${process.version}, ${os.platform()} ${os.arch()}, os.cpus().length = ${cpus.length} (${cpus[0]?.model.trim() ?? '?'})`)
  console.log(`  database: ${dbLabel}`)
  console.log(`  load: autocannon, ${CONNECTIONS} connections, ${DURATION} s per round, ${ROUNDS} rounds alternating baseline/service, ${WARMUP} s warm-up each`)
  console.log('  autocannon runs in this same process, so both servers share its CPU cost on the same event loop')
  console.log(`  service:  ${A.url}  (buildApp, LOG_LEVEL=silent, auth + validation + deadline + insert with audit event, group commit)`)
  console.log(`  baseline: ${B.url}  (Fastify() defaults, JSON body parse + one plain INSERT into requests)`)
  console.log()

  await smokeTest(A, (b) => typeof b?.id === 'string' && b?.status === 'received' && typeof b?.due_at === 'string')
  await smokeTest(B, (b) => typeof b?.id === 'string')

  process.stdout.write(`warm-up: baseline ${WARMUP} s, service ${WARMUP} s ... `)
  await measure(B, WARMUP, 'warm-up')
  await measure(A, WARMUP, 'warm-up')
  console.log('done')
  console.log()

  const samples: Sample[] = []
  const row = (cells: string[]) => console.log(cells.map((c, i) => i < 2 ? c.padEnd(9) : c.padStart(12)).join(' '))
  row(['round', 'server', 'req/s', 'p99 (ac)', 'p99 exact', 'mean', 'requests'])
  for (let round = 1; round <= ROUNDS; round++) {
    for (const target of [B, A]) {
      const s = await measure(target, DURATION, `round ${round}`)
      samples.push(s)
      row([String(round), s.target, fmt(s.reqPerSec, 1), `${fmt(s.p99)} ms`, ms(s.p99Exact), ms(s.mean), fmt(s.total)])
    }
  }

  const of = (name: Target['name'], pick: (s: Sample) => number) => median(samples.filter((s) => s.target === name).map(pick))
  const svcRps = of('service', (s) => s.reqPerSec)
  const baseRps = of('baseline', (s) => s.reqPerSec)
  const svcP99 = of('service', (s) => s.p99Exact)
  const baseP99 = of('baseline', (s) => s.p99Exact)
  const svcP99ac = of('service', (s) => s.p99)
  const baseP99ac = of('baseline', (s) => s.p99)
  const throughputRatio = svcRps / baseRps
  const p99Ratio = baseP99 / svcP99

  console.log()
  console.log(`medians over ${ROUNDS} round(s):`)
  console.log(`  service  req/s                          ${fmt(svcRps, 1).padStart(10)}`)
  console.log(`  baseline req/s                          ${fmt(baseRps, 1).padStart(10)}`)
  console.log(`  throughput ratio  service/baseline      ${throughputRatio.toFixed(3).padStart(10)}×   (higher is better)`)
  console.log(`  service  p99                            ${ms(svcP99).padStart(10)}   (autocannon, whole ms: ${fmt(svcP99ac)} ms)`)
  console.log(`  baseline p99                            ${ms(baseP99).padStart(10)}   (autocannon, whole ms: ${fmt(baseP99ac)} ms)`)
  console.log(`  p99 ratio  baseline_p99/service_p99     ${p99Ratio.toFixed(3).padStart(10)}×   (higher is better, same direction as throughput)`)
  console.log(`  p99 ratio  service_p99/baseline_p99     ${(svcP99 / baseP99).toFixed(3).padStart(10)}×   (lower is better: how many times slower)`)
  console.log()
  const met = (r: number) => (r >= GOAL ? 'MET' : 'NOT MET')
  console.log(`goal: ≥ ${GOAL}× of the baseline`)
  console.log(`  throughput: ${throughputRatio.toFixed(3)}× — ${met(throughputRatio)}`)
  console.log(`  p99:        ${p99Ratio.toFixed(3)}× — ${met(p99Ratio)}`)
  console.log('  (p99 ratios use the exact per-response times; autocannon\'s own p99 is rounded to whole ms)')
}

await runBench('intake', main, cleanup)
