import { randomBytes, randomUUID } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import type { DbHandle, TxHandle } from '../db/client.js'
import type { RequestsRepository } from '../db/repositories/requests-repository.js'
import type { ChallengeRow, VerificationRepository } from '../db/repositories/verification-repository.js'
import { refusalProvision } from '../domain/refusal-grounds.js'
import { hashCode, hashToken, newSecrets, sameHash, type ChallengeStatus } from '../domain/verification-codes.js'
import { wholeDaysBetween } from '../domain/deadlines.js'
import { startWaitIn } from '../engine/verification-clock.js'
import { Errors } from '../errors.js'
import type { Language } from '../connectors/texts.js'
import type { Notifier } from '../notify/notifier.js'
import { NotifierError } from '../notify/notifier.js'
import type { FulfilmentService } from './fulfilment-service.js'

/** The actor of the timeout job's rejections. */
export const TIMEOUT_ACTOR = 'system:verification-timeout'
const MINUTE = 60_000
const DAY = 86_400_000

export interface ChallengeView { request_id: string, challenge_id: string, channel: 'email', status: ChallengeStatus, expires_at: string, attempts: number, max_attempts: number }

const view = (c: ChallengeRow): ChallengeView => ({
  request_id: c.requestId,
  challenge_id: c.id,
  channel: 'email',
  status: c.status as ChallengeStatus,
  expires_at: c.expiresAt.toISOString(),
  attempts: c.attempts,
  max_attempts: c.maxAttempts
})

/** A code or link was checked: what to answer (the outcome is committed before any refusal is thrown). */
type Checked =
  | { status: 'confirmed', challenge: ChallengeRow }
  | { status: 'wrong', left: number }
  | { status: 'locked' | 'expired' | 'not_started' | 'invalid' }

/**
 * Identity verification run by the service: a one-time code and a one-time link, e-mailed to the
 * subject's address through the notifier. The request waits in `verifying` (its clock paused where
 * the regime allows, verification-clock.ts); the right code (by an operator's support tool) or the
 * link (by the person) ends the wait and starts fulfilment through the same path as an attested
 * verification (fulfilment verifyIn). Every step is audited on the request, never the code or token.
 */
