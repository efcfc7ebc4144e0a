import { createHmac } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import type { DbHandle } from '../db/client.js'
import { createDeadlinesRepository } from '../db/repositories/deadlines-repository.js'
import { systemResolver, type HostResolver } from '../transfers/addresses.js'
import { jsonBody, postGuarded, singleUrlTarget } from '../transfers/outbound.js'
import { warnHoldReviews } from './hold-reviews.js'

export type DeadlineKind = 'due_soon' | 'overdue'

type Target = ReturnType<typeof singleUrlTarget>

/** A part of an open request waiting for a managed account's administrator, due within the window or overdue. */
export interface AccountPartDue { request_id: string, type: string, account: string, due_at: string, hours_left: number }

export interface DeadlineEntry {
  id: string
  type: string
  regime: string
  status: string
  /** The deadline the request is judged by: its effective_due_at (the extended date once the extension is taken). */
  due_at: string
  /** Hours until due (positive) or since due (negative), rounded to one decimal. */
  hours_left: number
  /** About a child: listed first, with its internal due date. */
  child: boolean
  internal_due_at: string | null
  /** Since when it waits on the person in `verifying`, its clock running (absent otherwise). */
  waiting_on_subject_since?: string
}

const HOUR = 3_600_000

/** Hours to one decimal, never rounded across zero: a request overdue by a minute reads -0.1, not 0. */
function hoursLeft (due: Date, now: Date): number {
  const hours = (due.getTime() - now.getTime()) / HOUR
  const rounded = Math.round(hours * 10) / 10
  return hours < 0 ? Math.min(rounded, -0.1) : Math.max(rounded, 0)
}

/**
 * Open requests due within `windowHours` of `now`, and those already overdue, by `effective_due_at`.
 * Ids and classification only, no subject identifiers.
 *
 * `effective_due_at` is the statutory `due_at` unless the extension was taken (extension_taken_at,
 * POST /v1/requests/:id/extension), and `extended_due_at` then. Never `extended_due_at` alone:
 * intake fills it in for every regime that allows an extension, as the latest date *if* it is
 * taken; judging by it would warn about a GDPR request two months after its statutory deadline.
 */
export async function findDeadlines (dbh: DbHandle, now: Date, windowHours: number, limit = 1000): Promise<{ due_soon: DeadlineEntry[], overdue: DeadlineEntry[], account_parts: AccountPartDue[] }> {
  const until = new Date(now.getTime() + windowHours * HOUR)
  const repo = createDeadlinesRepository(dbh)
  const [rows, parts] = await Promise.all([repo.dueBy(until, limit), repo.accountPartsDueBy(until, limit)])
  const entries = rows.map((r) => {
    const due = new Date(r.due)
    const entry: DeadlineEntry = {
      id: r.id,
      type: r.type,
      regime: r.regime,
      status: r.status,
      due_at: due.toISOString(),
      hours_left: hoursLeft(due, now),
      child: r.child,
      internal_due_at: r.internal_due === null ? null : new Date(r.internal_due).toISOString()
    }
    if (r.verifying_since !== null && r.verifying_since !== undefined) entry.waiting_on_subject_since = new Date(r.verifying_since).toISOString()
    return entry
  })
  return {
    due_soon: entries.filter((e) => Date.parse(e.due_at) >= now.getTime()),
    overdue: entries.filter((e) => Date.parse(e.due_at) < now.getTime()),
    account_parts: parts.map((p) => {
      const due = new Date(p.due_at)
      return { request_id: p.request_id, type: p.type, account: p.account_id, due_at: due.toISOString(), hours_left: hoursLeft(due, now) }
    })
  }
}

