import type { Test } from 'tap'
import { createHmac } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { sql } from 'drizzle-orm'
import { auth, build, waitFor } from '../helper.js'
import { createRegistry, readConnectorFile } from '../../src/connectors/registry.js'
import { ensureSampleData, SAMPLE_ACCOUNTS_FILE, SAMPLE_CONNECTORS_FILE } from '../../src/connectors/samples.js'
import { loadAccounts, readAccountsFile } from '../../src/connectors/accounts-file.js'
import { startSmtp } from '../verification/smtp.js'
import { drivers } from '../../connectors/index.js'
import type { DbHandle } from '../../src/db/client.js'

const SECRET = 'cron-webhook-secret-0123456789abcdef'
const quietLog = { debug () {}, info () {}, warn () {}, error () {} }
const EVERY_MINUTE = '* * * * *'
const CRONS = ['HEALTH_CRON', 'RETENTION_CRON', 'REDACTION_CRON', 'ARCHIVE_EXPIRY_CRON', 'DEADLINE_CRON', 'ERASURE_PROOF_CRON', 'VERIFICATION_TIMEOUT_CRON', 'AUDIT_SEAL_CRON']

/**
 * The scheduled jobs as production runs them: pg-boss cron sends each job, the service's workers
 * take it from its queue, and nothing in the test calls tick(). Every job is scheduled every
 * minute, and pg-boss looks for due schedules every second (SCHEDULER_CHECK_SECONDS=1, not the
 * 30 s of production): it sends the current minute's tick within seconds of the start, and the
 * 3-minute limit leaves room for a second period. The request the jobs act on is there before the
 * scheduling instance starts: the first tick of every job sees it.
 */
