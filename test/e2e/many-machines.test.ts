import t from 'tap'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import postgres from 'postgres'
import { openDb } from '../../src/db/client.js'
import { hashKey } from '../../src/services/api-keys.js'
import { TEST_PROCESSING } from '../helper.js'
import { isRunning, startService, stopService, type ServiceProcess } from '../chaos/processes.js'
import { startS3Server } from '../storage/s3-server.js'

/**
 * Many machines: two API processes and two workers, each in a working directory of its own (no
 * disk in common: each one's DATA_DIR is its own), sharing only Postgres (a database of this test's
 * own) and an S3-compatible object store (s3rver, started by the test). Access requests go to either
 * API; every archive, whichever worker built it from files whichever worker collected, downloads
 * through both APIs with the same SHA-256 (the one recorded at build), as do its signed links;
 * each archive is built once. Archives are also sealed with ARCHIVE_ENCRYPTION_KEY, so the
 * service's encryption rides on top of the object store.
 */
t.setTimeout(300_000)

const SERVER = process.env.DATABASE_URL
const REQUESTS = 8
const FILE_BYTES = 96 * 1024
const KEY = `many-test-key-${randomBytes(12).toString('hex')}`
const email = (n: number) => `person${n}@example.com`
/** Each person's file: bytes of their own, so a mix-up between requests shows. */
const fileOf = (n: number) => createHash('sha512').update(`file ${n}`).digest().toString('hex').repeat(Math.ceil(FILE_BYTES / 128)).slice(0, FILE_BYTES)

