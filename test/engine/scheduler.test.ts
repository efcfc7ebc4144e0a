import t from 'tap'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { sql } from 'drizzle-orm'
import { auth, build, describedFile, requestBody, testDb, waitFor } from '../helper.js'
import { openDb, type DbHandle } from '../../src/db/client.js'
import { archives } from '../../src/db/schema.js'
import { createRegistry } from '../../src/connectors/registry.js'
import { drivers } from '../../connectors/index.js'

type Tap = Parameters<typeof build>[0]

/** Every scheduled job of the service, by name. */
const JOBS = ['archive_expiry', 'audit_seal', 'connector_health', 'deadline_monitor', 'erasure_proof', 'request_redaction', 'retention_sweep', 'verification_timeout']
const DAY = 86_400_000
const ADA = 'ada.lovelace@example.com'
const SECRET = 'scheduler-webhook-secret-0123456789'
// No cron tick lands during the test (the ticks are driven by hand), yet every job has its schedule.
const NEVER = '0 0 1 1 *'
const CRONS = Object.fromEntries(['HEALTH', 'RETENTION', 'ARCHIVE_EXPIRY', 'DEADLINE', 'REDACTION', 'ERASURE_PROOF', 'VERIFICATION_TIMEOUT'].map((job) => [`${job}_CRON`, NEVER]))
const quietLog = { debug () {}, info () {}, warn () {}, error () {} }

/**
 * Each instance's connectors: an in-memory CRM holding Ada, and a Postgres system (in the service's
 * database) whose retention rule deletes rows older than a month. Both are checked every minute.
 */
function connectors (dbh: DbHandle) {
  return createRegistry(describedFile({
    connectors: [
      {
        id: 'crm',
        driver: 'memory',
        health_check_seconds: 60,
        settings: { streams: [{ name: 'contacts', match: { email: 'email' }, records: [{ id: 'crm-1', email: ADA }, { id: 'crm-2', email: 'bob@example.com' }] }] }
      },
      {
        id: 'results',
        driver: 'postgres',
        health_check_seconds: 60,
        settings: {
          url: 'embedded:',
          datasets: [{ name: 'r', tables: [{ table: 'scratch.sent', primary_key: ['id'], identity: [{ column: 'email', kind: 'email' }], erase: 'delete' }] }],
          retention: [{ table: 'scratch.sent', column: 'sent_at', max_age: 'P1M', action: 'delete' }]
        }
      }
    ]
  }), { drivers, env: {}, log: quietLog, serviceDatabase: dbh })
}

