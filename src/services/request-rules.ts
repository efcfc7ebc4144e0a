import { createHash } from 'node:crypto'
import { stringify } from 'safe-stable-stringify'
import { validationError, type ErrorDetail } from '../errors.js'
import type { RequestRow } from '../db/repositories/requests-repository.js'
import type { StoredSubject } from '../db/schema.js'
import type { CreateRequest } from '../schemas/requests.js'
import { defaultOptOutPurposes, OPT_OUT_PURPOSES, OPT_OUT_REQUEST_TYPES, stopsPurposes, type OptOutPurpose } from '../domain/purposes.js'

/** The rules a new request, and what staff say of one, are checked by beyond its JSON Schema (requests-service.ts). */

/** How far ahead of our clock a client's `received_at` may be before it counts as "in the future". */
const CLOCK_SKEW_MS = 60_000

export function sha256Hex (value: string): string {
  return createHash('sha256').update(value).digest('hex')
}

/** When the person was told of something: not in the future (beyond clock skew), not before the request was received. */
export function checkNotifiedAt (notifiedSubjectAt: Date, receivedAt: Date, at: Date, why = ''): void {
  if (notifiedSubjectAt.getTime() > at.getTime() + CLOCK_SKEW_MS) {
    throw validationError([{ in: 'body', field: '/notified_subject_at', message: `must not be in the future${why}` }])
  }
  if (notifiedSubjectAt.getTime() < receivedAt.getTime()) {
    throw validationError([{ in: 'body', field: '/notified_subject_at', message: 'must not be before the request was received' }])
  }
}

/** E-mails are trimmed and lower-cased; phones keep only `+` and digits (E.164). */
export function normaliseSubject (s: CreateRequest['subject']): StoredSubject {
  const out: StoredSubject = { ...s }
  if (s.email !== undefined) out.email = s.email.trim().toLowerCase()
  if (s.phone !== undefined) out.phone = '+' + s.phone.replace(/[^0-9]/g, '')
  return out
}

/** Rules that span several fields, beyond what the JSON Schema expresses. */
export function checkRequest (input: CreateRequest, subject: StoredSubject, receivedAt: Date, at: Date, earliest: Date | undefined, childProblem: string | null): void {
  const details: ErrorDetail[] = []
  const bad = (field: string, message: string) => details.push({ in: 'body', field, message })
  if (childProblem) bad('/child', childProblem)
  if (receivedAt.getTime() > at.getTime() + CLOCK_SKEW_MS) bad('/received_at', 'must not be in the future')
  if (earliest && receivedAt.getTime() < earliest.getTime()) bad('/received_at', `must not be before ${earliest.toISOString()} (RECEIVED_AT_EARLIEST)`)
  if (subject.phone !== undefined && !/^\+[1-9][0-9]{6,14}$/.test(subject.phone)) bad('/subject/phone', 'must have 7 to 15 digits')
  if (subject.email && subject.email_sha256 && sha256Hex(subject.email) !== subject.email_sha256) {
    bad('/subject/email_sha256', 'does not match the SHA-256 of /subject/email')
  }
  if (subject.phone && subject.phone_sha256 && sha256Hex(subject.phone) !== subject.phone_sha256) {
    bad('/subject/phone_sha256', 'does not match the SHA-256 of /subject/phone')
  }
  if (input.type === 'rectification' && !input.changes) bad('/changes', 'is required for a rectification request')
  if (input.type !== 'rectification' && input.changes) bad('/changes', 'is only allowed for a rectification request')
  if (input.purposes && !stopsPurposes(input.type)) bad('/purposes', `is only allowed for a ${OPT_OUT_REQUEST_TYPES.join(', ')} request`)
  const requester = input.requester
  if (requester && requester.kind !== 'subject' && !requester.name && !requester.email) {
    bad('/requester', 'must name the person acting for the subject (name or email)')
  }
  if (details.length > 0) throw validationError(details)
}

/** The purposes a new request stops: those it names (in the catalogue's order), or its type's default; none for other types. */
export function requestPurposes (input: Pick<CreateRequest, 'type' | 'purposes'>): OptOutPurpose[] {
  if (!stopsPurposes(input.type)) return []
  const asked = input.purposes as OptOutPurpose[] | undefined
  return asked ? OPT_OUT_PURPOSES.filter((p) => asked.includes(p)) : defaultOptOutPurposes(input.type)
}

/**
 * Whether a duplicate asks only what the open request already asks, so that it can be answered with
 * it (merge): the same changes (rectification), no purpose it does not stop (opt-outs), and no callback other than the open one's. One that
 * asks more is stored as a request of its own, linked to the open one, so that nothing it asks is lost.
 */
export function asksNothingNew (input: CreateRequest, open: RequestRow): boolean {
  const sameChanges = stringify(input.changes ?? null) === stringify(open.changes ?? null)
  const samePurposes = requestPurposes(input).every((p) => open.optOutPurposes.includes(p))
  const sameCallback = input.callback_url === undefined || input.callback_url === open.callbackUrl
  // A verified duplicate of a request still waiting for verification would lose its verification.
  const noNewVerification = input.verification === undefined || !['received', 'verifying'].includes(open.status)
  return sameChanges && samePurposes && sameCallback && noNewVerification
}

export function fingerprint (input: CreateRequest): string {
  return sha256Hex(stringify(input) ?? '')
}

export function regimeLabel (regime: string): string {
  return regime.toUpperCase().replace(/_/g, ' ')
}
