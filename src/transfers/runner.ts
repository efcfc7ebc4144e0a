import type { Readable } from 'node:stream'
import type { FastifyBaseLogger } from 'fastify'
import type { DbHandle, TxHandle } from '../db/client.js'
import { createRequestsRepository } from '../db/repositories/requests-repository.js'
import { createTransfersRepository, type TransferRelease, type TransferRow } from '../db/repositories/transfers-repository.js'
import { enqueue as enqueueJobs, transferJob, type Boss } from '../jobs/queue.js'
import { nextDelayMs } from '../engine/backoff.js'
import { holdLease } from '../jobs/lease.js'
import { judgeAnswer, type DeliveryResult } from './deliver.js'
import { postGuarded, type OutboundRequest } from './outbound.js'
import type { TransferSettings } from './settings.js'
import { Errors, JobErrors } from '../errors.js'

/** What the archive module hands out: the plaintext zip as a stream, with its size and SHA-256. */
export type OpenArchive = (requestId: string) => Promise<{ stream: Readable, size: number, sha256: string } | null>

export interface TransferRunnerOptions {
  worker: string
  leaseMs: number
  retryBaseMs: number
  retryMaxMs: number
}

/** One attempt's verdict. */
type Outcome =
  | { kind: 'delivered', responseStatus: number, excerpt: string, sha256: string, bytesSent: number }
  | { kind: 'retry' | 'failed', code: string, message: string, retryAfterMs?: number, responseStatus?: number, excerpt?: string, bytesSent?: number }

/**
 * Delivers transfers: takes a transfer's lease (so it is sent by one worker at a time, and never
 * again once delivered), checks the destination again (allow-list, DNS, address ranges), streams
 * the archive to the checked address, and records the attempt. 5xx, 408, 429, timeouts and dropped
 * connections retry with exponential backoff and jitter, or after the receiver's Retry-After; other
 * 4xx answers and redirects fail at once. When a transfer ends its stored authorization is erased.
 */
export function createTransferRunner (deps: {
  dbh: DbHandle
  boss: Boss
  log: FastifyBaseLogger
  settings: TransferSettings
  openArchive: OpenArchive
  options: TransferRunnerOptions
}) {
  const { settings, options } = deps
  const repo = createTransfersRepository(deps.dbh)
  const requests = createRequestsRepository(deps.dbh)
  const inFlight = new Set<ReturnType<typeof holdLease>>()

  async function enqueue (transferId: string, startAfter: Date | undefined, tx: TxHandle): Promise<void> {
    await enqueueJobs(deps.boss, [transferJob(transferId, settings.maxDurationMs, startAfter)], tx)
  }

  async function run (transferId: string): Promise<void> {
    const transfer = await repo.claim(transferId, options.worker, options.leaseMs)
    if (!transfer) return // delivered, failed, or being sent by a live worker
    const log = deps.log.child({ transferId, requestId: transfer.requestId, attempt: transfer.attempts })
    const lease = holdLease({ leaseMs: options.leaseMs, renew: () => repo.heartbeat(transfer.id, options.worker, options.leaseMs), log })
    inFlight.add(lease)
    const started = Date.now()
    let outcome: Outcome
    try {
      outcome = await attempt(transfer, lease.signal)
    } catch (err) {
      log.error({ err }, 'transfer attempt broke')
      outcome = { kind: 'retry', code: JobErrors.TransferInternal.code, message: 'unexpected error while sending' }
    } finally {
      lease.stop()
      inFlight.delete(lease)
    }
    const ms = Date.now() - started
    if (outcome.kind === 'delivered') log.info({ responseStatus: outcome.responseStatus, bytes: outcome.bytesSent, ms }, 'transfer delivered')
    else log.warn({ code: outcome.code, responseStatus: outcome.responseStatus, ms }, 'transfer attempt failed')
    await settle(transfer, outcome)
  }

  async function attempt (transfer: TransferRow, signal: AbortSignal): Promise<Outcome> {
    const target = { allowList: settings.allowList, setting: 'TRANSFER_ALLOWLIST', resolve: settings.resolve }
    const result = await postGuarded<Outcome>(target, new URL(transfer.destination), () => prepare(transfer, signal))
    if (result.kind === 'blocked') {
      if (result.status === 'not_allowed') return { kind: 'failed', code: Errors.TransferDestinationNotAllowed.code, message: 'the destination is no longer in TRANSFER_ALLOWLIST' }
      if (result.status === 'refused') return { kind: 'failed', code: Errors.TransferDestinationNotAllowed.code, message: result.message }
      return { kind: 'retry', code: JobErrors.TransferDns.code, message: result.message }
    }
    if (result.kind === 'early') return result.early
    return classify(result)
  }

  /** What is sent once the destination passed: the archive, with its headers; or why nothing can be. */
  async function prepare (transfer: TransferRow, signal: AbortSignal): Promise<OutboundRequest | { early: Outcome }> {
    const headers: Record<string, string> = { 'idempotency-key': transfer.id, 'x-dsr-request-id': transfer.requestId }
    if (transfer.authHeaderSealed) {
      const authorization = settings.secretBox?.open(transfer.authHeaderSealed, transfer.id)
      if (!authorization) {
        return { early: { kind: 'failed', code: JobErrors.TransferAuthUnavailable.code, message: 'the stored authorization cannot be decrypted with the configured TRANSFER_SECRET_KEY' } }
      }
      headers.authorization = authorization
    }

    let archive: Awaited<ReturnType<OpenArchive>>
    try {
      archive = await deps.openArchive(transfer.requestId)
    } catch (err) {
      // A stored archive that does not match its row (or cannot be decrypted) will not heal by waiting.
      if (err instanceof JobErrors.ArchiveUnreadable) return { early: { kind: 'failed', code: err.code, message: 'the stored archive cannot be read' } }
      return { early: { kind: 'retry', code: JobErrors.TransferArchiveRead.code, message: 'opening the stored archive failed' } }
    }
    if (!archive) return { early: { kind: 'failed', code: Errors.ArchiveNotReady.code, message: 'the request no longer has a ready archive' } }
    return {
      body: archive.stream,
      size: archive.size,
      sha256: archive.sha256,
      headers,
      idleTimeoutMs: settings.idleTimeoutMs,
      maxDurationMs: settings.maxDurationMs,
      signal
    }
  }

  async function settle (transfer: TransferRow, outcome: Outcome): Promise<void> {
    const answer = {
      ...(outcome.responseStatus !== undefined ? { responseStatus: outcome.responseStatus, responseExcerpt: outcome.excerpt ?? null } : {}),
      bytesSent: outcome.bytesSent ?? null
    }
    let next: TransferRelease
    if (outcome.kind === 'delivered') {
      next = { status: 'delivered', outcome: 'delivered', deliveredSha256: outcome.sha256, ...answer }
    } else if (outcome.kind === 'retry' && transfer.attempts < transfer.maxAttempts) {
      next = { status: 'retry_wait', outcome: 'retry', errorCode: outcome.code, errorMessage: outcome.message, nextAttemptAt: new Date(Date.now() + nextDelayMs({ attempt: transfer.attempts, baseMs: options.retryBaseMs, maxMs: options.retryMaxMs, retryAfterMs: outcome.retryAfterMs })), ...answer }
    } else {
      next = { status: 'failed', outcome: 'failed', errorCode: outcome.code, errorMessage: outcome.message, ...answer }
    }
    await deps.dbh.transaction(async (tx) => {
      if (!await repo.release(transfer, options.worker, next, tx)) return // lease lost: another worker owns it now
      if (next.status === 'retry_wait') {
        await enqueue(transfer.id, next.nextAttemptAt ?? undefined, tx)
        return
      }
      await requests.recordEvent(transfer.requestId, 'engine', `transfer_${next.status}`, next.errorMessage ?? null, {
        transfer_id: transfer.id,
        destination: new URL(transfer.destination).origin,
        attempts: transfer.attempts,
        ...(next.responseStatus !== undefined ? { response_status: next.responseStatus } : {}),
        ...(next.deliveredSha256 ? { sha256: next.deliveredSha256 } : {}),
        ...(next.errorCode ? { error_code: next.errorCode } : {})
      }, tx)
    })
  }

  return {
    repo,
    enqueue,
    run,

    /** Cuts the transfers this process is sending; each is recorded as a retry and queued again. */
    interrupt (): void {
      for (const lease of inFlight) lease.abort()
    },

    /** Transfers whose worker died: queued again, or failed when no attempts are left. */
    async reap (tx: TxHandle): Promise<number> {
      const { retry, failed } = await repo.reapExpired(undefined, tx)
      for (const transfer of retry) await enqueue(transfer.id, undefined, tx)
      for (const transfer of failed) {
        await requests.recordEvent(transfer.requestId, 'engine', 'transfer_failed', transfer.lastErrorMessage, {
          transfer_id: transfer.id, destination: new URL(transfer.destination).origin, attempts: transfer.attempts, error_code: transfer.lastErrorCode
        }, tx)
      }
      return retry.length + failed.length
    }
  }
}

