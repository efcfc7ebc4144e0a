import type { FastifyBaseLogger } from 'fastify'
import type { DbHandle } from '../db/client.js'
import { createOpenDsrRepository, type ClaimedOpenDsrCallback, type OpenDsrCallbackRelease } from '../db/repositories/opendsr-repository.js'
import { nextDelayMs } from '../engine/backoff.js'
import { Errors, JobErrors } from '../errors.js'
import { jsonBody, postGuarded } from '../transfers/outbound.js'
import type { CallbackSettings } from '../callbacks/settings.js'
import { classify, type Outcome } from '../callbacks/sender.js'
import { signatureHeaders } from '../domain/opendsr.js'
import type { OpenDsrSigner } from './signing.js'

/** §8.6: the callback body. Ids, the status and the deadline; nothing about the person. */
export function openDsrCallbackBody (c: Pick<ClaimedOpenDsrCallback, 'controllerId' | 'expectedCompletion' | 'url' | 'subjectRequestId' | 'requestStatus'>): string {
  return JSON.stringify({
    controller_id: c.controllerId,
    expected_completion_time: c.expectedCompletion.toISOString(),
    status_callback_url: c.url,
    subject_request_id: c.subjectRequestId,
    request_status: c.requestStatus
  })
}

/**
 * Sends OpenDSR status callbacks (§8.5, §8.6): takes due rows of the outbox under a lease, checks
 * the URL against CALLBACK_ALLOWLIST again (with DNS and address ranges, as the service's own
 * callbacks are), POSTs the body signed over its exact bytes with the certificate's key
 * (X-OpenDSR-Signature and X-OpenDSR-Processor-Domain, or X-OpenGDPR-* for a request sent by the
 * v1 names), and retries 5xx, 408, 429 and failed connections with backoff up to CALLBACK_MAX_ATTEMPTS.
 */
export function createOpenDsrSender (deps: { dbh: DbHandle, log: FastifyBaseLogger, settings: CallbackSettings, signer: OpenDsrSigner | null, worker: string }) {
  const { settings, worker, signer } = deps
  const repo = createOpenDsrRepository(deps.dbh)
  const leaseMs = settings.timeoutMs * 2 + 30_000
  const stopping = new AbortController()

  async function attempt (c: ClaimedOpenDsrCallback): Promise<Outcome> {
    if (!c.urlKept) return { kind: 'failed', code: Errors.CallbackUrlRemoved.code, message: 'the callback URL was removed with the request\'s personal data' }
    if (!signer) return { kind: 'failed', code: Errors.OpenDsrNotConfigured.code, message: 'no OPENDSR_SIGNING_KEY to sign with' }
    const body = openDsrCallbackBody(c)
    const names = signatureHeaders(c.flavour)
    const result = await postGuarded<never>({ allowList: settings.allowList, setting: 'CALLBACK_ALLOWLIST', resolve: settings.resolve }, new URL(c.url), async () => ({
      ...jsonBody(body),
      headers: {
        'content-type': 'application/json',
        'user-agent': 'dsar-service (OpenDSR status callback)',
        [names.signature.toLowerCase()]: signer.sign(body),
        [names.domain.toLowerCase()]: signer.domain
      },
      idleTimeoutMs: settings.timeoutMs,
      maxDurationMs: settings.timeoutMs,
      signal: stopping.signal
    }))
    if (result.kind === 'blocked') {
      if (result.status === 'not_allowed' || result.status === 'refused') {
        return { kind: 'failed', code: Errors.CallbackUrlNotAllowed.code, message: 'the callback URL is not permitted by CALLBACK_ALLOWLIST' }
      }
      return { kind: 'retry', code: JobErrors.CallbackDns.code, message: "the callback URL's host did not resolve" }
    }
    if (result.kind === 'early') return result.early
    return classify(result)
  }

  async function run (c: ClaimedOpenDsrCallback): Promise<void> {
    const log = deps.log.child({ opendsrCallbackId: c.id, attempt: c.attempt })
    let outcome: Outcome
    try {
      outcome = await attempt(c)
    } catch (err) {
      log.error({ err }, 'OpenDSR callback attempt broke')
      outcome = { kind: 'retry', code: JobErrors.CallbackInternal.code, message: 'unexpected error while sending' }
    }
    const answer = outcome.responseStatus !== undefined ? { responseStatus: outcome.responseStatus } : {}
    let next: OpenDsrCallbackRelease
    if (outcome.kind === 'delivered') {
      next = { status: 'delivered', ...answer }
      log.info({ responseStatus: outcome.responseStatus }, 'OpenDSR callback delivered')
    } else if (outcome.kind === 'retry' && c.attempt < settings.maxAttempts) {
      const delay = nextDelayMs({ attempt: c.attempt, baseMs: settings.retryBaseMs, maxMs: settings.retryMaxMs, retryAfterMs: outcome.retryAfterMs })
      next = { status: 'pending', errorCode: outcome.code, errorMessage: outcome.message, nextAttemptAt: new Date(Date.now() + delay), ...answer }
      log.warn({ code: outcome.code, ...answer, retryInMs: delay }, 'OpenDSR callback attempt failed; retrying')
    } else {
      next = { status: 'failed', errorCode: outcome.code, errorMessage: outcome.message, ...answer }
      log.warn({ code: outcome.code, ...answer }, 'OpenDSR callback failed')
    }
    if (!await repo.release(c.id, worker, next)) log.warn('OpenDSR callback lease lost before its attempt was recorded')
  }

  return {
    async claim (limit: number): Promise<{ jobs: ClaimedOpenDsrCallback[], dueInMs: number | null }> {
      const { claimed, nextDueAt } = await repo.claimDue(worker, limit, leaseMs)
      return { jobs: claimed, dueInMs: nextDueAt ? nextDueAt.getTime() - Date.now() : null }
    },
    run,
    interrupt (): void { stopping.abort() }
  }
}
