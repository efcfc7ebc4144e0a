import type { FastifyBaseLogger } from 'fastify'
import type { DbHandle } from '../db/client.js'
import { createCallbacksRepository, type CallbackRelease, type ClaimedCallback } from '../db/repositories/callbacks-repository.js'
import { nextDelayMs } from '../engine/backoff.js'
import { Errors, JobErrors } from '../errors.js'
import { judgeAnswer, type DeliveryResult } from '../transfers/deliver.js'
import { jsonBody, postGuarded } from '../transfers/outbound.js'
import type { CallbackSettings } from './settings.js'
import { SIGNATURE_HEADER, signatureHeader } from './signature.js'

/** One attempt's verdict. */
export type Outcome =
  | { kind: 'delivered', responseStatus: number }
  | { kind: 'retry' | 'failed', code: string, message: string, responseStatus?: number, retryAfterMs?: number }

/**
 * What a receiver is sent: ids and statuses, nothing personal (no subject, no requester, no notes);
 * a rejection adds its legal ground and provision (not the explanation written for the person); a
 * managed account's notice (`account.instruction_requested`) names the account.
 * `delivery_id` is the same on every attempt and redelivery of one status change.
 */
export function callbackBody (d: Pick<ClaimedCallback, 'id' | 'requestId' | 'event' | 'toStatus' | 'fromStatus' | 'at' | 'requestType' | 'refusal'> & { account?: string | null }): string {
  return JSON.stringify({
    event: d.event,
    delivery_id: d.id,
    request_id: d.requestId,
    ...(d.account ? { account: d.account } : {}),
    type: d.requestType,
    status: d.toStatus,
    previous_status: d.fromStatus,
    at: d.at.toISOString(),
    ...(d.toStatus === 'rejected' && d.refusal ? { refusal: d.refusal } : {})
  })
}

/**
 * Sends status callbacks: takes due deliveries from the outbox (each under a lease), checks the
 * request's callback_url again (allow-list, DNS, address ranges: the transfers' guard), POSTs the
 * signed JSON to the checked address, and records the attempt. 5xx, 408, 429 and failed
 * connections are tried again with exponential backoff and jitter (or after Retry-After), up to
 * CALLBACK_MAX_ATTEMPTS; other 4xx and redirects (never followed) fail the delivery at once.
 */