export function createVerificationService (deps: {
  dbh: DbHandle
  repo: VerificationRepository
  requests: RequestsRepository
  fulfilment: Pick<FulfilmentService, 'verifyIn'>
  /** Null where no relay is configured: starting is then refused (DSR_NOTIFIER_NOT_CONFIGURED). */
  notifier: Notifier | null
  /** Keys the codes' HMAC; without VERIFICATION_CODE_KEY one made for this process (open codes die with it). */
  codeKey: string | undefined
  publicUrl: string
  ttlMinutes: number
  maxAttempts: number
  timeoutDays: number
  log: FastifyBaseLogger
}) {
  const { dbh, repo, requests } = deps
  const key = deps.codeKey ?? randomBytes(32).toString('base64')

  /** Checks what was presented against `challenge` in the caller's transaction; a wrong code is counted, a right one confirms and plans. */
  async function check (
    challenge: ChallengeRow | null, presented: { code: string } | { tokenHash: string }, actor: string, at: Date, tx: TxHandle
  ): Promise<Checked> {
    if (!challenge) return { status: 'not_started' }
    if (challenge.status === 'locked') return { status: 'locked' }
    if (challenge.status !== 'open') return { status: 'code' in presented ? 'not_started' : 'invalid' }
    const via = 'code' in presented ? 'code' : 'link'
    if (challenge.expiresAt.getTime() <= at.getTime()) {
      await requests.recordEvent(challenge.requestId, actor, 'verification_refused', 'expired', { challenge_id: challenge.id, via }, tx)
      return { status: 'expired' }
    }
    const right = 'code' in presented
      ? sameHash(hashCode(key, challenge.id, presented.code), challenge.codeHash)
      : sameHash(presented.tokenHash, challenge.tokenHash)
    if (!right) {
      const counted = await repo.countWrongCode(challenge.id, at, tx)
      const locked = counted.status === 'locked'
      await requests.recordEvent(challenge.requestId, actor, locked ? 'verification_locked' : 'verification_code_wrong', null,
        { challenge_id: challenge.id, attempts: counted.attempts, max_attempts: counted.maxAttempts }, tx)
      return locked ? { status: 'locked' } : { status: 'wrong', left: counted.maxAttempts - counted.attempts }
    }
    await repo.closeOpen(challenge.requestId, 'confirmed', at, tx)
    await requests.recordEvent(challenge.requestId, actor, 'verification_confirmed', null, { challenge_id: challenge.id, via }, tx)
    await deps.fulfilment.verifyIn(challenge.requestId, actor, `email_${via}`, tx, at)
    return { status: 'confirmed', challenge }
  }

  function answer (checked: Checked): string {
    switch (checked.status) {
      case 'confirmed': return checked.challenge.requestId
      case 'wrong': throw new Errors.VerificationCodeWrong(checked.left)
      case 'locked': throw new Errors.VerificationLocked()
      case 'expired': throw new Errors.VerificationExpired()
      case 'not_started': throw new Errors.VerificationNotStarted()
      case 'invalid': throw new Errors.VerificationLinkInvalid()
    }
  }

  return {
    configured: deps.notifier !== null,

    /**
     * Sends a new code and link to the subject's e-mail address, replacing any open challenge (a
     * locked one is restarted this way, by an operator: audited with what it replaces). The request
     * moves to `verifying` if it was `received`. Committed before the e-mail is sent; a relay that
     * refuses it is recorded (`verification_send_failed`) and answered DSR_NOTIFIER_FAILED.
     */
    async start (requestId: string, actor: string, at: Date = new Date(), via: LinkOptions = {}): Promise<ChallengeView> {
      const notifier = deps.notifier
      if (!notifier) throw new Errors.NotifierNotConfigured()
      const { code, token } = newSecrets()
      const { challenge, email } = await dbh.transaction(async (tx) => {
        const row = await repo.lockRequest(requestId, tx)
        if (!row) throw new Errors.RequestNotFound(requestId)
        if (row.status !== 'received' && row.status !== 'verifying') throw new Errors.IllegalTransition(row.status, 'verifying')
        const email = row.subject.email
        if (typeof email !== 'string' || email.length === 0) throw new Errors.VerificationNoEmail()
        const previous = await repo.latest(requestId, tx)
        if (previous?.status === 'open') await repo.closeOpen(requestId, 'superseded', at, tx)
        if (row.status === 'received') {
          await requests.transitionFrom(row, 'verifying', actor, 'identity verification sent (email)', { channel: 'email' }, tx)
        }
        await startWaitIn(row, at, actor, repo, tx)
        const id = randomUUID()
        const challenge: ChallengeRow = {
          id,
          requestId,
          channel: 'email',
          codeHash: hashCode(key, id, code),
          tokenHash: hashToken(token),
          expiresAt: new Date(at.getTime() + deps.ttlMinutes * MINUTE),
          attempts: 0,
          maxAttempts: deps.maxAttempts,
          status: 'open',
          createdBy: actor,
          createdAt: at,
          closedAt: null
        }
        await repo.insert(challenge, tx)
        await requests.recordEvent(requestId, actor, previous ? 'verification_restarted' : 'verification_started', null, {
          challenge_id: id,
          channel: 'email',
          notifier: notifier.name,
          expires_at: challenge.expiresAt.toISOString(),
          max_attempts: deps.maxAttempts,
          ...(previous ? { replaces: { challenge_id: previous.id, status: previous.status === 'open' ? 'superseded' : previous.status } } : {})
        }, tx)
        return { challenge, email }
      })
      try {
        const link = `${deps.publicUrl}${via.path ?? '/v1/verification-links'}?token=${token}${via.query ?? ''}`
        await notifier.send({ to: email, ...verificationMessage(code, link, challenge.expiresAt, via.language) })
      } catch (err) {
        const reason = err instanceof NotifierError ? err.reason : 'error'
        deps.log.warn({ requestId, challengeId: challenge.id, reason }, 'verification e-mail not sent')
        await requests.recordEvent(requestId, actor, 'verification_send_failed', null, { challenge_id: challenge.id, reason })
        throw new Errors.NotifierFailed(reason)
      }
      await requests.recordEvent(requestId, actor, 'verification_sent', null, { challenge_id: challenge.id, notifier: notifier.name })
      return view(challenge)
    },

    /** The code the person read out or typed into a support tool; returns the request id once confirmed. */
    async confirmCode (requestId: string, code: string, actor: string, at: Date = new Date()): Promise<string> {
      const checked = await dbh.transaction(async (tx) => {
        const row = await repo.lockRequest(requestId, tx)
        if (!row) throw new Errors.RequestNotFound(requestId)
        return check(await repo.latest(requestId, tx), { code }, actor, at, tx)
      })
      return answer(checked)
    },

    /** The link the person followed (no API key: the token is the authority); returns the request id once confirmed. */
    async confirmLink (token: string, at: Date = new Date()): Promise<string> {
      const tokenHash = hashToken(token)
      const found = await repo.byTokenHash(tokenHash)
      if (!found) throw new Errors.VerificationLinkInvalid()
      const checked = await dbh.transaction(async (tx) => {
        if (!await repo.lockRequest(found.requestId, tx)) return { status: 'invalid' } as const
        const current = await repo.latest(found.requestId, tx)
        return check(current?.id === found.id ? current : { ...found, status: 'superseded' }, { tokenHash }, `link:${found.id}`, at, tx)
      })
      return answer(checked)
    },

    /** The request's challenges are not listed; its latest one, for the operator. Null when none was sent. */
    async latest (requestId: string): Promise<ChallengeView | null> {
      const c = await dbh.transaction((tx) => repo.latest(requestId, tx))
      return c ? view(c) : null
    },

    /**
     * The timeout job: every request that has waited in `verifying` for VERIFICATION_TIMEOUT_DAYS is
     * rejected on the ground identity_not_established, through the one transition path (audit event
     * and status callback with it), its open challenge closed. Each in its own transaction, re-checked
     * under the request's lock, so one confirmed meanwhile is left alone.
     */
    async rejectUnverified (now: Date): Promise<{ rejected: number, skipped: number }> {
      const cutoff = new Date(now.getTime() - deps.timeoutDays * DAY)
      const ids = await repo.waitingSince(cutoff, 500)
      let rejected = 0
      for (const id of ids) {
        const done = await dbh.transaction(async (tx) => {
          const row = await repo.lockRequest(id, tx)
          if (!row || row.status !== 'verifying' || row.verifyingSince === null || row.verifyingSince > cutoff) return false
          const provision = refusalProvision('identity_not_established', row.regime, row.type)
          if (provision === null) return false
          const waited = wholeDaysBetween(row.verifyingSince, now)
          const moved = await requests.transitionFrom(row, 'rejected', TIMEOUT_ACTOR, 'refused: identity_not_established',
            { ground: 'identity_not_established', provision, waited_days: waited }, tx)
          if (moved.status !== 'moved') return false
          await requests.setRefusal(id, {
            ground: 'identity_not_established',
            provision,
            explanation: `Your identity was not confirmed within ${deps.timeoutDays} days of our request to confirm it.`,
            by: TIMEOUT_ACTOR,
            at: now.toISOString()
          }, tx)
          const closed = await repo.closeOpen(id, 'timed_out', now, tx)
          await requests.recordEvent(id, TIMEOUT_ACTOR, 'verification_timed_out', null, { challenge_id: closed, waited_days: waited }, tx)
          return true
        })
        if (done) rejected++
      }
      return { rejected, skipped: ids.length - rejected }
    }
  }
}