const CONNECTORS = {
  connectors: [{
    id: 'docs',
    driver: 'memory',
    display_name: 'Documents',
    processing: TEST_PROCESSING,
    settings: {
      streams: [{
        name: 'documents',
        match: { email: 'email' },
        records: Array.from({ length: REQUESTS }, (_, i) => ({ id: i + 1, email: email(i + 1), title: `Contract ${i + 1}` })),
        files: Array.from({ length: REQUESTS }, (_, i) => ({
          key: `f${i + 1}`, name: `contract-${i + 1}.txt`, content_type: 'text/plain', email: email(i + 1), content_base64: Buffer.from(fileOf(i + 1)).toString('base64')
        }))
      }]
    }
  }]
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex')

if (!SERVER) {
  t.test('many machines: two APIs and two workers sharing only Postgres and an object store', { skip: 'needs DATABASE_URL: processes on different machines share a Postgres server, not an embedded database' }, () => {})
} else {
  t.test('many machines: two APIs and two workers sharing only Postgres and an object store', async (t) => {
    const t0 = Date.now()
    const at = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`
    const dbName = `dsr_many_${randomBytes(5).toString('hex')}`
    const dbUrl = Object.assign(new URL(SERVER), { pathname: `/${dbName}` }).toString()
    const admin = postgres(SERVER, { max: 1, onnotice: () => {} })
    const procs: ServiceProcess[] = []
    const dirs: string[] = []
    const s3 = await startS3Server()
    // Assigned below; declared first so that the teardown can end it whatever step failed.
    // eslint-disable-next-line prefer-const
    let svc: postgres.Sql | undefined
    const killAll = () => { for (const p of procs) if (isRunning(p)) p.child.kill('SIGKILL') }
    process.once('exit', killAll)
    t.teardown(async () => {
      process.removeListener('exit', killAll)
      await Promise.all(procs.map(stopService))
      await svc?.end({ timeout: 2 }).catch(() => {})
      await s3.stop()
      if (t.passing()) await admin.unsafe(`drop database if exists ${dbName} with (force)`).catch(() => {})
      await admin.end({ timeout: 2 })
      for (const d of dirs) await rm(d, { recursive: true, force: true })
    })

    await admin.unsafe(`create database ${dbName}`)
    const dbh = await openDb({ url: dbUrl, maxConnections: 2 })
    await dbh.migrate()
    await dbh.close()
    svc = postgres(dbUrl, { max: 2, onnotice: () => {} })

    // ---- four "machines": a working directory each, with its own copy of the connector file -------
    const ports = [0, 1].map(() => 20_000 + Math.floor(Math.random() * 20_000))
    if (ports[0] === ports[1]) ports[1]! += 1
    const shared = {
      DATABASE_URL: dbUrl,
      STORAGE_URL: `s3://${s3.bucket}/many`,
      ...s3.env,
      LINK_SIGNING_KEY: randomBytes(32).toString('base64'),
      ARCHIVE_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      API_KEYS: JSON.stringify([{ name: 'many', scopes: ['admin'], sha256: hashKey(KEY) }]),
      TASK_POLL_SECONDS: '0.5',
      LOG_LEVEL: 'info',
      MIGRATE_ON_START: 'false',
      SCHEDULER_ENABLED: 'false',
      HOST: '127.0.0.1'
    }
    const machine = async (name: string, role: 'api' | 'worker', port?: number) => {
      const dir = await mkdtemp(join(tmpdir(), `dsr-${name}-`))
      dirs.push(dir)
      await writeFile(join(dir, 'connectors.json'), JSON.stringify(CONNECTORS))
      const p = startService(name, { ...shared, ROLE: role, CONNECTORS_FILE: join(dir, 'connectors.json'), PORT: String(port ?? 0) }, { cwd: dir })
      procs.push(p)
      return Object.assign(p, { dir })
    }
    // The first start makes the service keys in the database; the others find them there.
    const api1 = await machine('api-1', 'api', ports[0])
    await api1.ready
    const [api2, w1, w2] = await Promise.all([machine('api-2', 'api', ports[1]), machine('worker-1', 'worker'), machine('worker-2', 'worker')])
    await Promise.all([api2.ready, w1.ready, w2.ready])
    t.comment(`2 APIs (ports ${ports.join(', ')}) and 2 workers up, each in its own directory (${at()})`)
    const apis = ports.map((port) => `http://127.0.0.1:${port}`)
    const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }

    // ---- access requests, half through each API ---------------------------------------------------
    const ids: string[] = []
    for (let n = 1; n <= REQUESTS; n++) {
      const res = await fetch(`${apis[n % 2]}/v1/requests`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ type: 'access', regime: 'gdpr', subject: { email: email(n) }, verification: { method: 'account_login' } })
      })
      t.equal(res.status, 202, `request ${n} accepted by API ${(n % 2) + 1}`)
      ids.push(((await res.json()) as { id: string }).id)
    }
    const deadline = Date.now() + 90_000
    for (;;) {
      const [row] = await svc<Array<{ n: number }>>`select count(*)::int as n from archives where request_id = any(${ids}::uuid[]) and status = 'ready'`
      if (row!.n === REQUESTS) break
      if (Date.now() > deadline) {
        for (const p of procs) t.comment(`--- ${p.name}:\n${p.lines.slice(-15).join('\n')}`)
        throw new Error(`${row!.n} of ${REQUESTS} archives ready after 90 s`)
      }
      await sleep(250)
    }
    t.comment(`${REQUESTS} archives ready (${at()})`)

    // ---- every archive through both APIs, by key and by signed link --------------------------------
    const download = async (url: string, extra: Record<string, string> = {}) => {
      const res = await fetch(url, { headers: extra })
      return { status: res.status, body: Buffer.from(await res.arrayBuffer()) }
    }
    const rows = await svc<Array<{ request_id: string, sha256: string, size: number, build_attempts: number, encrypted: boolean }>>`
      select request_id, sha256, size::int, build_attempts, encryption is not null as encrypted from archives where request_id = any(${ids}::uuid[])`
    let equalByKey = 0
    let equalByLink = 0
    let rangesEqual = 0
    for (const row of rows) {
      const byKey = await Promise.all(apis.map((api) => download(`${api}/v1/requests/${row.request_id}/archive`, { authorization: `Bearer ${KEY}` })))
      const shas = byKey.map((d) => sha256(d.body))
      if (byKey.every((d) => d.status === 200) && shas.every((s) => s === row.sha256)) equalByKey++
      // A link made through one API works through both.
      const maker = apis[rows.indexOf(row) % 2]!
      const made = await fetch(`${maker}/v1/requests/${row.request_id}/archive/links`, { method: 'POST', headers, body: '{}' })
      const { url } = (await made.json()) as { url: string }
      const byLink = await Promise.all(apis.map((api) => download(`${api}${url}`)))
      if (made.status === 201 && byLink.every((d) => d.status === 200 && sha256(d.body) === row.sha256)) equalByLink++
      // A range through the other API: the same bytes (decrypted segment by segment).
      const start = Math.floor(row.size / 3)
      const part = await download(`${apis[1]}/v1/requests/${row.request_id}/archive`, { authorization: `Bearer ${KEY}`, range: `bytes=${start}-${start + 999}` })
      if (part.status === 206 && part.body.equals(byKey[0]!.body.subarray(start, start + 1000))) rangesEqual++
    }

    // ---- who did what, and how often -------------------------------------------------------------
    const events = await svc<Array<{ request_id: string, n: number }>>`
      select request_id, count(*)::int as n from request_events where request_id = any(${ids}::uuid[]) and action = 'archive_ready' group by 1`
    const buildsPerArchive = ids.map((id) => events.find((e) => e.request_id === id)?.n ?? 0)
    const pidOf = new Map(procs.map((p) => [String(p.pid), p.name]))
    const collectors = await svc<Array<{ request_id: string, worker: string }>>`
      select k.request_id, r.worker from task_runs r join tasks k on k.id = r.task_id where k.request_id = any(${ids}::uuid[]) and r.outcome = 'succeeded'`
    const collectedBy = (id: string) => pidOf.get(collectors.find((c) => c.request_id === id)?.worker.split(':')[1] ?? '') ?? '?'
    const builtBy = (id: string) => procs.find((p) => p.lines.some((l) => l.includes('"archive ready"') && l.includes(id)))?.name ?? '?'
    const perWorker = (of: (id: string) => string) => Object.fromEntries(['worker-1', 'worker-2', '?'].map((w) => [w, ids.filter((id) => of(id) === w).length]).filter(([, n]) => n))
    const figures = {
      archives: rows.length,
      encrypted: rows.filter((r) => r.encrypted).length,
      sameSha256ThroughBothApis: equalByKey,
      signedLinksWorkingThroughBothApis: equalByLink,
      rangesEqualThroughTheOtherApi: rangesEqual,
      buildsPerArchive,
      buildAttempts: rows.map((r) => r.build_attempts),
      builtBy: perWorker(builtBy),
      filesCollectedBy: perWorker(collectedBy),
      builtFromFilesAnotherWorkerCollected: ids.filter((id) => builtBy(id) !== '?' && collectedBy(id) !== '?' && builtBy(id) !== collectedBy(id)).length,
      localStorageDirs: procs.filter((p) => existsSync(join((p as ServiceProcess & { dir: string }).dir, '.data', 'storage'))).map((p) => p.name)
    }
    t.comment(`figures: ${JSON.stringify(figures)} (${at()})`)

    t.equal(rows.length, REQUESTS, 'an archive per request')
    t.equal(figures.encrypted, REQUESTS, 'each sealed with ARCHIVE_ENCRYPTION_KEY before it reached the store')
    t.equal(equalByKey, REQUESTS, 'each downloads through both APIs with the SHA-256 recorded at build')
    t.equal(equalByLink, REQUESTS, 'each one\'s signed link works through both APIs')
    t.equal(rangesEqual, REQUESTS, 'a range through the other API is the same bytes')
    t.strictSame(buildsPerArchive, ids.map(() => 1), 'each built once (one archive_ready event)')
    t.strictSame(figures.buildAttempts, ids.map(() => 1), 'in one attempt')
    t.strictSame(figures.localStorageDirs, [], 'no process kept a blob on its own disk')
    const [{ n: files } = { n: 0 }] = await svc<Array<{ n: number }>>`
      select count(*)::int as n from collected_items where request_id = any(${ids}::uuid[]) and kind = 'file' and (file->>'size')::int = ${FILE_BYTES}`
    t.equal(files, REQUESTS, 'each person\'s file was collected into the object store')
    t.strictSame(procs.filter((p) => !isRunning(p)).map((p) => p.name), [], 'no process exited')
  })
}
