/**
 * Console queue benchmark: GET /console (the operator console's queue) over 10,000 open requests on a
 * real Postgres, measured in the service's own process (app.inject: routing, session, query,
 * rendering; no network). The goal: the queue renders in under 200 ms server time.
 *
 *   npx tsx bench/console-queue.ts [--requests 10000] [--runs 30] [--embedded]
 *
 * Database: a fresh `dsr_bench_<random>` database on the server named by DATABASE_URL (default
 * postgres://root@127.0.0.1:5432/test), dropped at the end; `--embedded` uses an in-memory PGlite.
 * One request is made through the API, then copied in SQL to the number asked for, with deadlines
 * spread from 10 days overdue to 50 days ahead, one in seven a child's, types and regimes mixed.
 * Prints p50, p95 and max per page shape. Exit code 0 whether or not the goal is met.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { openDb } from '../src/db/client.js'
import { hashKey, type KeyRecord } from '../src/services/api-keys.js'
import { createLocalBlobStore } from '../src/storage/blob-store.js'
import { fmt, freshDatabase, median, ms, percentile, positiveInt, runBench } from './support.js'

const { values: args } = parseArgs({
  options: {
    requests: { type: 'string', default: '10000' },
    runs: { type: 'string', default: '30' },
    embedded: { type: 'boolean', default: false }
  }
})
const REQUESTS = positiveInt('requests', args.requests)
const RUNS = positiveInt('runs', args.runs)
const GOAL_MS = 200
const KEY = `bench-${randomBytes(16).toString('hex')}`

const cleanups: Array<[string, () => Promise<unknown>]> = []

async function main () {
  const target = args.embedded ? { url: undefined, label: 'embedded PGlite (in memory)' } : await freshDatabase(cleanups)
  const dbh = await openDb(target.url ? { url: target.url } : { dataDir: 'memory://' })
  cleanups.push(['close database', () => dbh.close()])
  await dbh.migrate()
  const storageDir = await mkdtemp(path.join(os.tmpdir(), 'dsr-bench-'))
  cleanups.push(['remove storage dir', () => rm(storageDir, { recursive: true, force: true })])
  const apiKeys = new Map<string, KeyRecord>([[hashKey(KEY), { name: 'bench', scopes: ['admin'] }]])
  const app = await buildApp({ config: loadConfig({ LOG_LEVEL: 'silent', SCHEDULER_ENABLED: 'false' }), dbh, apiKeys, storage: createLocalBlobStore(storageDir), startEngine: false })
  cleanups.push(['close app', () => app.close()])
  await app.ready()

  const first = await app.inject({ method: 'POST', url: '/v1/requests', headers: { authorization: `Bearer ${KEY}` }, payload: { type: 'access', regime: 'gdpr', subject: { email: 'seed@example.com' } } })
  if (first.statusCode !== 202) throw new Error(`the run is invalid: seed request answered ${first.statusCode}`)
  const seeded = Date.now()
  await seed(dbh.raw, REQUESTS - 1)
  const seedMs = Date.now() - seeded

  // Sign in as a browser would: the sign-in page's token, then the key.
  const signInPage = await app.inject({ url: '/console/sign-in' })
  const cookieOf = (res: typeof signInPage) => [res.headers['set-cookie']].flat().find((c) => c?.startsWith('dsr_console='))!.split(';')[0]!
  const csrf = /name="_csrf" value="([^"]+)"/.exec(signInPage.body)![1]!
  const signedIn = await app.inject({
    method: 'POST', url: '/console/sign-in', headers: { cookie: cookieOf(signInPage), 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams({ _csrf: csrf, key: KEY }).toString()
  })
  if (signedIn.statusCode !== 303) throw new Error(`the run is invalid: sign-in answered ${signedIn.statusCode}`)
  let cookie = cookieOf(signedIn)

  const page = async (url: string) => {
    const t0 = process.hrtime.bigint()
    const res = await app.inject({ url, headers: { cookie } })
    const elapsed = Number(process.hrtime.bigint() - t0) / 1e6
    if (res.statusCode !== 200) throw new Error(`the run is invalid: ${url} answered ${res.statusCode}`)
    cookie = cookieOf(res) ?? cookie
    return { elapsed, body: res.body }
  }
  // A page a few pages deep, by following "Next page" from the first.
  let deep = '/console'
  for (let i = 0; i < 5; i++) deep = /href="([^"]+)" rel="next"/.exec((await page(deep)).body)![1]!.replaceAll('&amp;', '&')

  const shapes: Array<[string, string]> = [
    ['first page (50)', '/console'],
    ['first page (200)', '/console?limit=200'],
    ['filtered: erasure, gdpr', '/console?type=erasure&regime=gdpr'],
    ['sixth page (50)', deep]
  ]
  console.log('bench/console-queue: GET /console over open requests, in-process (app.inject)')
  console.log(`  node ${process.version}, ${os.platform()} ${os.arch()}, ${os.cpus().length} CPUs; ${target.label}`)
  console.log(`  ${fmt(REQUESTS)} open requests (seeded in ${fmt(seedMs)} ms); ${RUNS} runs per page after 5 warm-up runs; goal: under ${GOAL_MS} ms`)
  for (const [name, url] of shapes) {
    for (let i = 0; i < 5; i++) await page(url)
    const times: number[] = []
    let rows = 0
    for (let i = 0; i < RUNS; i++) {
      const { elapsed, body } = await page(url)
      times.push(elapsed)
      rows = body.split('<tr data-request=').length - 1
    }
    const worst = Math.max(...times)
    console.log(`  ${name.padEnd(26)} ${String(rows).padStart(3)} rows  p50 ${ms(median(times)).padStart(10)}  p95 ${ms(percentile(times, 0.95)).padStart(10)}  max ${ms(worst).padStart(10)}  ${percentile(times, 0.95) < GOAL_MS ? 'meets' : 'MISSES'} the goal (p95)`)
  }
}

/** Copies the one request `n` times in one statement, varying deadline, child flag, type and regime. */
async function seed (raw: Awaited<ReturnType<typeof openDb>>['raw'], n: number) {
  const columns = 'select column_name from information_schema.columns where table_name = \'requests\' and is_generated = \'NEVER\' and is_identity = \'NO\' order by ordinal_position'
  const run = async (text: string) => raw.kind === 'postgres' ? await raw.sql.unsafe(text) : (await raw.pg.query(text)).rows
  const names = (await run(columns) as Array<{ column_name: string }>).map((r) => r.column_name)
  const varied: Record<string, string> = {
    id: 'gen_random_uuid()',
    received_at: 'now() - ((g % 60) + 20) * interval \'1 day\'',
    due_at: 'now() + ((g % 60) - 10) * interval \'1 day\' + (g % 1440) * interval \'1 minute\'',
    extended_due_at: 'null',
    child: '(g % 7 = 0)',
    type: '(array[\'access\', \'erasure\', \'rectification\', \'portability\'])[1 + g % 4]::request_type',
    regime: '(array[\'gdpr\', \'ccpa\', \'pipl\', \'uk_gdpr\'])[1 + (g / 4) % 4]::regime',
    status: '(array[\'received\', \'verifying\', \'ready\', \'in_progress\'])[1 + g % 4]::request_status',
    subject_keys: 'array[\'bench:\' || g]',
    idempotency_key: 'null',
    request_hash: 'null'
  }
  const select = names.map((c) => varied[c] ?? `r.${c}`).join(', ')
  await run(`insert into requests (${names.join(', ')}) select ${select} from requests r cross join generate_series(1, ${n}) g`)
  await run('analyze requests')
}

await runBench('console-queue', main, async () => {
  for (const [what, fn] of [...cleanups].reverse()) {
    try { await fn() } catch (err) { console.error(`cleanup (${what}) failed:`, err instanceof Error ? err.message : err) }
  }
})
