/**
 * Suppression check benchmark: POST /v1/suppressions/check at a fixed rate (500 checks/s by default)
 * against a suppression list of 100,000 people on a real Postgres, the service in a process of its
 * own, an open-loop load from this one on loopback. The goal: p99 under 5 ms at 500 checks/s.
 *
 *   npx tsx bench/suppression-check.ts [--people 100000] [--rate 500] [--rounds 3] [--duration 10] [--connections 10] [--warmup 3] [--log-level info] [--embedded]
 *
 * Database: a fresh `dsr_bench_<random>` database on the server named by DATABASE_URL (default
 * postgres://root@127.0.0.1:5432/test), migrated, seeded, dropped at the end. `--embedded` uses an
 * embedded PGlite data folder instead, which the service then opens alone.
 *
 * The list holds one marketing opt-out per person (keyed by the HMAC of their e-mail, as the service
 * writes it), and a restriction (`processing`) for one person in ten. Checks cycle through 1,000
 * bodies: half for listed people (e-mail or its SHA-256), half for people not listed, over every
 * purpose. Exit code 0 whether or not the goal is met; non-zero on errors or any non-200 response.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createHash, randomBytes, randomUUID } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { setTimeout as sleep } from 'node:timers/promises'
import { Pool } from 'undici'
import { openDb, type DbHandle } from '../src/db/client.js'
import { suppressions } from '../src/db/schema-suppressions.js'
import { personKeys } from '../src/domain/person-keys.js'
import { CHECK_PURPOSES } from '../src/domain/purposes.js'
import { hashKey } from '../src/services/api-keys.js'
import { cleanupRegistry, fmt, freshDatabase, LOAD_OPTIONS, loadSettings, median, ms, peakRssMiB, percentile, positiveInt, runBench } from './support.js'

// ---- options ------------------------------------------------------------------------------------

const { values: args } = parseArgs({
  options: {
    people: { type: 'string', default: '100000' },
    rate: { type: 'string', default: '500' },
    'log-level': { type: 'string', default: 'info' },
    ...LOAD_OPTIONS
  }
})
if (args.help) {
  console.log('usage: npx tsx bench/suppression-check.ts [--people 100000] [--rate 500] [--rounds 3] [--duration 10] [--connections 10] [--warmup 3] [--log-level info] [--embedded]')
  process.exit(0)
}
const PEOPLE = positiveInt('people', args.people)
const RATE = positiveInt('rate', args.rate)
const { rounds: ROUNDS, duration: DURATION, connections: CONNECTIONS, warmup: WARMUP, embedded: EMBEDDED } = loadSettings(args)
const LOG_LEVEL = args['log-level'] ?? 'info'
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
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
function bodies (): string[] {
  return Array.from({ length: 1000 }, (_, n) => {
    const i = Math.floor((n * 7919) % PEOPLE)
    const address = n % 2 === 0 ? email(i) : `nobody${n}@example.net`
    const subject = n % 4 === 0 ? { email_sha256: sha256(address) } : { email: address }
    return JSON.stringify({ subject, purpose: CHECK_PURPOSES[n % CHECK_PURPOSES.length] })
  })
}

// ---- measurement ----------------------------------------------------------------------------

/** lateP99: how late this process sent its checks (timer granularity, its own event loop), p99; part of every time. */
interface Sample { reqPerSec: number, p50: number, p99: number, max: number, total: number, lateP99: number }

const headers = { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` }

/**
 * An open-loop load at a steady rate, as wrk2 measures: check i is due at start + i/rate, whatever
 * became of the checks before it, and its time runs from when it was due, so a service that falls
 * behind shows the wait of every check queued behind it (no coordinated omission). Sent over a
 * keep-alive pool of up to `--connections` connections; a check due while all are busy waits in
 * the pool, and that wait counts.
 */
async function measure (url: string, duration: number, label: string): Promise<Sample> {
  const target = new URL(url)
  const pool = new Pool(target.origin, { connections: CONNECTIONS, pipelining: 1 })
  const list = bodies()
  const times: number[] = []
  const late: number[] = []
  const failures = new Map<string, number>()
  const fail = (what: string) => failures.set(what, (failures.get(what) ?? 0) + 1)
  const interval = 1000 / RATE
  const total = Math.round(RATE * duration)
  const inFlight = new Set<Promise<void>>()
  const send = (i: number, due: number) => {
    late.push(performance.now() - due)
    const done = pool.request({ path: target.pathname, method: 'POST', headers, body: list[i % list.length]! })
      .then(async (res) => {
        await res.body.dump()
        if (res.statusCode === 200) times.push(performance.now() - due)
        else fail(`HTTP ${res.statusCode}`)
      }, (err: Error) => { fail(err.message) })
      .finally(() => { inFlight.delete(done) })
    inFlight.add(done)
  }
  const start = performance.now()
  let sent = 0
  while (sent < total) {
    const due = Math.min(total, Math.floor((performance.now() - start) / interval) + 1)
    for (; sent < due; sent++) send(sent, start + sent * interval)
    if (sent < total) await sleep(Math.max(0, start + sent * interval - performance.now()))
  }
  while (inFlight.size > 0) await Promise.all(inFlight)
  const elapsed = (performance.now() - start) / 1000
  await pool.close()
  if (failures.size > 0) {
    throw new Error(`${label}: ${times.length} × 200, failures ${JSON.stringify(Object.fromEntries(failures))} — the run is invalid`)
  }
  return { reqPerSec: times.length / elapsed, p50: percentile(times, 0.5), p99: percentile(times, 0.99), max: Math.max(...times), total: times.length, lateP99: percentile(late, 0.99) }
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
    const res = await fetch(url, method === 'POST' ? { method, headers, body: list[i % list.length]! } : {})
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

const { cleanups, cleanup } = cleanupRegistry()

/**
 * The service as production runs it: `src/server.ts` in a process of its own (ROLE=api), so that the
 * load generator in this process takes no time from its event loop. Resolves once /health/ready answers 200.
 */
async function startService (env: Record<string, string>): Promise<{ child: ChildProcess, base: string }> {
  const port = 4100 + Math.floor(Math.random() * 800)
  const child = spawn(process.execPath, [...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean), '--import', 'tsx', 'src/server.ts'], {
    cwd: ROOT,
    env: { ...process.env as Record<string, string>, ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'ignore', 'inherit']
  })
  cleanups.push(['stop the service', () => stop(child)])
  const base = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 120_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the service exited (${child.exitCode}) before it was ready`)
    const ready = await fetch(`${base}/health/ready`).then((r) => r.status === 200, () => false)
    if (ready) return { child, base }
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  throw new Error('the service was not ready within 120 s')
}