export function createCallbackSender (deps: { dbh: DbHandle, log: FastifyBaseLogger, settings: CallbackSettings, worker: string }) {
  const { settings, worker } = deps
  const repo = createCallbacksRepository(deps.dbh)
  // An attempt takes at most timeoutMs; the lease outlives it, so only a stopped worker loses one.
  const leaseMs = settings.timeoutMs * 2 + 30_000
  const stopping = new AbortController()

  async function attempt (d: ClaimedCallback): Promise<Outcome> {
    if (d.callbackUrl === null) return { kind: 'failed', code: Errors.CallbackUrlRemoved.code, message: 'the request no longer has a callback_url' }
    const key = settings.keys[0]
    if (!key) return { kind: 'failed', code: Errors.CallbackUrlNotAllowed.code, message: 'no CALLBACK_SIGNING_KEYS to sign with' }
    const body = callbackBody(d)
    const result = await postGuarded<never>({ allowList: settings.allowList, setting: 'CALLBACK_ALLOWLIST', resolve: settings.resolve }, new URL(d.callbackUrl), async () => ({
      ...jsonBody(body),
      headers: {
        'content-type': 'application/json',
        'user-agent': 'dsar-service (status callback)',
        [SIGNATURE_HEADER]: signatureHeader(key, body),
        'dsr-delivery-id': d.id,
        'idempotency-key': d.id
      },
      idleTimeoutMs: settings.timeoutMs,
      maxDurationMs: settings.timeoutMs,
      signal: stopping.signal
    }))
    // The messages name no host: the delivery log outlives the callback_url, which redaction removes.
    if (result.kind === 'blocked') {
      if (result.status === 'not_allowed') return { kind: 'failed', code: Errors.CallbackUrlNotAllowed.code, message: 'the callback_url is no longer in CALLBACK_ALLOWLIST' }
      if (result.status === 'refused') {
        return { kind: 'failed', code: Errors.CallbackUrlNotAllowed.code, message: "the callback_url's host resolves to an address CALLBACK_ALLOWLIST does not permit" }
      }
      return { kind: 'retry', code: JobErrors.CallbackDns.code, message: "the callback_url's host did not resolve" }
    }
    if (result.kind === 'early') return result.early
    return classify(result)
  }

  async function run (d: ClaimedCallback): Promise<void> {
    const log = deps.log.child({ deliveryId: d.id, requestId: d.requestId, attempt: d.attempt })
    let outcome: Outcome
    try {
      outcome = await attempt(d)
    } catch (err) {
      log.error({ err }, 'callback attempt broke')
      outcome = { kind: 'retry', code: JobErrors.CallbackInternal.code, message: 'unexpected error while sending' }
    }
    const answer = outcome.responseStatus !== undefined ? { responseStatus: outcome.responseStatus } : {}
    let next: CallbackRelease
    if (outcome.kind === 'delivered') {
      next = { status: 'delivered', outcome: 'delivered', ...answer }
      log.info({ responseStatus: outcome.responseStatus }, 'status callback delivered')
    } else if (outcome.kind === 'retry' && d.roundAttempt < settings.maxAttempts) {
      const delay = nextDelayMs({ attempt: d.roundAttempt, baseMs: settings.retryBaseMs, maxMs: settings.retryMaxMs, retryAfterMs: outcome.retryAfterMs })
      next = { status: 'pending', outcome: 'retry', errorCode: outcome.code, errorMessage: outcome.message, nextAttemptAt: new Date(Date.now() + delay), ...answer }
      log.warn({ code: outcome.code, ...answer, retryInMs: delay }, 'status callback attempt failed; retrying')
    } else {
      next = { status: 'failed', outcome: 'failed', errorCode: outcome.code, errorMessage: outcome.message, ...answer }
      log.warn({ code: outcome.code, ...answer }, 'status callback failed')
    }
    if (!await repo.release(d, worker, next)) log.warn('status callback lease lost before its attempt was recorded')
  }

  return {
    /** Takes up to `limit` due deliveries; with how long until the next one not yet due. */
    async claim (limit: number): Promise<{ jobs: ClaimedCallback[], dueInMs: number | null }> {
      const { claimed, nextDueAt } = await repo.claimDue(worker, limit, leaseMs)
      return { jobs: claimed, dueInMs: nextDueAt ? nextDueAt.getTime() - Date.now() : null }
    },
    run,
    /** Cuts the attempts under way (recorded as retries: the worker is stopping). */
    interrupt (): void {
      stopping.abort()
    }
  }
}

export type CallbackSender = ReturnType<typeof createCallbackSender>

/** A receiver's answer, or the lack of one, as an outcome. */
export function classify (result: DeliveryResult): Outcome {
  if (result.kind === 'error') return { kind: 'retry', code: JobErrors.CallbackConnection.code, message: result.message }
  const { status } = result
  const verdict = judgeAnswer(status)
  if (verdict.kind === 'ok') return { kind: 'delivered', responseStatus: status }
  const codes = {
    rate_limited: JobErrors.CallbackRateLimited.code,
    timeout: JobErrors.CallbackTimeout.code,
    receiver_error: JobErrors.CallbackReceiverError.code,
    rejected: JobErrors.CallbackRejected.code,
    redirect: JobErrors.CallbackRedirect.code
  } as const
  const retryAfter = verdict.kind === 'retry' && result.retryAfterMs !== undefined ? { retryAfterMs: result.retryAfterMs } : {}
  const message = verdict.reason === 'redirect'
    ? `the receiver redirected (${status}); redirects are not followed`
    : `the receiver answered ${status}`
  return { kind: verdict.kind, code: codes[verdict.reason], message, responseStatus: status, ...retryAfter }
}
