import t from 'tap'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import postgres from 'postgres'
import { openDb } from '../../src/db/client.js'
import { hashKey } from '../../src/services/api-keys.js'
import { TEST_PROCESSING, skipUnlessRequired } from '../helper.js'
import { findPostgresBin, startPrivatePostgres, type PrivatePostgres } from './private-postgres.js'
import { isRunning, startService, stopService, type ServiceProcess } from './processes.js'

/**
 * Chaos: the API and two workers, each a process of its own, on a private Postgres, fulfil access and
 * erasure requests while (1) a worker is SIGKILLed mid-task and started again, as a supervisor would,
 * (2) Postgres restarts (`pg_ctl restart -m fast`) mid-run, and (3) Postgres is stopped for 8 s. Every
 * request must end, none be lost, none be erased twice, no process may exit on its own, and every
 * archive must be ready. Before: a restart crashed every worker (postgres.js' null socket) and left
 * requests in progress for good; a worker that died mid-build left its archive building for 6 hours.
 *
 * The connector's system (a "shop" database) lives on the suite's usual Postgres server, so only the
 * service's own database goes away.
 */
t.setTimeout(240_000)

const SHOP_SERVER = process.env.DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/test'
const PER_PHASE = 20
const PHASES = ['worker SIGKILL', 'Postgres restart', 'Postgres stopped 8 s'] as const
const SUBJECTS = PER_PHASE * PHASES.length
const ORDERS = 3
const ITEMS = 150
const ROWS_PER_SUBJECT = 1 + ORDERS + ORDERS * ITEMS
const STOP_MS = 8000
/** How long the requests of a phase may take to end after its fault before the phase counts as failed. */
const PHASE_TIMEOUT_MS = 45_000
const KEY = `chaos-test-key-${randomBytes(12).toString('hex')}`
const email = (n: number) => `chaos${n}@example.com`
/** Odd subjects ask for access, even ones for erasure. */
const typeOf = (n: number) => n % 2 === 1 ? 'access' : 'erasure'
const TERMINAL = ['completed', 'partially_completed', 'failed', 'rejected', 'cancelled']

const SHOP_SQL = `
create schema shop;
create table shop.customers (id integer primary key, email text not null unique);
create table shop.orders (id integer primary key, customer_id integer not null references shop.customers (id), total numeric(10, 2) not null);
create table shop.order_items (id bigint primary key, order_id integer not null references shop.orders (id), sku text not null);
create table shop.deletions (table_name text not null, row_pk text not null);
create function shop.record_deletion () returns trigger language plpgsql as $$
begin insert into shop.deletions values (TG_TABLE_NAME, old.id::text); return null; end $$;
create trigger customers_deleted after delete on shop.customers for each row execute function shop.record_deletion();
create trigger orders_deleted after delete on shop.orders for each row execute function shop.record_deletion();
create trigger order_items_deleted after delete on shop.order_items for each row execute function shop.record_deletion();
-- Erasure takes 0.3 s inside its transaction, so faults land while erasures are uncommitted.
create function shop.slow () returns trigger language plpgsql as $$ begin perform pg_sleep(0.3); return null; end $$;
create trigger order_items_slow after delete on shop.order_items for each statement execute function shop.slow();
insert into shop.customers select n, 'chaos' || n || '@example.com' from generate_series(1, ${SUBJECTS}) n;
insert into shop.orders select (c - 1) * ${ORDERS} + o, c, c + o from generate_series(1, ${SUBJECTS}) c, generate_series(1, ${ORDERS}) o;
insert into shop.order_items select (o - 1) * ${ITEMS} + l, o, 'SKU-' || l from generate_series(1, ${SUBJECTS * ORDERS}) o, generate_series(1, ${ITEMS}) l;
analyze;`

