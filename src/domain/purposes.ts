import { OPT_OUT_PURPOSE_NAMES } from '../../connectors/types.js'
import type { RequestType } from './requests.js'

/**
 * The purposes a person can stop their data being used for, and that another system names when it
 * asks whether it may process a person (POST /v1/suppressions/check):
 * - `marketing`: direct marketing (newsletters, offers), which a person can always stop (GDPR Art 21(2)-(3));
 * - `partner_sharing`: passing the person's data to partners for their own use;
 * - `profiling`: analysing the person's behaviour (opens, clicks, usage) to tailor what they get.
 * The connector contract names them (connectors ask for no part of the service), and the service
 * takes them from there.
 */
export const OPT_OUT_PURPOSES = OPT_OUT_PURPOSE_NAMES
export type OptOutPurpose = typeof OPT_OUT_PURPOSES[number]

/**
 * What a system can ask about: the purposes above, `transactional` messages the service itself needs
 * (a receipt, a password reset: not marketing, so an opt-out leaves them alone), and `processing`,
 * any other use of the data. A restriction of processing (Art 18) stops every one of them.
 */
export const CHECK_PURPOSES = [...OPT_OUT_PURPOSES, 'transactional', 'processing'] as const
export type CheckPurpose = typeof CHECK_PURPOSES[number]

/** The request types that stop purposes: they may name them (`purposes` on POST /v1/requests); other types may not. */
export const OPT_OUT_REQUEST_TYPES = ['marketing_opt_out', 'consent_withdrawal', 'objection'] as const satisfies readonly RequestType[]

export function stopsPurposes (type: RequestType): boolean {
  return (OPT_OUT_REQUEST_TYPES as readonly RequestType[]).includes(type)
}

/**
 * The purposes a request stops when it names none: a marketing opt-out and an objection stop
 * marketing (an objection to direct marketing is absolute, Art 21(3)); a consent withdrawal stops
 * everything done on consent here (marketing, partner sharing, profiling). Other types stop none.
 */
export function defaultOptOutPurposes (type: RequestType): OptOutPurpose[] {
  switch (type) {
    case 'marketing_opt_out': return ['marketing']
    case 'objection': return ['marketing']
    case 'consent_withdrawal': return [...OPT_OUT_PURPOSES]
    default: return []
  }
}
