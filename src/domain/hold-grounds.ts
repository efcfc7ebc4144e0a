/**
 * The legal grounds on which data the person asked to have erased is kept: a legal hold on a person,
 * or a column an erasure keeps (`keep` in the generic Postgres connector). Each rests on an exception
 * to the right to erasure in GDPR Art 17(3) (UK GDPR alike). They say where to look; they are not
 * legal advice.
 */
export const HOLD_GROUNDS = {
  legal_claims: { article: 'GDPR Art 17(3)(e)', title: 'Establishment, exercise or defence of legal claims (litigation hold)' },
  legal_obligation: { article: 'GDPR Art 17(3)(b)', title: 'Compliance with a legal obligation to keep the data' },
  regulator_investigation: { article: 'GDPR Art 17(3)(b)', title: 'An investigation or request of a regulator or other authority the controller must answer' },
  tax_and_accounting: { article: 'GDPR Art 17(3)(b)', title: 'Records that tax or commercial law requires to be kept' },
  public_interest_task: { article: 'GDPR Art 17(3)(b)', title: 'A task carried out in the public interest or in official authority' },
  public_health: { article: 'GDPR Art 17(3)(c)', title: 'Reasons of public interest in the area of public health' },
  archiving_research: { article: 'GDPR Art 17(3)(d)', title: 'Archiving in the public interest, scientific or historical research, or statistics' },
  freedom_of_expression: { article: 'GDPR Art 17(3)(a)', title: 'Exercising the right of freedom of expression and information' }
} as const satisfies Record<string, { article: string, title: string }>

export type HoldGround = keyof typeof HOLD_GROUNDS
export const HOLD_GROUND_CODES = Object.keys(HOLD_GROUNDS) as HoldGround[]

export function isHoldGround (code: string): code is HoldGround {
  return Object.hasOwn(HOLD_GROUNDS, code)
}

/** What a held stream is reported retained for: the ground's title and article, and the hold's reference. */
export function holdReason (ground: HoldGround, reference: string): string {
  const g = HOLD_GROUNDS[ground]
  return `legal hold ${reference}: ${g.title} (${g.article})`
}