const CONNECTORS = {
  connectors: [{
    id: 'shop',
    driver: 'postgres',
    processing: TEST_PROCESSING,
    display_name: 'Shop',
    concurrency: 4,
    timeout_seconds: 15,
    max_attempts: 8,
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

/** Polls `check` until it returns a value, tolerating errors (the database may be away). */
async function until<T> (check: () => Promise<T | null | false>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check().catch(() => null)
    if (value) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(50)
  }
}

const found = findPostgresBin()
if ('skip' in found) {
  skipUnlessRequired(t, 'chaos', 'chaos: worker kills, Postgres restart and outage', found.skip)
} else {
  t.test('chaos: worker kills, Postgres restart and outage: every request ends, none lost or erased twice', async (t) => {
    const t0 = Date.now()
    const at = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`
    const tmp = await mkdtemp(join(tmpdir(), 'dsr-chaos-'))
    const shopName = `dsr_chaos_shop_${randomBytes(5).toString('hex')}`
    const shopUrl = Object.assign(new URL(SHOP_SERVER), { pathname: `/${shopName}` }).toString()
    const admin = postgres(SHOP_SERVER, { max: 1, onnotice: () => {} })
    const procs: ServiceProcess[] = []
    // Assigned below; declared first so the teardown can undo whatever step failed.
    /* eslint-disable prefer-const */
    let pg: PrivatePostgres | undefined
    let svc: postgres.Sql | undefined
    let shop: postgres.Sql | undefined
    /* eslint-enable prefer-const */
    const killAll = () => { for (const p of procs) if (isRunning(p)) p.child.kill('SIGKILL') }
    process.once('exit', killAll)
    t.teardown(async () => {
      process.removeListener('exit', killAll)
      if (pg && !t.passing()) t.comment(`postgres log:\n${pg.log()}`)
      await Promise.all(procs.map(stopService))
      await svc?.end({ timeout: 2 }).catch(() => {})
      await shop?.end({ timeout: 2 }).catch(() => {})
      await pg?.destroy()
      await admin.unsafe(`drop database if exists ${shopName} with (force)`).catch(() => {})
      await admin.end({ timeout: 2 })
      await rm(tmp, { recursive: true, force: true })
    })

    // ---- the private Postgres, migrated; the shop on the suite's server --------------------------
    pg = await startPrivatePostgres(found.bin)
    const bootstrap = postgres(pg.url(), { max: 1, onnotice: () => {} })
    await bootstrap.unsafe('create database dsr')
    await bootstrap.end()
    const dbh = await openDb({ url: pg.url('dsr'), maxConnections: 2 })
    await dbh.migrate()
    await dbh.close()
    svc = postgres(pg.url('dsr'), { max: 2, onnotice: () => {}, backoff: () => 0.2, connect_timeout: 2 })
    await admin.unsafe(`create database ${shopName}`)
    shop = postgres(shopUrl, { max: 2, onnotice: () => {} })
    await shop.unsafe(SHOP_SQL).simple()
    const connectorFile = join(tmp, 'connectors.json')
    await writeFile(connectorFile, JSON.stringify(CONNECTORS))
    t.comment(`private Postgres on port ${pg.port}, shop seeded (${at()})`)

    // ---- the API, then two workers ---------------------------------------------------------------
    const port = 20_000 + Math.floor(Math.random() * 20_000)
    const env = (role: string): Record<string, string> => ({
      ROLE: role,
      DATABASE_URL: pg!.url('dsr'),
      CONNECTORS_FILE: connectorFile,
      SHOP_DATABASE_URL: shopUrl,
      TASK_LEASE_SECONDS: '3',
      ARCHIVE_BUILD_TIMEOUT_SECONDS: '20',
      TASK_POLL_SECONDS: '0.5',
      TASK_RETRY_BASE_MS: '200',
      LOG_LEVEL: 'info',
      MIGRATE_ON_START: 'false',
      SCHEDULER_ENABLED: 'false',
      API_KEYS: JSON.stringify([{ name: 'chaos', scopes: ['admin'], sha256: hashKey(KEY) }]),
      DATA_DIR: join(tmp, 'data'), // one blob store for every process: archives built by a worker are read by the API
      PORT: String(port),
      HOST: '127.0.0.1'
    })
    const start = (role: string, name: string) => {
      const p = startService(name, env(role))
      procs.push(p)
      return p
    }
    const api = start('api', 'api')
    await api.ready
    const w1 = start('worker', 'worker-1')
    const w2 = start('worker', 'worker-2')
    await Promise.all([w1.ready, w2.ready])
    t.comment(`API (pid ${api.pid}) and workers (pid ${w1.pid}, ${w2.pid}) up (${at()})`)

    // ---- a client that retries as told (503 + Retry-After, or the API briefly unreachable) ------
    const base = `http://127.0.0.1:${port}`
    const answers = new Map<number, number>()
    const acknowledged = new Map<string, number>()
    const submit = async (n: number): Promise<void> => {
      for (let tries = 0; tries < 60; tries++) {
        const res = await fetch(`${base}/v1/requests`, {
          method: 'POST',
          headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json', 'idempotency-key': `chaos-${n}` },
          body: JSON.stringify({ type: typeOf(n), subject: { email: email(n) }, regime: 'gdpr', verification: { method: 'account_login' } })
        }).catch(() => null)
        if (res) answers.set(res.status, (answers.get(res.status) ?? 0) + 1)
        if (res?.status === 202 || res?.status === 200) {
          acknowledged.set(((await res.json()) as { id: string }).id, n)
          return
        }
        await sleep(res?.status === 503 ? Number(res.headers.get('retry-after') ?? 1) * 1000 : 500)
      }
      throw new Error(`request for subject ${n} never accepted`)
    }
    const subjectsOf = (phase: number) => Array.from({ length: PER_PHASE }, (_, i) => phase * PER_PHASE + i + 1)
    const idsOf = (subjects: number[]) => [...acknowledged].filter(([, n]) => subjects.includes(n)).map(([id]) => id)
    const openRuns = async (pid?: number) => {
      const [row] = await svc!<Array<{ n: number }>>`
        select count(*)::int as n from task_runs where ended_at is null ${pid ? svc!`and split_part(worker, ':', 2) = ${String(pid)}` : svc!``}`
      return row!.n
    }
    const allTerminal = async (ids: string[]) => {
      const [row] = await svc!<Array<{ n: number }>>`select count(*)::int as n from requests where id = any(${ids}::uuid[]) and status::text = any(${TERMINAL})`
      return row!.n === ids.length
    }

    const toTerminal: Record<string, number | null> = {}
    const runPhase = async (phase: number, fault: () => Promise<void>, whileDown?: (subjects: number[]) => Promise<void>) => {
      const subjects = subjectsOf(phase)
      const [early, late] = whileDown ? [subjects.slice(0, PER_PHASE / 2), subjects.slice(PER_PHASE / 2)] : [subjects, []]
      await Promise.all(early.map(submit))
      const faultAt = Date.now()
      await fault()
      if (whileDown) await whileDown(late)
      const ids = idsOf(subjects)
      const ended = await until(() => allTerminal(ids), PHASE_TIMEOUT_MS, `the requests of phase "${PHASES[phase]}" to end`).catch(async () => {
        t.comment(`open: ${JSON.stringify(await svc!`
          select r.id, r.status, (select json_agg(json_build_object('status', k.status, 'attempts', k.attempts, 'lease', k.lease_owner, 'exp', k.lease_expires_at, 'next', k.next_attempt_at))
            from tasks k where k.request_id = r.id) as tasks, now() as now
          from requests r where r.id = any(${ids}::uuid[]) and not (r.status::text = any(${TERMINAL}))`.catch((e: Error) => e.message))}`)
        for (const p of procs) t.comment(`--- ${p.name} (pid ${p.pid}, ${isRunning(p) ? 'running' : 'exited'}):\n${p.lines.filter((l) => !/"(task succeeded|incoming request|request completed|archive ready)"/.test(l)).slice(-15).join('\n')}`)
        return false // reported in the figures, and failed below; the next phase still runs
      })
      toTerminal[PHASES[phase]!] = ended ? (Date.now() - faultAt) / 1000 : null
      t.comment(`${PHASES[phase]}: ${ids.length} requests ${ended ? `terminal ${((Date.now() - faultAt) / 1000).toFixed(1)} s after the fault` : `not all terminal ${PHASE_TIMEOUT_MS / 1000} s after the fault`} (${at()})`)
    }

    // 1. A worker SIGKILLed while it runs a task, and started again.
    await runPhase(0, async () => {
      await until(async () => (await openRuns(w1.pid)) > 0, 30_000, 'worker 1 to be mid-task')
      w1.killedOnPurpose = true
      w1.child.kill('SIGKILL')
      await w1.exited
      start('worker', 'worker-1b')
    })
    // 2. Postgres restarted while tasks run.
    await runPhase(1, async () => {
      await until(async () => (await openRuns()) > 0, 30_000, 'a task to be running')
      pg!.restart()
    })
    // 3. Postgres stopped for 8 s while tasks run, requests still coming in.
    await runPhase(2, async () => {
      await until(async () => (await openRuns()) > 0, 30_000, 'a task to be running')
      pg!.stop()
    }, async (late) => {
      const sent = Promise.all(late.map(submit))
      await sleep(STOP_MS)
      pg!.start()
      await sent
    })

    // ---- archives: every access request's is ready -----------------------------------------------
    const accessIds = [...acknowledged].filter(([, n]) => typeOf(n) === 'access').map(([id]) => id)
    const archivesReady = async () => {
      const [row] = await svc!<Array<{ n: number }>>`select count(*)::int as n from archives where request_id = any(${accessIds}::uuid[]) and status = 'ready'`
      return row!.n
    }
    await until(async () => (await archivesReady()) === accessIds.length, 45_000, 'every archive to be ready').catch(() => {})
    const stuckArchives = accessIds.length - await archivesReady()

    // ---- the figures -------------------------------------------------------------------------------
    const statuses = await svc<Array<{ status: string, n: number }>>`select status::text, count(*)::int as n from requests group by 1 order by 1`
    const stored = statuses.reduce((s, r) => s + r.n, 0)
    const terminal = statuses.filter((r) => TERMINAL.includes(r.status)).reduce((s, r) => s + r.n, 0)
    const [{ n: storedOfAcknowledged } = { n: 0 }] = await svc<Array<{ n: number }>>`select count(*)::int as n from requests where id = any(${[...acknowledged.keys()]}::uuid[])`
    const lost = acknowledged.size - storedOfAcknowledged
    const [deletions] = await shop<Array<{ twice: number, rows: number }>>`
      select (select count(*)::int from (select 1 from shop.deletions group by table_name, row_pk having count(*) > 1) d) as twice,
             (select count(*)::int from shop.deletions) as rows`
    // The service's own account: an erasure task that succeeded more than once erased twice.
    const erasedTwice = await svc<Array<{ id: string }>>`
      select k.id from tasks k join task_runs r on r.task_id = k.id and r.outcome = 'succeeded'
      where k.action = 'erase' group by k.id having count(*) > 1`
    const [left] = await shop<Array<{ n: number }>>`
      select count(*)::int as n from shop.customers where id % 2 = 0`
    const exits = procs.filter((p) => !p.killedOnPurpose && !isRunning(p))
    const figures = {
      requests: SUBJECTS,
      acknowledged: acknowledged.size,
      stored,
      terminal,
      lost,
      doubleErased: erasedTwice.length + deletions!.twice,
      unexpectedExits: exits.length,
      stuckArchives,
      secondsToTerminal: Object.fromEntries(Object.entries(toTerminal).map(([k, v]) => [k, v === null ? null : Number(v.toFixed(1))])),
      byStatus: Object.fromEntries(statuses.map((r) => [r.status, r.n])),
      apiAnswers: Object.fromEntries(answers)
    }
    t.comment(`figures: ${JSON.stringify(figures)} (${at()})`)

    t.equal(acknowledged.size, SUBJECTS, 'every request was acknowledged (after retries as told)')
    t.equal(stored, SUBJECTS, 'stored once each')
    t.equal(terminal, SUBJECTS, 'every request ended')
    t.equal(figures.byStatus.completed, SUBJECTS, 'every request completed')
    t.equal(lost, 0, 'none lost')
    t.equal(figures.doubleErased, 0, 'none erased twice')
    t.equal(left!.n, 0, 'every erasure subject is gone from the shop')
    t.equal(deletions!.rows, (SUBJECTS / 2) * ROWS_PER_SUBJECT, 'each of their rows deleted once, nothing else')
    t.strictSame(exits.map((p) => `${p.name} exited with ${p.child.exitCode}`), [], 'no process exited on its own')
    t.equal(stuckArchives, 0, 'every archive is ready')
    t.notOk(answers.has(500), 'the API never answered 500')
    if (!t.passing()) {
      t.comment(`archives not ready: ${JSON.stringify(await svc`
        select a.request_id, a.status, a.error_code, a.lease_owner, a.lease_expires_at, a.build_attempts, now() as now,
          (select json_agg(json_build_object('state', j.state, 'retry', j.retry_count, 'start_after', j.start_after)) from pgboss.job j
            where j.name = 'dsr_archive' and j.data->>'requestId' = a.request_id::text) as jobs
        from archives a where a.request_id = any(${accessIds}::uuid[]) and a.status <> 'ready'`)}`)
      for (const p of procs) t.comment(`--- ${p.name} (pid ${p.pid}):\n${p.lines.filter((l) => !/"(task succeeded|incoming request|request completed)"/.test(l)).slice(-25).join('\n')}`)
    }
  })
}
