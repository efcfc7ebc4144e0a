import t from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import postgres from 'postgres'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { openDb, type DbHandle } from '../../src/db/client.js'
import { closeRegistry, createRegistry, readConnectorFile, type ConnectorRegistry } from '../../src/connectors/registry.js'
import { createLocalBlobStore } from '../../src/storage/blob-store.js'
import { hashKey } from '../../src/services/api-keys.js'
import { drivers } from '../../connectors/index.js'
import { auth, TEST_PROCESSING, testKeys, waitFor } from '../helper.js'
import { NO_CHILD_COVERAGE } from '../child-env.js'
import { ROOT, nodeArgs } from '../paths.js'

/**
 * Crash safety with real processes: two worker processes share one service database and run the
 * tasks of 50 requests against a real "shop" database; one worker is SIGKILLed mid-task and
 * started again. Every request must still complete, every run must be accounted for without
 * overlap, every erased row must be deleted exactly once, and no collected item may be duplicated.
 *
 * Needs a real Postgres server: DATABASE_URL when set, else the local test server (either way a
 * real server, since processes must share it). Two scratch databases are created and dropped.
 */

// Real processes (each loads the service through tsx) on a machine that may be busy running other
// suites: typically 20-30 s, but allow more than the suite's 120 s default before calling it hung.
t.setTimeout(240_000)

const SERVER_URL = process.env.DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/test'

const SUBJECTS = 50
const ORDERS_PER_SUBJECT = 4
const ITEMS_PER_ORDER = 500 // 2,000 order_items per subject: a collect takes long enough to be killed mid-run
const ROWS_PER_SUBJECT = 1 + ORDERS_PER_SUBJECT + ORDERS_PER_SUBJECT * ITEMS_PER_ORDER
const LEASE_SECONDS = 3
const email = (n: number) => `subject${n}@example.com`
/** Odd subjects ask for access, even ones for erasure: each erasure subject is erased by exactly one request. */
const typeOf = (n: number) => n % 2 === 1 ? 'access' : 'erasure'

const WORKER_KEY = 'crash-test-worker-key-0000000000000'

function dbUrl (name: string): string {
  const url = new URL(SERVER_URL)
  url.pathname = `/${name}`
  return url.toString()
}

/** The system the connector reaches: customers ← orders ← order_items, every delete recorded by triggers. */
const SHOP_SQL = `
create schema shop;
create table shop.customers (id integer primary key, email text not null unique, full_name text not null);
create table shop.orders (
  id integer primary key,
  customer_id integer not null references shop.customers (id),
  placed_at timestamptz not null,
  total numeric(10, 2) not null
);
create index on shop.orders (customer_id);
create table shop.order_items (
  id bigint primary key,
  order_id integer not null references shop.orders (id),
  sku text not null,
  qty integer not null,
  note text not null
);
create index on shop.order_items (order_id);

-- The record of erasure side effects: one row per row deleted, whoever deleted it.
create table shop.deletions (
  id bigserial primary key,
  table_name text not null,
  row_pk text not null,
  deleted_at timestamptz not null default clock_timestamp()
);
create function shop.record_deletion () returns trigger language plpgsql as $$
begin
  insert into shop.deletions (table_name, row_pk) values (TG_TABLE_NAME, old.id::text);
  return null;
end $$;
create trigger customers_deleted after delete on shop.customers for each row execute function shop.record_deletion();
create trigger orders_deleted after delete on shop.orders for each row execute function shop.record_deletion();
create trigger order_items_deleted after delete on shop.order_items for each row execute function shop.record_deletion();

-- A slow path for erasure: the delete of order_items takes 0.3 s more, inside the erase transaction,
-- so a worker can be killed while an erasure is uncommitted.
create function shop.slow_erase () returns trigger language plpgsql as $$
begin
  perform pg_sleep(0.3);
  return null;
end $$;
create trigger order_items_slow_erase after delete on shop.order_items for each statement execute function shop.slow_erase();

insert into shop.customers select n, 'subject' || n || '@example.com', 'Subject ' || n from generate_series(1, ${SUBJECTS}) n;
insert into shop.orders
  select (c - 1) * ${ORDERS_PER_SUBJECT} + o, c, timestamptz '2024-01-01' + make_interval(hours => c * 10 + o), (c * 10 + o) / 10.0
  from generate_series(1, ${SUBJECTS}) c, generate_series(1, ${ORDERS_PER_SUBJECT}) o;
insert into shop.order_items
  select (ord - 1) * ${ITEMS_PER_ORDER} + l, ord, 'SKU-' || (l % 97), 1 + l % 5, md5(ord || ':' || l)
  from generate_series(1, ${SUBJECTS * ORDERS_PER_SUBJECT}) ord, generate_series(1, ${ITEMS_PER_ORDER}) l;

-- What erasure must delete, taken before anything runs: the erasure subjects' rows.
create schema expected;
create table expected.erased (table_name text not null, row_pk text not null, primary key (table_name, row_pk));
insert into expected.erased
  select 'customers', c.id::text from shop.customers c where c.id % 2 = 0
  union all select 'orders', o.id::text from shop.orders o where o.customer_id % 2 = 0
  union all select 'order_items', i.id::text from shop.order_items i join shop.orders o on o.id = i.order_id where o.customer_id % 2 = 0;
analyze;
`

