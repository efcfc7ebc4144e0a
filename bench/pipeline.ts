/**
 * Pipeline benchmark: the engine end to end, as production runs it. Real service processes on a
 * real Postgres with the bundled sample systems; N verified access requests sent by `concurrency`
 * clients, each sending its next request once its previous one's archive is ready. A request is
 * done when its archive is ready (five collect tasks, the request closed, the archive built).
 *
 *   npx tsx bench/pipeline.ts [--requests 500] [--concurrency 50] [--split] [--archive-concurrency N]
 *
 *   default   one process, ROLE=all
 *   --split   one ROLE=api process and two ROLE=worker processes
 *
 * Database: a fresh `dsr_bench_<random>` database on the server named by DATABASE_URL (default
 * postgres://root@127.0.0.1:5432/test), migrated and seeded with the sample systems by the first
 * process, dropped at the end.
 *
 * Prints: completed requests/s from the first POST to the last archive ready; p50, p95 and max of
 * end-to-end latency (POST sent → archive ready_at); intake latency; peak RSS of each process
 * (VmHWM). Exits non-zero if any request did not end `completed` with a `ready` archive.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import postgres from 'postgres'
import { cpuSeconds, machineBusySeconds, peakRssMiB } from './support.js'

const { values: args } = parseArgs({
  options: {
    requests: { type: 'string', default: '500' },
    concurrency: { type: 'string', default: '50' },
    split: { type: 'boolean', default: false },
    'archive-concurrency': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false }
  }
})
if (args.help) {
  console.log('usage: npx tsx bench/pipeline.ts [--requests 500] [--concurrency 50] [--split] [--archive-concurrency N]')
  process.exit(0)
}
const N = Number(args.requests)
const CONCURRENCY = Number(args.concurrency)
if (!Number.isInteger(N) || N < 1 || !Number.isInteger(CONCURRENCY) || CONCURRENCY < 1) throw new Error('--requests and --concurrency take positive integers')

const KEY = `bench-${randomBytes(16).toString('hex')}`
const PEOPLE = ['ada@example.com', 'grace@example.com', 'alan@example.com']
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const adminUrl = process.env.DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/test'
const dbName = `dsr_bench_${randomBytes(5).toString('hex')}`
const dbUrl = (() => { const u = new URL(adminUrl); u.pathname = `/${dbName}`; return u.toString() })()
const admin = postgres(adminUrl, { max: 1, onnotice: () => {} })
const children: ChildProcess[] = []
let storage = ''

async function cleanup (): Promise<void> {
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM')
  await Promise.all(children.map((c) => c.exitCode === null ? new Promise((resolve) => c.once('exit', resolve)) : null))
  await admin.unsafe(`drop database if exists ${dbName} with (force)`).catch(() => {})
  await admin.end()
  if (storage) await rm(storage, { recursive: true, force: true })
}
process.once('SIGINT', () => { cleanup().finally(() => process.exit(130)) })

/** Starts one service process and resolves once it answers /health/ready (or, for a worker, says it started). */
function startProcess (role: 'all' | 'api' | 'worker', port: number, migrate: boolean): Promise<ChildProcess> {
  const env: Record<string, string> = {
    ...process.env as Record<string, string>,
    DATABASE_URL: dbUrl,
    ROLE: role,
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    MIGRATE_ON_START: migrate ? 'true' : 'false',
    API_KEYS: JSON.stringify([{ name: 'bench', key: KEY, scopes: ['admin'] }]),
    STORAGE_DIR: storage,
    SCHEDULER_ENABLED: 'false',
    LINK_SIGNING_KEY: 'bench-link-signing-key-0123456789abcdef',
    ...(args['archive-concurrency'] ? { ARCHIVE_CONCURRENCY: args['archive-concurrency'] } : {})
  }
  const child = spawn(process.execPath, [...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean), '--import', 'tsx', 'src/server.ts'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  return new Promise((resolve, reject) => {
    let out = ''
    const onData = (chunk: Buffer) => {
      out += chunk.toString()
      if (/"msg":"(Server listening at|worker started)/.test(out)) {
        child.stdout!.off('data', onData)
        child.stdout!.resume()
        resolve(child)
      }
      if (out.length > 1_000_000) out = out.slice(-100_000)
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', (c: Buffer) => process.stderr.write(`[${role}] ${c.toString()}`))
    child.once('exit', (code) => reject(new Error(`${role} process exited (${code}) before it was ready:\n${out.slice(-2000)}`)))
  })
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!

async function main (): Promise<void> {
  storage = await mkdtemp(path.join(os.tmpdir(), 'dsr-bench-storage-'))
  await admin.unsafe(`create database ${dbName}`)
  const port = 3900 + Math.floor(Math.random() * 500)
  console.log(`node ${process.version}, ${os.cpus().length} CPUs, database ${dbName}, ${N} requests at concurrency ${CONCURRENCY}, ${args.split ? '1 api + 2 worker processes' : 'one ROLE=all process'}`)

  // The first process migrates and creates the sample systems; the others start after it.
  const first = await startProcess(args.split ? 'api' : 'all', port, true)
  const processes: Array<[string, ChildProcess]> = [[args.split ? 'api' : 'all', first]]
  if (args.split) {
    processes.push(['worker 1', await startProcess('worker', port + 1, false)])
    processes.push(['worker 2', await startProcess('worker', port + 2, false)])
  }
  const db = postgres(dbUrl, { max: 2, onnotice: () => {} })
  const base = `http://127.0.0.1:${port}`
  const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }

  // Archive readiness is read from the database, one query every 20 ms for every request waiting:
  // polling the API once per client would load the service with reads the benchmark does not measure.
  const waiting = new Map<string, (readyAt: Date) => void>()
  const polling = new AbortController()
  const poller = (async () => {
    while (!polling.signal.aborted) {
      if (waiting.size > 0) {
        const ids = [...waiting.keys()]
        const rows = await db<Array<{ request_id: string, ready_at: Date }>>`
          select request_id, ready_at from archives where status = 'ready' and request_id = any(${ids}::uuid[])`
        for (const r of rows) { waiting.get(r.request_id)?.(new Date(r.ready_at)); waiting.delete(r.request_id) }
      }
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  })()

  const latencies: number[] = []
  const intake: number[] = []
  const ids: string[] = []
  let sent = 0
  const cpuBefore = processes.map(([, p]) => cpuSeconds(p.pid!))
  const machineBefore = machineBusySeconds()
  const benchBefore = process.cpuUsage()
  let firstPost = 0
  let lastReady = 0
  async function client (): Promise<void> {
    while (sent < N) {
      const i = sent++
      const at = Date.now()
      if (firstPost === 0) firstPost = at
      const res = await fetch(`${base}/v1/requests`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ type: 'access', regime: 'gdpr', subject: { email: PEOPLE[i % PEOPLE.length] }, verification: { method: 'account_login' } })
      })
      const body = await res.json() as { id?: string }
      intake.push(Date.now() - at)
      if (res.status !== 202 || !body.id) throw new Error(`POST /v1/requests answered ${res.status}: ${JSON.stringify(body)}`)
      ids.push(body.id)
      const readyAt = await new Promise<Date>((resolve) => waiting.set(body.id!, resolve))
      latencies.push(readyAt.getTime() - at)
      lastReady = Math.max(lastReady, readyAt.getTime())
    }
  }
  const timeout = setTimeout(() => { console.error('not finished after 10 minutes'); cleanup().finally(() => process.exit(1)) }, 600_000)
  await Promise.all(Array.from({ length: CONCURRENCY }, () => client()))
  clearTimeout(timeout)
  polling.abort()
  await poller
  const machineBusy = machineBusySeconds() - machineBefore
  const cpuUsed = processes.map(([, p], i) => cpuSeconds(p.pid!) - cpuBefore[i]!)
  const benchUsage = process.cpuUsage(benchBefore)
  const benchCpu = (benchUsage.user + benchUsage.system) / 1e6

  const [check] = await db<Array<{ completed: string, ready: string }>>`
    select count(*) filter (where r.status = 'completed') as completed, count(*) filter (where a.status = 'ready') as ready
    from requests r left join archives a on a.request_id = r.id where r.id = any(${ids}::uuid[])`
  const [tasks] = await db<Array<{ n: string, succeeded: string }>>`
    select count(*) as n, count(*) filter (where status = 'succeeded') as succeeded from tasks where request_id = any(${ids}::uuid[])`
  const rss = processes.map(([name, p]) => `${name} ${peakRssMiB(p.pid!)} MiB`)
  await db.end()

  latencies.sort((a, b) => a - b)
  intake.sort((a, b) => a - b)
  const seconds = (lastReady - firstPost) / 1000
  console.log(`completed:        ${check!.completed}/${N} requests completed, ${check!.ready}/${N} archives ready, ${tasks!.succeeded}/${tasks!.n} tasks succeeded`)
  console.log(`throughput:       ${(N / seconds).toFixed(1)} completed requests/s (${seconds.toFixed(2)} s from the first POST to the last archive ready)`)
  console.log(`end to end:       p50 ${quantile(latencies, 0.5)} ms, p95 ${quantile(latencies, 0.95)} ms, max ${latencies[latencies.length - 1]} ms`)
  console.log(`intake (POST):    p50 ${quantile(intake, 0.5)} ms, p95 ${quantile(intake, 0.95)} ms`)
  console.log(`peak RSS:         ${rss.join(', ')}`)
  console.log(`CPU under load:   ${processes.map(([name], i) => `${name} ${cpuUsed[i]!.toFixed(1)} s`).join(', ')}; this benchmark ${benchCpu.toFixed(1)} s; the machine ${machineBusy.toFixed(1)} s busy of ${(seconds * os.cpus().length).toFixed(1)} s (Postgres and everything else: ${(machineBusy - benchCpu - cpuUsed.reduce((a, b) => a + b, 0)).toFixed(1)} s)`)
  const ok = Number(check!.completed) === N && Number(check!.ready) === N
  await cleanup()
  if (!ok) {
    console.error('FAILED: not every request completed with its archive ready')
    process.exit(1)
  }
}

main().catch(async (err: unknown) => {
  console.error(err)
  await cleanup()
  process.exit(1)
})
