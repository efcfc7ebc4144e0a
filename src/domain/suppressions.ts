import { defaultOptOutPurposes, OPT_OUT_PURPOSES, type CheckPurpose, type OptOutPurpose } from './purposes.js'
import type { RequestType } from './requests.js'

/**
 * When a request puts a person on the suppression list, and what it stops there.
 *
 * - A marketing opt-out, a consent withdrawal and an objection stop their opt-out purposes
 *   (suppressedPurposes) from the moment the person's identity is verified, and for good: an
 *   objection to direct marketing is absolute (GDPR Art 21(3)), and a withdrawn consent stays
 *   withdrawn until it is given again.
 * - A restriction, and an objection while it is weighed (Art 18(1)(d)), stop `processing`, which is
 *   every purpose, from verification until the request's restriction is lifted
 *   (POST /v1/requests/{id}/restriction/lift). Lifting one request's restriction ends only that
 *   request's `processing` entries: another restriction of the same person stays in force.
 * - A request that is rejected or cancelled withdraws its entries.
 */

/** The request types that make suppression entries. */
export const SUPPRESSING_TYPES: readonly RequestType[] = ['restriction', 'objection', 'consent_withdrawal', 'marketing_opt_out']

/** The request types whose `processing` entry lasts until the restriction is lifted. */
export const RESTRICTING_SUPPRESSIONS: readonly RequestType[] = ['restriction', 'objection']

/** What a stored entry ends with. */
export type SuppressionEndReason = 'lifted' | 'rejected' | 'cancelled'

/** A request as far as its purposes go: its type, and the purposes it named (stored as `opt_out_purposes`). */
export interface PurposefulRequest { type: RequestType, optOutPurposes?: readonly string[] | null }

/**
 * The opt-out purposes a request stops. Every reader of a request's purposes goes through here:
 * those it named, else those of its type (defaultOptOutPurposes); none for a type that stops none.
 */
export function suppressedPurposes (request: PurposefulRequest): OptOutPurpose[] {
  const defaults = defaultOptOutPurposes(request.type)
  if (defaults.length === 0) return []
  const named = (request.optOutPurposes ?? []).filter((p): p is OptOutPurpose => (OPT_OUT_PURPOSES as readonly string[]).includes(p))
  return named.length > 0 ? named : defaults
}

/** Every purpose a request's entries stop while in force: its opt-out purposes, and `processing` for a restriction or objection. */
export function entryPurposes (request: PurposefulRequest): CheckPurpose[] {
  const purposes: CheckPurpose[] = RESTRICTING_SUPPRESSIONS.includes(request.type) ? ['processing'] : []
  return [...purposes, ...suppressedPurposes(request)]
}

/** The purposes whose entry suppresses a use for `purpose`: itself, and `processing` (a restriction stops everything). */
export function suppressingPurposes (purpose: CheckPurpose): CheckPurpose[] {
  return purpose === 'processing' ? ['processing'] : ['processing', purpose]
}