/** Where the e-mailed link leads and in which language the e-mail is written: the API's confirmation page in English unless said. */
export interface LinkOptions {
  /** The page the link opens (the privacy centre's own confirmation page), `/v1/verification-links` by default. */
  path?: string
  /** Added after the token, e.g. `&lang=zh-Hans`. */
  query?: string
  language?: Language
}

/** The e-mail: the code, the link, and when both expire. Nothing else about the request or the person. */
export function verificationMessage (code: string, link: string, expiresAt: Date, language: Language = 'en'): { subject: string, text: string } {
  const until = expiresAt.toISOString().slice(0, 16).replace('T', ' ')
  if (language === 'zh-Hans') {
    return {
      subject: '请确认您的个人信息请求',
      text: [
        '我们收到了使用此电子邮件地址提出的个人信息请求。为确认是您本人提出的，请打开以下链接：',
        '',
        link,
        '',
        `或将此验证码告知我们的隐私团队：${code}`,
        '',
        `该链接和验证码只能使用一次，有效期至 ${until} UTC。`,
        '如果这不是您提出的请求，请忽略此邮件：我们不会采取任何行动。',
        '',
        '(English) We received a privacy request made with this e-mail address. To confirm it was you, open the link above, ' +
          `or give this code to our privacy team: ${code}`
      ].join('\n')
    }
  }
  return {
    subject: 'Confirm your privacy request',
    text: [
      'We received a privacy request made with this e-mail address. To confirm it was you, open this link:',
      '',
      link,
      '',
      `or give this code to our privacy team: ${code}`,
      '',
      `The link and the code can be used once, until ${until} UTC.`,
      'If you did not make this request, ignore this message: nothing will be done.'
    ].join('\n')
  }
}

export type VerificationService = ReturnType<typeof createVerificationService>