export async function cronScenario (t: Test, on: string, dbh: DbHandle): Promise<void> {
  t.comment(`${on}: starting`)
  const deliveries: Array<{ headers: Record<string, unknown>, raw: string }> = []
  const receiver = createServer((req, res) => {
    let raw = ''
    req.on('data', (c: Buffer) => { raw += c.toString() })
    req.on('end', () => { deliveries.push({ headers: req.headers, raw }); res.writeHead(204).end() })
  })
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => receiver.close(resolve)))

  await ensureSampleData(dbh)
  // One recipient address sent today (kept), beside the seed's, all sent in 2024 (older than a month).
  await dbh.rows(sql`insert into sample_test_results.result_recipients values (99, 2, 'fresh@example.com', now())`)
  const registry = await createRegistry(readConnectorFile(SAMPLE_CONNECTORS_FILE), { drivers, env: {}, log: quietLog, serviceDatabase: dbh })
  const smtp = await startSmtp(t)
  const env = {
    TASK_POLL_SECONDS: '0.5',
    SMTP_URL: smtp.url,
    DEADLINE_WEBHOOK_URL: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/deadlines`,
    DEADLINE_WEBHOOK_SECRET: SECRET,
    ...Object.fromEntries(CRONS.map((name) => [name, EVERY_MINUTE]))
  }
  // An e-mailed request received in 2025, identity never checked: long overdue. It is taken in by an
  // instance without the scheduler, so that it is there before the first tick of any job.
  const intake = await build(t, { dbh, registry, env })
  const created = await intake.inject({
    method: 'POST',
    url: '/v1/requests',
    headers: auth(),
    payload: { type: 'access', regime: 'gdpr', channel: 'email', received_at: '2025-01-06T09:00:00Z', subject: { email: 'grace@example.com' } }
  })
  t.equal(created.statusCode, 202)
  const requestId = created.json().id as string
  await intake.close()
  // A part of a managed account whose administrators were never told (the relay was down through
  // every retry of the job that routed it, an hour ago): the deadline job tells them.
  await loadAccounts(dbh, readAccountsFile(SAMPLE_ACCOUNTS_FILE))
  await dbh.rows(sql`insert into request_accounts (request_id, account_id, connectors, due_at, created_at)
    values (${requestId}, 'northwind', array['crm'], now() + interval '10 days', now() - interval '1 hour')`)

  const started = Date.now()
  const app = await build(t, { dbh, registry, env: { ...env, SCHEDULER_ENABLED: 'true', SCHEDULER_CHECK_SECONDS: '1' } })

  const names = app.scheduler.jobs.map((j) => j.name).sort()
  t.strictSame(names, ['archive_expiry', 'audit_seal', 'connector_health', 'deadline_monitor', 'erasure_proof', 'request_redaction', 'retention_sweep', 'verification_timeout'])
  const runs = await waitFor(async () => {
    const rows = await dbh.rows<{ name: string, slot: Date, outcome: string | null, details: Record<string, unknown> | null }>(sql`
      select name, slot, outcome, details from job_runs order by id`)
    const succeeded = new Set(rows.filter((r) => r.outcome === 'succeeded').map((r) => r.name))
    return names.every((n) => succeeded.has(n)) ? rows : null
  }, 180_000, 'a succeeded run of every scheduled job')
  t.ok(Date.now() - started < 180_000, `${on}: every job succeeded ${Math.round((Date.now() - started) / 1000)} s after start`)
  t.strictSame(runs.filter((r) => r.outcome === 'failed'), [], 'no run failed')
  t.ok(runs.every((r) => r.slot instanceof Date && r.slot.getTime() % 60_000 === 0), 'slots are whole minutes, read back as Dates')
  t.ok(runs.every((r) => r.slot.getTime() >= Math.floor(started / 60_000) * 60_000), 'every slot is a minute since the service started: sent by cron, not by hand')

  // The test-result store's recipient addresses older than one month are gone, counted in system_events.
  const left = await dbh.rows<{ id: number }>(sql`select id from sample_test_results.result_recipients order by id`)
  t.strictSame(left.map((r) => Number(r.id)), [99], 'only the address sent today is left')
  const sweeps = await dbh.rows<{ details: Record<string, unknown> }>(sql`
    select details from system_events where action = 'retention_sweep' and details->>'connector' = 'test_results' order by id`)
  t.match(sweeps[0]?.details, { connector: 'test_results', dry_run: false, total: 3, tables: { 'sample_test_results.result_recipients': { action: 'delete', rows: 3 } } },
    'the sweep recorded how many rows it deleted')

  // The overdue request's deadline webhook reached the receiver, signed.
  const delivery = await waitFor(async () => deliveries.find((d) => d.raw.includes(requestId)), 130_000, 'the overdue webhook')
  const ts = String(delivery.headers['x-dsr-timestamp'])
  t.equal(delivery.headers['x-dsr-signature'], `v1=${createHmac('sha256', SECRET).update(`${ts}.${delivery.raw}`).digest('hex')}`, 'signed with the shared secret')
  const body = JSON.parse(delivery.raw) as { requests?: Array<{ id: string, kind?: string }> } & Record<string, unknown>
  t.ok(JSON.stringify(body).includes('overdue'), 'it reports the request as overdue')
  t.notOk(delivery.raw.includes('grace@'), 'no identifier in the webhook')

  // The deadline job told the managed account's administrators and the person, once.
  const monitor = runs.find((r) => r.name === 'deadline_monitor' && r.outcome === 'succeeded')!
  t.match(monitor.details, { untold_told: 1, untold_failed: 0 }, `${on}: the deadline job told the untold part`)
  const told = await waitFor(async () => smtp.received.length >= 2 ? smtp.received : null, 30_000, 'the notices')
  t.strictSame(told.map((m) => m.to[0]).sort(), ['grace@example.com', 'it-admin@northwind.example'], 'the administrator and the person')

  // The audit_seal run sealed the request's events into the chain and signed its head with the receipt key.
  const seal = runs.find((r) => r.name === 'audit_seal' && r.outcome === 'succeeded')!
  t.ok(Number(seal.details?.sealed) > 0, `${on}: the audit seal job sealed ${String(seal.details?.sealed)} events`)
  t.equal(seal.details?.signed, true, 'and signed the head')
  const audit = (await app.inject({ url: '/v1/audit/verify', headers: auth() })).json()
  t.match(audit, { ok: true, first_break: null, signed_head: { verified: true } }, `${on}: the trail verifies under the head the job signed`)
  t.ok(audit.signed_head.position >= Number(seal.details?.head_position), 'the latest head is at or past the first run\'s')
}