/** Per subject: rows in each table and an md5 over all of them, as the target holds them now. */
const SUBJECT_ROWS_SQL = `
select c.id as subject,
  (select count(*) from shop.customers x where x.id = c.id)::int as customers,
  (select count(*) from shop.orders o where o.customer_id = c.id)::int as orders,
  (select count(*) from shop.order_items i join shop.orders o on o.id = i.order_id where o.customer_id = c.id)::int as order_items,
  md5(coalesce((select string_agg(x::text, '|') from shop.customers x where x.id = c.id), '')
    || coalesce((select string_agg(o::text, '|' order by o.id) from shop.orders o where o.customer_id = c.id), '')
    || coalesce((select string_agg(i::text, '|' order by i.id) from shop.order_items i join shop.orders o on o.id = i.order_id where o.customer_id = c.id), '')) as digest
from generate_series(1, ${SUBJECTS}) c(id)
order by c.id`

interface SubjectRows { subject: number, customers: number, orders: number, order_items: number, digest: string }

const CONNECTOR_FILE = {
  connectors: [{
    id: 'shop',
    driver: 'postgres',
    processing: TEST_PROCESSING,
    display_name: 'Shop',
    concurrency: 4,
    timeout_seconds: 60,
    max_attempts: 6,
    settings: {
      url: { env: 'SHOP_DATABASE_URL' },
      datasets: [{
        name: 'shop',
        tables: [
          { table: 'shop.customers', primary_key: ['id'], identity: [{ column: 'email', kind: 'email', case_insensitive: true }], erase: 'delete' },
          { table: 'shop.orders', primary_key: ['id'], references: [{ column: 'customer_id', table: 'shop.customers', to: 'id' }], erase: 'delete' },
          { table: 'shop.order_items', primary_key: ['id'], references: [{ column: 'order_id', table: 'shop.orders', to: 'id' }], erase: 'delete' }
        ]
      }]
    }
  }]
}

interface Worker {
  name: string
  child: ChildProcess
  pid: number
  lines: string[]
  ready: Promise<void>
  exited: Promise<number | null>
}