/** The deadline webhook's receiver: records `request id:kind` of every delivery. */
async function receiver (t: Tap) {
  const deliveries: string[] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { kind: string, request: { id: string } }
      deliveries.push(`${body.request.id}:${body.kind}`)
      res.writeHead(204).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/dsr`, deliveries }
}

t.test('two instances on one database: every scheduled job runs once per period, and does its work once', async (t) => {
  const dbh = await testDb(t)
  // Real Postgres: a second connection pool, as a second process would have. PGlite is one session in
  // this process, and opening its data directory again gives an independent copy that neither sees
  // the first one's writes nor is seen by it: the second instance can only share the first's handle.
  const dbh2 = dbh.url ? await openDb({ url: dbh.url }) : dbh
  if (dbh2 !== dbh) t.teardown(() => dbh2.close())
  else {
    t.comment('embedded database: PGlite is a single session, and cannot be opened twice on one data directory; ' +
      'both instances share one connection here, so the race between two connections is tested on Postgres only (DATABASE_URL)')
  }
  const hook = await receiver(t)
  // Work for every job. Rows older than a month in the Postgres system (retention_sweep), and both
  // connectors to check (connector_health):
  await dbh.rows(sql.raw('create schema scratch'))
  await dbh.rows(sql.raw('create table scratch.sent (id integer primary key, email text, sent_at timestamptz not null)'))
  await dbh.rows(sql`insert into scratch.sent values
    (1, 'p1@example.com', now() - interval '60 days'), (2, 'p2@example.com', now() - interval '40 days'), (3, 'p3@example.com', now() - interval '5 days')`)

  const env = {
    TASK_POLL_SECONDS: '0.5',
    TASK_RETRY_BASE_MS: '50',
    TASK_LEASE_SECONDS: '5',
    SCHEDULER_ENABLED: 'true',
    DEADLINE_WEBHOOK_URL: hook.url,
    DEADLINE_WEBHOOK_SECRET: SECRET,
    ...CRONS
  }
  const a = await build(t, { dbh, env, registry: await connectors(dbh) })
  const b = await build(t, { dbh: dbh2, env, registry: await connectors(dbh2) })
  t.not(a.engine.worker, b.engine.worker)

  const schedules = await dbh.rows<{ name: string }>(sql`select name from pgboss.schedule order by name`)
  t.strictSame(schedules.map((s) => s.name), JOBS.map((name) => `dsr_cron_${name}`), 'one pg-boss cron schedule per job, however many instances started')
  t.strictSame(a.scheduler.jobs.map((j) => j.name).sort(), JOBS, 'the health, retention, redaction, archive expiry, deadline, erasure-proof, verification-timeout and audit-seal jobs')

  // An open request past its due date (deadline_monitor):
  const create = async (over: Record<string, unknown> = {}) => {
    const res = await a.inject({ method: 'POST', url: '/v1/requests', headers: auth('writer'), payload: requestBody(over) })
    if (res.statusCode !== 202) throw new Error(`create failed: ${res.statusCode} ${res.body}`)
    return res.json().id as string
  }
  const overdue = await create()
  await dbh.rows(sql`update requests set due_at = now() - interval '2 hours' where id = ${overdue}`)
  // A request closed longer ago than REQUEST_IDENTIFIERS_RETENTION_DAYS (90) (request_redaction):
  const closed = await create({ subject: { email: 'grace@example.com' } })
  t.equal((await a.inject({ method: 'POST', url: `/v1/requests/${closed}/cancel`, headers: auth('writer'), payload: { reason: 'withdrawn' } })).statusCode, 200)
  await dbh.rows(sql`update requests set updated_at = now() - interval '100 days' where id = ${closed}`)
  // An archive past its expiry (archive_expiry):
  const archived = await create({ subject: { email: 'alan@example.com' } })
  await dbh.db.insert(archives).values({
    requestId: archived,
    status: 'ready',
    storageKey: `archives/${archived}/old.zip`,
    size: 1,
    sha256: '0'.repeat(64),
    readyAt: new Date(Date.now() - 40 * DAY),
    expiresAt: new Date(Date.now() - DAY)
  })
  // A closed erasure, with a pending tombstone and no receipt yet (erasure_proof):
  const erasure = await create({ type: 'erasure', subject: { email: ADA }, verification: { method: 'account_login' } })
  await waitFor(async () => {
    const [row] = await dbh.rows<{ status: string }>(sql`select status from requests where id = ${erasure}`)
    return row?.status === 'completed'
  }, 60_000, 'the erasure to complete')
  const base = Math.floor(Date.now() / 60_000) * 60_000 + 3_600_000
  const slots = [0, 1, 2, 3, 4].map((i) => new Date(base + i * 60_000))
  let ran = 0
  for (const slot of slots) {
    const results = await Promise.all(JOBS.flatMap((name) => [a.scheduler.tick(name, slot), b.scheduler.tick(name, slot), a.scheduler.tick(name, slot)]))
    for (let i = 0; i < JOBS.length; i++) {
      const trio = results.slice(i * 3, i * 3 + 3)
      t.equal(trio.filter((r) => r.ran).length, 1, `${JOBS[i]} at ${slot.toISOString()}: ran once`)
      ran += trio.filter((r) => r.ran).length
    }
  }
  t.equal(ran, JOBS.length * slots.length)

  const rows = await dbh.rows<{ name: string, slot: Date | string, outcome: string | null, details: Record<string, any> | null }>(sql`
    select name, slot, outcome, details from job_runs order by name, slot`)
  t.strictSame(rows.map((r) => `${r.name} ${new Date(r.slot).toISOString()}`).sort(),
    JOBS.flatMap((name) => slots.map((s) => `${name} ${s.toISOString()}`)).sort(), 'one row per (name, slot), and no other run')
  t.strictSame(rows.filter((r) => r.outcome !== 'succeeded').map((r) => [r.name, r.outcome, r.details]), [], 'each finished, none failed')
  const runs = (name: string) => rows.filter((r) => r.name === name).map((r) => r.details ?? {})
  const total = (name: string, key: string) => runs(name).reduce((n, d) => n + Number(d[key] ?? 0), 0)

  t.ok(runs('connector_health').every((d) => d.checked === 2 && d.ok === 2 && d.down === 0), 'connector_health: both connectors checked, and up, every period')
  t.strictSame(hook.deliveries, [`${overdue}:overdue`], 'deadline_monitor: the overdue request notified once, and nothing else')
  t.equal(total('deadline_monitor', 'notified'), 1)
  t.equal(total('deadline_monitor', 'failed'), 0)
  const [redacted] = await dbh.rows<{ subject: Record<string, unknown>, at: Date | null }>(sql`select subject, identifiers_redacted_at as at from requests where id = ${closed}`)
  t.ok(redacted?.at && Object.keys(redacted.subject).length === 0, 'request_redaction: the long-closed request lost its identifiers')
  t.equal(total('request_redaction', 'redacted'), 1, 'once')
  const [archive] = await dbh.rows<{ status: string }>(sql`select status from archives where request_id = ${archived}`)
  t.equal(archive?.status, 'expired', 'archive_expiry: the expired archive is gone')
  t.equal(total('archive_expiry', 'archives'), 1, 'once')
  const left = await dbh.rows<{ id: number }>(sql`select id from scratch.sent order by id`)
  t.strictSame(left.map((r) => Number(r.id)), [3], 'retention_sweep: the rows older than a month are deleted')
  t.ok(runs('retention_sweep').every((d) => Array.isArray(d.failed) && d.failed.length === 0), 'no connector\'s sweep failed')
  t.equal(runs('retention_sweep').reduce((n, d) => n + Number(d.swept?.results ?? 0), 0), 2, 'deleted once')
  t.equal(total('erasure_proof', 'tombstones_sealed'), 1, 'erasure_proof: the erasure\'s tombstone sealed once')
  t.equal(total('erasure_proof', 'receipts_issued'), 1, 'and its receipt issued once')
  const [receipts] = await dbh.rows<{ n: number }>(sql`select count(*)::int as n from erasure_receipts where request_id = ${erasure}`)
  t.equal(Number(receipts!.n), 1)

  const instances = await dbh.rows<{ instance: string }>(sql`select distinct instance from job_runs`)
  t.ok(instances.every((r) => [a.engine.worker, b.engine.worker].includes(r.instance)))
})
