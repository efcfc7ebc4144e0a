import type { Regime } from './deadlines.js'
import type { RequestType } from './requests.js'

/**
 * The legal grounds on which a request, or one system's part of it, may be refused. Each ground
 * names, per regime, the provision that allows it; a ground with no provision for a request's
 * regime cannot be used for it. Every refusal also carries an explanation written for the person:
 * the GDPR asks that they be told the reasons and their right to complain (Art 12(4)), and PIPL
 * Art 50 that a rejection state its reasons.
 *
 * Provisions are cited from the statutes as studied for this project (GDPR and UK GDPR Arts 11, 12,
 * 15, 17, 21; Swiss FADP Art 26; CCPA Civ. Code §§1798.105 and 1798.145; LGPD Arts 16 and 18; PIPL
 * Arts 47 and 50). They say where to look; they are not legal advice, and a deployment may narrow
 * the table by policy.
 */
export const REFUSAL_GROUNDS = {
  manifestly_unfounded_or_excessive: {
    title: 'Manifestly unfounded or excessive, in particular because repetitive',
    provisions: {
      gdpr: 'GDPR Art 12(5)(b)',
      uk_gdpr: 'UK GDPR Art 12(5)(b)',
      fadp: 'FADP Art 26(1)(c)',
      ccpa: 'Cal. Civ. Code §1798.145(h)(3)',
      pipl: 'PIPL Art 50 (reasons stated)'
    }
  },
  identity_not_established: {
    title: 'The identity of the person making the request could not be established',
    provisions: {
      gdpr: 'GDPR Art 11(2) and 12(6)',
      uk_gdpr: 'UK GDPR Art 11(2) and 12(6)',
      fadp: 'FADP Art 25(1) (request by the data subject)',
      ccpa: 'Cal. Civ. Code §1798.140 (not a verifiable consumer request)',
      lgpd: 'LGPD Art 18 §4 (reasons stated)',
      pipeda: 'PIPEDA Principle 4.9.2',
      pipl: 'PIPL Art 50 (reasons stated)'
    }
  },
  rights_of_others: {
    title: 'Answering would adversely affect the rights and freedoms of others',
    types: ['access', 'portability'],
    provisions: {
      gdpr: 'GDPR Art 15(4) and 20(4)',
      uk_gdpr: 'UK GDPR Art 15(4) and 20(4)',
      fadp: 'FADP Art 26(1)(b)',
      ccpa: 'Cal. Civ. Code §1798.145(k)',
      pipeda: 'PIPEDA s.9(1)',
      pipl: 'PIPL Art 50 (reasons stated)'
    }
  },
  legal_obligation: {
    title: 'The data must be kept to comply with a legal obligation',
    types: ['erasure', 'objection'],
    provisions: {
      gdpr: 'GDPR Art 17(3)(b)',
      uk_gdpr: 'UK GDPR Art 17(3)(b)',
      fadp: 'FADP Art 26(1)(a)',
      ccpa: 'Cal. Civ. Code §1798.105(d)(8)',
      lgpd: 'LGPD Art 16(I)',
      pipl: 'PIPL Art 47 (retention required by law: processing stops except storage and security)'
    }
  },
  legal_claims: {
    title: 'The data is needed to establish, exercise or defend legal claims',
    types: ['erasure', 'objection', 'restriction'],
    provisions: {
      gdpr: 'GDPR Art 17(3)(e) and 21(1)',
      uk_gdpr: 'UK GDPR Art 17(3)(e) and 21(1)',
      ccpa: 'Cal. Civ. Code §1798.145(a)(1)(E)',
      pipl: 'PIPL Art 50 (reasons stated)'
    }
  },
  compelling_legitimate_grounds: {
    title: 'Compelling legitimate grounds for the processing override the objection',
    types: ['objection'],
    provisions: {
      gdpr: 'GDPR Art 21(1)',
      uk_gdpr: 'UK GDPR Art 21(1)'
    }
  },
  controller_declined: {
    title: 'The data is processed for a customer (the controller), whose administrator did not instruct the company, its processor, to act',
    provisions: {
      gdpr: 'GDPR Art 28(3)(a) and 29 (a processor acts only on the documented instructions of the controller)',
      uk_gdpr: 'UK GDPR Art 28(3)(a) and 29',
      fadp: 'FADP Art 9 (processing by a processor only as the controller itself would)',
      lgpd: 'LGPD Art 39 (the operator processes according to the controller\'s instructions)',
      pipl: 'PIPL Art 21 (an entrusted party processes only as agreed with the handler)'
    }
  },
  not_covered: {
    title: 'The request is not one this law gives a right to (type, data or jurisdiction)',
    provisions: {
      gdpr: 'GDPR Art 12(4) (reasons stated)',
      uk_gdpr: 'UK GDPR Art 12(4) (reasons stated)',
      fadp: 'FADP Art 26(4) (reasons stated)',
      ccpa: 'Cal. Code Regs. tit. 11 §7022 and §7024 (reasons stated)',
      lgpd: 'LGPD Art 18 §4 (reasons stated)',
      pipeda: 'PIPEDA s.8(7) (reasons stated)',
      pipl: 'PIPL Art 50 (reasons stated)'
    }
  }
} as const satisfies Record<string, { title: string, types?: readonly RequestType[], provisions: Partial<Record<Regime, string>> }>

export type RefusalGround = keyof typeof REFUSAL_GROUNDS
export const REFUSAL_GROUND_CODES = Object.keys(REFUSAL_GROUNDS) as RefusalGround[]

/** The provision that lets `ground` refuse a `type` request under `regime`, or null where it does not apply. */
export function refusalProvision (ground: RefusalGround, regime: Regime, type: RequestType): string | null {
  const entry: { types?: readonly RequestType[], provisions: Partial<Record<Regime, string>> } = REFUSAL_GROUNDS[ground]
  if (entry.types && !entry.types.includes(type)) return null
  return entry.provisions[regime] ?? null
}

/** A refusal as recorded on a request or a task, and shown with it. */
export interface Refusal {
  ground: RefusalGround
  provision: string
  /** What the person is told, in the operator's words. */
  explanation: string
  by: string
  at: string
}