export type TransferRunner = ReturnType<typeof createTransferRunner>

/** A receiver's answer, or the lack of one, as an outcome. */
function classify (result: DeliveryResult): Outcome {
  if (result.kind === 'error') {
    const codes = {
      timeout: JobErrors.TransferTimeout.code,
      connection: JobErrors.TransferConnection.code,
      source: JobErrors.TransferArchiveRead.code,
      aborted: JobErrors.TransferInterrupted.code,
      integrity: JobErrors.TransferIntegrity.code
    } as const
    return { kind: result.reason === 'integrity' ? 'failed' : 'retry', code: codes[result.reason], message: result.message, bytesSent: result.bytesSent }
  }
  const { status } = result
  const answer = { responseStatus: status, excerpt: result.excerpt, bytesSent: result.bytesSent }
  const verdict = judgeAnswer(status)
  if (verdict.kind === 'ok') {
    if (result.bodySent && result.sentSha256) return { kind: 'delivered', sha256: result.sentSha256, ...answer }
    return { kind: 'retry', code: JobErrors.TransferIncomplete.code, message: `the receiver answered ${status} before the whole archive was sent`, ...answer }
  }
  if (verdict.kind === 'failed' && verdict.reason === 'redirect') {
    return {
      kind: 'failed',
      code: JobErrors.TransferRedirect.code,
      message: `the receiver redirected (${status}) to ${result.location ?? 'no Location'}; redirects are not followed: ` +
        'create a transfer to the final destination if it is allow-listed',
      ...answer
    }
  }
  const codes = {
    rate_limited: JobErrors.TransferRateLimited.code,
    timeout: JobErrors.TransferTimeout.code,
    receiver_error: JobErrors.TransferReceiverError.code,
    rejected: JobErrors.TransferRejected.code,
    redirect: JobErrors.TransferRedirect.code
  } as const
  const retryAfter = verdict.kind === 'retry' && result.retryAfterMs !== undefined ? { retryAfterMs: result.retryAfterMs } : {}
  return { kind: verdict.kind, code: codes[verdict.reason], message: `the receiver answered ${status}`, ...retryAfter, ...answer }
}
