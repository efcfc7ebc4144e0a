import type { Test } from 'tap'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { sql } from 'drizzle-orm'
import { auth, build, requestBody, waitFor } from '../helper.js'
import type { DbHandle } from '../../src/db/client.js'
import { startSmtp } from './smtp.js'

const DAY = 86_400_000
const NEVER = '0 0 1 1 *'
const OTHER_CRONS = ['HEALTH_CRON', 'RETENTION_CRON', 'REDACTION_CRON', 'ARCHIVE_EXPIRY_CRON', 'DEADLINE_CRON', 'ERASURE_PROOF_CRON', 'AUDIT_SEAL_CRON']
const SIGNING = 'k1:verification-timeout-callback-secret-0123'

/**
 * The verification timeout as production runs it: pg-boss cron sends the job every minute, the
 * service's worker takes it from its queue (nothing in the test calls tick()), and a request that
 * has waited in verifying past VERIFICATION_TIMEOUT_DAYS (7) is rejected on the ground
 * identity_not_established, with its status callback, like any other transition.
 */
export async function timeoutScenario (t: Test, on: string, dbh: DbHandle): Promise<void> {
  const smtp = await startSmtp(t)
  const callbacks: Array<Record<string, unknown>> = []
  const receiver = createServer((req, res) => {
    let raw = ''
    req.on('data', (c: Buffer) => { raw += c.toString() })
    req.on('end', () => { callbacks.push(JSON.parse(raw) as Record<string, unknown>); res.writeHead(204).end() })
  })
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { receiver.closeAllConnections(); receiver.close(() => resolve()) }))
  const origin = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`

  const env = {
    SMTP_URL: smtp.url,
    VERIFICATION_CODE_KEY: 'verification-code-key-0123456789abcdef',
    CALLBACK_ALLOWLIST: origin,
    CALLBACK_SIGNING_KEYS: SIGNING,
    CALLBACK_RETRY_BASE_MS: '100',
    TASK_POLL_SECONDS: '0.5'
  }
  // The requests are taken in by an instance without the scheduler, so that they are there before
  // the first tick of the job.
  const intake = await build(t, { dbh, env })
  const create = async () => {
    const res = await intake.inject({ method: 'POST', url: '/v1/requests', headers: auth('writer'), payload: requestBody({ callback_url: `${origin}/cb` }) })
    t.equal(res.statusCode, 202, `${on}: request created`)
    return res.json().id as string
  }
  // Sent 8 days ago and never confirmed; sent just now; never sent (received, waiting for an operator).
  const stale = await create()
  await intake.verificationService.start(stale, 'writer', new Date(Date.now() - 8 * DAY))
  const fresh = await create()
  await intake.verificationService.start(fresh, 'writer')
  const untouched = await create()
  await intake.close()

  const started = Date.now()
  const app = await build(t, {
    dbh,
    env: {
      ...env,
      SCHEDULER_ENABLED: 'true',
      // pg-boss looks for due schedules every second, not every 30 s: the minute's tick comes at once.
      SCHEDULER_CHECK_SECONDS: '1',
      VERIFICATION_TIMEOUT_CRON: '* * * * *',
      ...Object.fromEntries(OTHER_CRONS.map((name) => [name, NEVER]))
    }
  })

  const rejected = await waitFor(async () => {
    const res = await app.inject({ method: 'GET', url: `/v1/requests/${stale}`, headers: auth() })
    const body = res.json() as { status: string, refusal: Record<string, unknown> | null }
    return body.status === 'rejected' ? body : null
  }, 150_000, `${on}: the stale request to be rejected`)
  t.comment(`${on}: rejected ${Math.round((Date.now() - started) / 1000)} s after the service started`)
  t.match(rejected.refusal, { ground: 'identity_not_established', provision: 'GDPR Art 11(2) and 12(6)', by: 'system:verification-timeout' },
    'rejected on the ground identity_not_established')

  const runs = await dbh.rows<{ slot: Date, outcome: string, details: Record<string, number> }>(sql`
    select slot, outcome, details from job_runs where name = 'verification_timeout' and outcome is not null order by slot`)
  const run = runs.find((r) => Number(r.details?.rejected) === 1)
  t.ok(run, `${on}: a run of the verification_timeout job rejected it`)
  t.equal(run?.outcome, 'succeeded')
  t.ok(run && new Date(run.slot).getTime() >= Math.floor(started / 60_000) * 60_000, 'in a minute since the service started: sent by pg-boss cron, not by hand')
  t.equal(runs.reduce((n, r) => n + Number(r.details?.rejected ?? 0), 0), 1, 'once, whatever the number of runs')

  const events = await dbh.rows<{ action: string, from_status: string | null, to_status: string | null }>(sql`
    select action, from_status, to_status from request_events where request_id = ${stale} order by id`)
  t.ok(events.some((e) => e.action === 'transition' && e.from_status === 'verifying' && e.to_status === 'rejected'), 'the rejection is on the trail')
  t.ok(events.some((e) => e.action === 'verification_timed_out'), 'with the timeout')
  const [challenge] = await dbh.rows<{ status: string }>(sql`select status from verification_challenges where request_id = ${stale}`)
  t.equal(challenge?.status, 'timed_out', 'its challenge is closed')

  const callback = await waitFor(async () => callbacks.find((c) => c.request_id === stale && c.status === 'rejected'), 30_000, `${on}: the rejection's callback`)
  t.match(callback, { previous_status: 'verifying', status: 'rejected', refusal: { ground: 'identity_not_established' } }, 'the status callback fired, with the ground')

  for (const [id, status] of [[fresh, 'verifying'], [untouched, 'received']] as const) {
    const res = await app.inject({ method: 'GET', url: `/v1/requests/${id}`, headers: auth() })
    t.equal(res.json().status, status, `${on}: a request ${status === 'verifying' ? 'sent a verification just now' : 'never sent one'} stays ${status}`)
  }
}