t.test('workers killed mid-task: every request completes, runs never overlap, erasure happens exactly once', async (t) => {
  const t0 = Date.now()
  const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`
  const suffix = randomBytes(5).toString('hex')
  const serviceDb = `dsr_crash_svc_${suffix}`
  const shopDb = `dsr_crash_shop_${suffix}`
  const serviceUrl = dbUrl(serviceDb)
  const shopUrl = dbUrl(shopDb)
  const tmp = await mkdtemp(join(tmpdir(), 'dsr-crash-'))
  const admin = postgres(SERVER_URL, { max: 1, onnotice: () => {} })
  const workers: Worker[] = []
  // Assigned below; declared first so the teardown can run whatever step failed.
  /* eslint-disable prefer-const */
  let svc: postgres.Sql | undefined
  let shop: postgres.Sql | undefined
  let dbh: DbHandle | undefined
  let registry: ConnectorRegistry | undefined
  let app: Awaited<ReturnType<typeof buildApp>> | undefined
  /* eslint-enable prefer-const */

  // Should this process be killed (tap's timeout), the workers must not outlive it.
  const killAll = () => { for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL') }
  process.once('exit', killAll)
  t.teardown(async () => {
    process.removeListener('exit', killAll)
    await Promise.all(workers.map((w) => stopWorker(w)))
    await app?.close().catch(() => {})
    if (registry) await closeRegistry(registry)
    await dbh?.close().catch(() => {})
    await svc?.end({ timeout: 5 }).catch(() => {})
    await shop?.end({ timeout: 5 }).catch(() => {})
    await admin.unsafe(`drop database if exists ${serviceDb} with (force)`).catch(() => {})
    await admin.unsafe(`drop database if exists ${shopDb} with (force)`).catch(() => {})
    await admin.end({ timeout: 5 })
    await rm(tmp, { recursive: true, force: true })
  })

  // ---- databases: the service's, migrated; the shop's, seeded while the workers boot -------------
  await admin.unsafe(`create database ${serviceDb}`)
  await admin.unsafe(`create database ${shopDb}`)
  dbh = await openDb({ url: serviceUrl, maxConnections: 10 })
  await dbh.migrate()
  svc = postgres(serviceUrl, { max: 2, onnotice: () => {} })
  shop = postgres(shopUrl, { max: 2, onnotice: () => {} })

  // ---- connector file, API in-process (no workers), then two worker processes ------------------
  const connectorFile = join(tmp, 'connectors.json')
  await writeFile(connectorFile, JSON.stringify(CONNECTOR_FILE, null, 2))
  const quiet = { debug () {}, info () {}, warn () {}, error () {} }
  registry = await createRegistry(readConnectorFile(connectorFile), { drivers, env: { SHOP_DATABASE_URL: shopUrl }, log: quiet })
  const config = loadConfig({
    ROLE: 'api',
    LOG_LEVEL: 'silent',
    DATABASE_URL: serviceUrl,
    DATA_DIR: tmp,
    TASK_LEASE_SECONDS: String(LEASE_SECONDS),
    TASK_POLL_SECONDS: '0.5',
    TASK_RETRY_BASE_MS: '100'
  })
  // Started first, so pg-boss creates its schema and the queue once, before the workers race for it.
  app = await buildApp({ config, dbh, apiKeys: testKeys(), registry, storage: createLocalBlobStore(join(tmp, 'api-storage')), startEngine: true })
  await app.ready()

  const workerEnv: Record<string, string> = {
    ...NO_CHILD_COVERAGE,
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? tmp,
    DATABASE_URL: serviceUrl,
    ROLE: 'worker',
    CONNECTORS_FILE: connectorFile,
    SHOP_DATABASE_URL: shopUrl,
    TASK_LEASE_SECONDS: String(LEASE_SECONDS),
    TASK_POLL_SECONDS: '0.5',
    TASK_RETRY_BASE_MS: '100',
    LOG_LEVEL: 'info',
    MIGRATE_ON_START: 'false',
    API_KEYS: JSON.stringify([{ name: 'crash-test', scopes: ['admin'], sha256: hashKey(WORKER_KEY) }]),
    DATA_DIR: join(tmp, 'worker-data')
  }
  const startWorker = (name: string): Worker => {
    const child = spawn(process.execPath, nodeArgs('src/server.ts'), { cwd: ROOT, env: workerEnv, stdio: ['ignore', 'pipe', 'pipe'] })
    const lines: string[] = []
    let onReady: () => void
    let onFail: (err: Error) => void
    const ready = new Promise<void>((resolve, reject) => { onReady = resolve; onFail = reject })
    ready.catch(() => {}) // a failure is reported where `ready` is awaited, not as an unhandled rejection
    const collect = (stream: NodeJS.ReadableStream) => {
      let rest = ''
      stream.setEncoding('utf8')
      stream.on('data', (chunk: string) => {
        const parts = (rest + chunk).split('\n')
        rest = parts.pop() ?? ''
        for (const line of parts) {
          lines.push(line)
          if (line.includes('"worker started"')) onReady()
        }
      })
      stream.on('end', () => { if (rest) lines.push(rest) })
    }
    collect(child.stdout!)
    collect(child.stderr!)
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code, signal) => {
      onFail(new Error(`${name} exited before it was ready (code ${code}, signal ${signal}):\n${lines.slice(-20).join('\n')}`))
      resolve(code)
    }))
    const worker = { name, child, pid: child.pid!, lines, ready, exited }
    workers.push(worker)
    return worker
  }

  const w1 = startWorker('worker-1')
  const w2 = startWorker('worker-2')

  await shop.unsafe(SHOP_SQL).simple()
  const before = await shop.unsafe<SubjectRows[]>(SUBJECT_ROWS_SQL)
  t.equal(before.length, SUBJECTS)
  t.ok(before.every((r) => r.customers + r.orders + r.order_items === ROWS_PER_SUBJECT), `every subject has ${ROWS_PER_SUBJECT} rows`)
  const [expectedErased] = await shop<Array<{ n: number }>>`select count(*)::int as n from expected.erased`
  t.equal(expectedErased!.n, (SUBJECTS / 2) * ROWS_PER_SUBJECT, 'rows the erasures must delete')
  t.comment(`shop database seeded (${elapsed()})`)

  await Promise.all([w1.ready, w2.ready])
  t.comment(`workers started: pid ${w1.pid} and ${w2.pid} (${elapsed()})`)

  // ---- 50 requests, verified at intake; worker 1 is killed as soon as it is mid-task ----------
  // The watch runs alongside intake, so the kill lands while tasks are still being handed out.
  const pidOf = (w: Worker) => String(w.pid)
  const MID_TASK = 3
  const killed = waitFor(async () => {
    const rows = await svc!<Array<{ task_id: string, action: string }>>`
      select r.task_id, k.action from task_runs r join tasks k on k.id = r.task_id
      where r.ended_at is null and split_part(r.worker, ':', 2) = ${pidOf(w1)}`
    return rows.length >= MID_TASK ? rows : null
  }, 45_000, `worker 1 to be running ${MID_TASK} tasks`).then(async (open) => {
    w1.child.kill('SIGKILL')
    await w1.exited
    const at = Date.now()
    // What it held at the moment of death (it may have claimed more, or finished some, since the
    // snapshot above); read at once, before the lease runs out and a claim takes these tasks over, closing their runs.
    const openAtDeath = await svc!<Array<{ task_id: string, action: string }>>`
      select r.task_id, k.action from task_runs r join tasks k on k.id = r.task_id
      where r.ended_at is null and split_part(r.worker, ':', 2) = ${pidOf(w1)}`
    return { open, openAtDeath: [...openAtDeath], at }
  })
  killed.catch(() => {}) // awaited below; intake failing first must not leave it unhandled

  const subjectOf = new Map<string, number>()
  for (let first = 1; first <= SUBJECTS; first += 10) {
    const batch = Array.from({ length: Math.min(10, SUBJECTS - first + 1) }, (_, i) => first + i)
    await Promise.all(batch.map(async (n) => {
      const res = await app!.inject({
        method: 'POST',
        url: '/v1/requests',
        headers: auth(),
        payload: { type: typeOf(n), subject: { email: email(n) }, regime: 'gdpr', verification: { method: 'account_login' } }
      })
      t.equal(res.statusCode, 202, `request for subject ${n} accepted`)
      t.equal(res.json().status, 'in_progress', `request for subject ${n} planned`)
      subjectOf.set(res.json().id, n)
    }))
  }
  t.comment(`50 requests created (${elapsed()})`)

  // ---- kill worker 1 while it holds tasks, start it again -----------------------------------
  const { open, openAtDeath, at: killedAt } = await killed
  t.ok(open.length >= MID_TASK, `worker 1 was killed mid-task (${open.length} runs open)`)
  const killedTasks = openAtDeath.map((r) => r.task_id)
  t.comment(`killed worker 1 at ${((killedAt - t0) / 1000).toFixed(1)} s holding ${openAtDeath.length} task(s): ${openAtDeath.map((r) => r.action).join(', ')}`)
  // Started again at once; the wait below does not depend on it being up (the survivor may finish first).
  const w1b = startWorker('worker-1b')
  w1b.ready.then(() => t.comment(`worker 1 restarted as pid ${w1b.pid}, up at ${elapsed()}`), () => {})

  const statuses = await waitFor(async () => {
    const rows = await svc!<Array<{ status: string, n: number }>>`select status::text, count(*)::int as n from requests group by status`
    const terminal = rows.filter((r) => ['completed', 'partially_completed', 'failed', 'cancelled', 'rejected', 'closed'].includes(r.status))
      .reduce((sum, r) => sum + r.n, 0)
    return terminal === SUBJECTS ? rows : null
  }, 75_000, 'all 50 requests to be terminal').catch(async (err: Error) => {
    const rows = await svc!`select status::text, count(*)::int as n from requests group by status`
    t.comment(`requests by status: ${JSON.stringify(rows)}`)
    const stuck = await svc!`select id, action::text, status::text, attempts, lease_owner, lease_expires_at, next_attempt_at from tasks where status not in ('succeeded', 'failed', 'skipped')`
    t.comment(`open tasks: ${JSON.stringify(stuck)}`)
    const ids = stuck.map((k) => k.id as string)
    t.comment(`their runs: ${JSON.stringify(await svc!`select task_id, worker, started_at, ended_at, outcome from task_runs where task_id = any(${ids}::uuid[]) order by id`)}`)
    for (const w of workers) t.comment(`--- ${w.name} (pid ${w.pid}), last lines:\n${w.lines.filter((l) => !l.includes('"task succeeded"')).slice(-30).join('\n')}`)
    throw err
  })
  t.comment(`all requests terminal ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill (${elapsed()})`)

  // ---- requests and tasks ----------------------------------------------------------------------
  t.strictSame([...statuses], [{ status: 'completed', n: SUBJECTS }], 'all 50 requests completed')
  const taskRows = await svc<Array<{ id: string, status: string, attempts: number, action: string }>>`select id, status::text, attempts, action::text from tasks`
  t.equal(taskRows.length, SUBJECTS, 'one task per request')
  t.ok(taskRows.every((k) => k.status === 'succeeded'), 'every task succeeded')

  // ---- runs: takeover recorded, never overlapping, none left open -------------------------------
  type Run = { id: number, task_id: string, worker: string, started_at: Date, ended_at: Date | null, outcome: string | null }
  const runs = await svc<Run[]>`
    select id, task_id, worker, started_at, ended_at, outcome from task_runs order by task_id, started_at, id`
  const byTask = new Map<string, Run[]>()
  for (const r of runs) byTask.set(r.task_id, [...(byTask.get(r.task_id) ?? []), r])
  const expired = runs.filter((r) => r.outcome === 'lease_expired')
  t.ok(expired.length >= 1, `at least one run ended with lease_expired (${expired.length})`)
  // A live worker that misses its heartbeats on a loaded machine loses its lease too: allowed, and
  // everything below must hold all the same, so it is only reported.
  const expiredLive = expired.filter((r) => r.worker.split(':')[1] !== pidOf(w1))
  if (expiredLive.length > 0) t.comment(`${expiredLive.length} run(s) of live workers lost their lease`)
  // The killed worker's runs: every one it left open was closed as lease_expired by the claim that took its task over.
  const killedRuns = runs.filter((r) => r.worker.split(':')[1] === pidOf(w1) && r.outcome === 'lease_expired')
  t.ok(killedRuns.length >= 1, `the killed worker's open runs were taken over (${killedRuns.length})`)
  t.ok(killedTasks.every((id) => killedRuns.some((r) => r.task_id === id)), 'each run open at the kill ended as lease_expired')
  for (const killedRun of killedRuns) {
    const list = byTask.get(killedRun.task_id)!
    const last = list[list.length - 1]!
    t.ok(last !== killedRun && last.outcome === 'succeeded' && last.worker !== killedRun.worker,
      `task ${killedRun.task_id}: taken over and succeeded by another worker`)
    t.ok(killedRun.ended_at !== null && last.started_at >= killedRun.ended_at,
      `task ${killedRun.task_id}: the takeover started after the killed run was closed`)
  }
  const overlaps: string[] = []
  const unfinished: string[] = []
  for (const [taskId, list] of byTask) {
    for (let i = 0; i < list.length; i++) {
      const run = list[i]!
      if (run.ended_at === null) unfinished.push(`${taskId}#${run.id}`)
      const prev = list[i - 1]
      if (prev && (prev.ended_at === null || run.started_at < prev.ended_at)) overlaps.push(`${taskId}: run ${run.id} started before run ${prev.id} ended`)
    }
  }
  t.strictSame(overlaps, [], 'no two runs of one task overlap')
  t.strictSame(unfinished, [], 'no run is left open')
  // Every attempt has its run (a run parked as waiting by the circuit breaker gives its attempt back).
  const attemptsMismatch = taskRows.filter((k) => k.attempts !== (byTask.get(k.id) ?? []).filter((r) => r.outcome !== 'waiting').length)
  t.strictSame(attemptsMismatch.map((k) => k.id), [], 'each task\'s attempts equal its recorded runs')
  t.comment(`runs: ${runs.length} for ${taskRows.length} tasks; outcomes ${JSON.stringify(countBy(runs.map((r) => r.outcome ?? 'open')))}`)

  // ---- the target system: erased exactly once, others untouched --------------------------------
  const after = await shop.unsafe<SubjectRows[]>(SUBJECT_ROWS_SQL)
  for (let n = 1; n <= SUBJECTS; n++) {
    const b = before[n - 1]!
    const a = after[n - 1]!
    if (typeOf(n) === 'erasure') {
      t.strictSame([a.customers, a.orders, a.order_items], [0, 0, 0], `subject ${n}: nothing left after erasure`)
    } else {
      t.strictSame(a, b, `subject ${n}: rows untouched (counts and checksum)`)
    }
  }
  const [deletionCheck] = await shop<Array<{ deleted: number, distinct_rows: number, twice: number, missed: number, unexpected: number }>>`
    with d as (select table_name, row_pk, count(*)::int as n from shop.deletions group by table_name, row_pk)
    select
      (select count(*)::int from shop.deletions) as deleted,
      (select count(*)::int from d) as distinct_rows,
      (select count(*)::int from d where n > 1) as twice,
      (select count(*)::int from expected.erased e where not exists (select 1 from d where d.table_name = e.table_name and d.row_pk = e.row_pk)) as missed,
      (select count(*)::int from d where not exists (select 1 from expected.erased e where d.table_name = e.table_name and d.row_pk = e.row_pk)) as unexpected`
  t.strictSame(deletionCheck, {
    deleted: (SUBJECTS / 2) * ROWS_PER_SUBJECT,
    distinct_rows: (SUBJECTS / 2) * ROWS_PER_SUBJECT,
    twice: 0,
    missed: 0,
    unexpected: 0
  }, 'deletions: exactly one per originally seeded row of the erased subjects, nothing else')

  // ---- collected items: exactly the subject's rows, no duplicates from re-runs ----------------
  const items = await svc<Array<{ request_id: string, stream: string, n: number, keys: number }>>`
    select request_id, stream, count(*)::int as n, count(distinct item_key)::int as keys
    from collected_items group by request_id, stream`
  const itemsOf = new Map<number, Record<string, { n: number, keys: number }>>()
  for (const row of items) {
    const n = subjectOf.get(row.request_id)!
    itemsOf.set(n, { ...(itemsOf.get(n) ?? {}), [row.stream]: { n: row.n, keys: row.keys } })
  }
  for (let n = 1; n <= SUBJECTS; n++) {
    const b = before[n - 1]!
    if (typeOf(n) === 'access') {
      t.strictSame(itemsOf.get(n), {
        customers: { n: b.customers, keys: b.customers },
        orders: { n: b.orders, keys: b.orders },
        order_items: { n: b.order_items, keys: b.order_items }
      }, `subject ${n}: collected items equal the rows in the system, once each`)
    } else {
      t.equal(itemsOf.get(n), undefined, `subject ${n}: an erasure collects nothing`)
    }
  }

  // ---- the workers' own account ----------------------------------------------------------------
  await w1b.ready
  t.pass('the restarted worker 1 came up')
  const tookOver = [w2, w1b].flatMap((w) => w.lines).filter((l) => /worker stopped were taken over/.test(l))
  t.ok(tookOver.length >= 1, 'a surviving worker took over the dead worker\'s tasks')
  const failedAttempts = workers.flatMap((w) => w.lines).filter((l) => l.includes('task attempt failed'))
  if (failedAttempts.length > 0) t.comment(`failed attempts:\n${failedAttempts.join('\n')}`)
  t.comment(`done in ${elapsed()}`)

  if (!t.passing()) {
    for (const w of workers) t.comment(`--- ${w.name} (pid ${w.pid}), last lines:\n${w.lines.filter((l) => !l.includes('"task succeeded"')).slice(-30).join('\n')}`)
  }
})

function countBy (values: string[]): Record<string, number> {
  const out: Record<string, number> = {}
  for (const v of values) out[v] = (out[v] ?? 0) + 1
  return out
}

/** SIGTERM (graceful close), then SIGKILL if it has not exited within 5 s. */
async function stopWorker (w: Worker): Promise<void> {
  if (w.child.exitCode !== null || w.child.signalCode !== null) return
  w.child.kill('SIGTERM')
  const timer = setTimeout(() => w.child.kill('SIGKILL'), 5000)
  await w.exited
  clearTimeout(timer)
}