/** `v1=<hex>`: HMAC-SHA256 over `${timestamp}.${body}` with the shared secret. */
export function signWebhook (secret: string, timestamp: string, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`
}

/**
 * How long a claim without a delivery status belongs to the run that made it. Delivery is bounded
 * by a 10 s timeout, so an older one was left by a run that died between claiming and recording
 * the outcome; the next run takes it over instead of never sending that warning.
 */
const CLAIM_LEASE_SECONDS = 300

/** The longest one webhook delivery may take. */
const WEBHOOK_TIMEOUT_MS = 10_000

/** The webhook is never cut short by anything but its timeout. */
const never = new AbortController()

/**
 * The deadline job: for each due-soon or overdue request not yet notified for that kind, claims
 * the (request, kind) row in deadline_notifications and POSTs a signed webhook. A delivery that
 * fails (network, non-2xx) gives the claim back, so the next run tries again; so does a run that
 * dies mid-delivery, once its claim is older than the lease. Without a webhook URL it only counts.
 */
export async function runDeadlineMonitor (deps: {
  dbh: DbHandle
  log: FastifyBaseLogger
  webhookUrl?: string | undefined
  secret?: string | undefined
  warningHours: number
  /** DNS for the webhook's host; the system resolver by default. */
  resolve?: HostResolver
}, now: Date): Promise<Record<string, number>> {
  const deadlines = createDeadlinesRepository(deps.dbh)
  const found = await findDeadlines(deps.dbh, now, deps.warningHours)
  const counts = { due_soon: found.due_soon.length, overdue: found.overdue.length, notified: 0, failed: 0 }
  // The webhook goes through the guard every outbound POST takes: to the address its host was
  // checked to resolve to, and a redirect is an answer (a failed delivery), never followed.
  const target = deps.webhookUrl ? singleUrlTarget(deps.webhookUrl, 'DEADLINE_WEBHOOK_URL', deps.resolve ?? systemResolver) : null
  // Legal holds past their review date: a system event each, and the same webhook.
  const holds = await warnHoldReviews({ dbh: deps.dbh, log: deps.log, post: target ? (body, kind) => postWarning(target, deps, body, kind) : null }, now)
  Object.assign(counts, holds)
  if (!target) return counts
  for (const [kind, list] of [['due_soon', found.due_soon], ['overdue', found.overdue]] as const) {
    for (const entry of list) {
      if (!await deadlines.claimNotification(entry.id, kind, CLAIM_LEASE_SECONDS)) continue
      const body = JSON.stringify({
        event: 'dsr.deadline',
        kind,
        request: { id: entry.id, type: entry.type, regime: entry.regime, status: entry.status, due_at: entry.due_at },
        hours_left: entry.hours_left,
        sent_at: now.toISOString()
      })
      await deliver(entry.id, kind, body)
    }
  }
  // A managed account's part whose administrator has not decided: once due soon, once overdue, per account.
  for (const part of found.account_parts) {
    const kind = `${part.hours_left < 0 ? 'overdue' : 'due_soon'}:account:${part.account}`
    if (!await deadlines.claimNotification(part.request_id, kind, CLAIM_LEASE_SECONDS)) continue
    await deliver(part.request_id, kind, JSON.stringify({
      event: 'dsr.account_part_deadline',
      kind: part.hours_left < 0 ? 'overdue' : 'due_soon',
      request: { id: part.request_id, type: part.type },
      account: part.account,
      due_at: part.due_at,
      hours_left: part.hours_left,
      sent_at: now.toISOString()
    }))
  }
  return counts

  async function deliver (requestId: string, kind: string, body: string): Promise<void> {
    const status = await postWarning(target!, deps, body, kind)
    if (status >= 200 && status < 300) {
      counts.notified++
      await deadlines.markDelivered(requestId, kind, status)
    } else {
      counts.failed++
      await deadlines.releaseClaim(requestId, kind)
    }
  }
}

/** POSTs one signed warning to the deadline webhook; answers the HTTP status, 0 when there was none. */
async function postWarning (target: Target, deps: { log: FastifyBaseLogger, secret?: string | undefined }, body: string, kind: string): Promise<number> {
  const timestamp = String(Math.floor(Date.now() / 1000))
  let status = 0
  try {
    const result = await postGuarded<never>(target, target.url, async () => ({
      ...jsonBody(body),
      headers: {
        'content-type': 'application/json',
        'user-agent': 'dsar-service (deadline webhook)',
        'x-dsr-timestamp': timestamp,
        'x-dsr-signature': deps.secret ? signWebhook(deps.secret, timestamp, body) : 'unsigned'
      },
      idleTimeoutMs: WEBHOOK_TIMEOUT_MS,
      maxDurationMs: WEBHOOK_TIMEOUT_MS,
      signal: never.signal
    }))
    if (result.kind === 'response') {
      status = result.status
      if (status >= 300 && status < 400) deps.log.warn({ kind, status }, 'deadline webhook redirected; redirects are not followed')
    } else {
      deps.log.warn({ kind, reason: result.kind === 'blocked' ? result.status : result.kind === 'error' ? result.reason : 'early' }, 'deadline webhook delivery failed')
    }
  } catch (err) {
    deps.log.warn({ err: { name: (err as Error)?.name }, kind }, 'deadline webhook delivery failed')
  }
  return status
}