async function stop (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  await exited
}

async function main (): Promise<void> {
  let dbh: DbHandle
  let dbLabel: string
  const serviceEnv: Record<string, string> = {
    ROLE: 'api',
    LOG_LEVEL,
    MIGRATE_ON_START: 'false',
    SCHEDULER_ENABLED: 'false',
    RECEIPT_HMAC_KEY: HMAC_SECRET,
    API_KEYS: JSON.stringify([{ name: 'bench', sha256: hashKey(API_KEY), scopes: ['suppressions:check'] }])
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'dsr-bench-'))
  cleanups.push(['remove the bench directory', () => rm(dir, { recursive: true, force: true })])
  const connectorsFile = path.join(dir, 'connectors.json')
  await writeFile(connectorsFile, JSON.stringify({ connectors: [] }))
  Object.assign(serviceEnv, { CONNECTORS_FILE: connectorsFile, STORAGE_DIR: path.join(dir, 'storage') })
  if (EMBEDDED) {
    // The service opens DATA_DIR/pglite: seeded here, closed, then opened by the service alone.
    dbh = await openDb({ dataDir: path.join(dir, 'pglite') })
    dbLabel = 'PGlite (embedded, on disk)'
    Object.assign(serviceEnv, { DATA_DIR: dir, DATABASE_URL: '' })
  } else {
    const fresh = await freshDatabase(cleanups)
    dbh = await openDb({ url: fresh.url, maxConnections: 2 })
    dbLabel = fresh.label
    serviceEnv.DATABASE_URL = fresh.url
  }
  const seeding = Date.now()
  let rows: number
  try {
    await dbh.migrate()
    rows = await seed(dbh)
  } finally {
    await dbh.close()
  }
  const seeded = (Date.now() - seeding) / 1000

  const { child, base } = await startService(serviceEnv)
  const url = `${base}/v1/suppressions/check`

  const cpus = os.cpus()
  console.log('bench/suppression-check — POST /v1/suppressions/check at a fixed rate')
  console.log(`  node ${process.version}, ${os.platform()} ${os.arch()}, os.cpus().length = ${cpus.length} (${cpus[0]?.model.trim() ?? '?'}), load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`)
  console.log(`  database: ${dbLabel}`)
  console.log(`  list: ${fmt(PEOPLE)} people, ${fmt(rows)} entries (seeded in ${seeded.toFixed(1)} s)`)
  console.log(`  load: open loop (undici Pool), one check every ${(1000 / RATE).toFixed(2)} ms (${fmt(RATE)}/s) over up to ${CONNECTIONS} connections, ${DURATION} s per round, ${ROUNDS} rounds, ${WARMUP} s warm-up`)
  console.log(`  service: src/server.ts in a process of its own (ROLE=api, LOG_LEVEL=${LOG_LEVEL}); the load and fetch in this one`)
  console.log('  bodies: 1,000, half listed people, half not, by e-mail or SHA-256, every purpose')
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
  row(['round', 'checks/s', 'p50', 'p99', 'max', 'checks', 'sent late p99'])
  for (let round = 1; round <= ROUNDS; round++) {
    const s = await measure(url, DURATION, `round ${round}`)
    samples.push(s)
    row([String(round), fmt(s.reqPerSec, 1), ms(s.p50), ms(s.p99), ms(s.max), fmt(s.total), ms(s.lateP99)])
  }
  const of = (pick: (s: Sample) => number) => median(samples.map(pick))
  const p99 = of((s) => s.p99)
  console.log()
  console.log(`medians over ${ROUNDS} round(s): ${fmt(of((s) => s.reqPerSec), 1)} checks/s, p50 ${ms(of((s) => s.p50))}, p99 ${ms(p99)}`)
  console.log(`goal: p99 < ${GOAL_P99_MS} ms at ${fmt(RATE)} checks/s — ${p99 < GOAL_P99_MS ? 'MET' : 'NOT MET'}`)
  console.log(`service peak RSS ${peakRssMiB(child.pid!)} MiB`)
  console.log('  (times from when each check was due to its whole answer; client and service on one machine)')
}

await runBench('suppression-check', main, cleanup)
