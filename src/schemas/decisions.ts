import { Type, type Static } from 'typebox'
import { REFUSAL_GROUND_CODES, REFUSAL_GROUNDS } from '../domain/refusal-grounds.js'
import { REGIMES } from '../domain/deadlines.js'
import { REQUEST_TYPES } from '../domain/requests.js'
import { Nullable } from './common.js'

/** What people decide about a request: approve, reject or refuse in part on a legal ground, complete a manual task. */

const GroundSchema = Type.Enum([...REFUSAL_GROUND_CODES], {
  description: 'The legal ground, from GET /v1/refusal-grounds: it must have a provision for the request\'s regime and type'
})

export const RefusalSchema = Type.Object({
  ground: GroundSchema,
  provision: Type.String({ description: 'The provision that allows it under the request\'s regime, e.g. "GDPR Art 12(5)(b)"' }),
  explanation: Type.String({ description: 'What the person is told, in the words of who refused' }),
  by: Type.String({ description: 'Name of the API key that refused' }),
  at: Type.String({ format: 'date-time' })
}, { $id: 'Refusal', additionalProperties: false })

export const RefuseSchema = Type.Object({
  ground: GroundSchema,
  explanation: Type.String({
    minLength: 1, maxLength: 4000, description: 'The reasons as the person is told them (GDPR Art 12(4), PIPL Art 50 ask for them), with their right to complain'
  })
}, {
  $id: 'Refuse',
  additionalProperties: false,
  examples: [{ ground: 'manifestly_unfounded_or_excessive', explanation: 'This is the fifth identical request this month; …' }]
})
export type Refuse = Static<typeof RefuseSchema>

export const ApproveSchema = Type.Object({
  note: Type.Optional(Type.String({ minLength: 1, maxLength: 1000, description: 'Why it was approved, for the audit trail' }))
}, { $id: 'Approve', additionalProperties: false })

export const ManualOutcomeSchema = Type.Object({
  outcome: Type.Enum(['done', 'nothing_found'], { description: 'done: the person did what the instructions say; nothing_found: the system holds nothing of the subject' }),
  note: Type.String({ description: 'What was done, as the person wrote it' }),
  evidence_ref: Nullable(Type.String(), { description: 'Where the evidence is kept (a ticket, a document id)' }),
  by: Type.String({ description: 'Name of the API key that recorded it' })
}, { $id: 'ManualOutcome', additionalProperties: false })

export const CompleteTaskSchema = Type.Object({
  outcome: Type.Enum(['done', 'nothing_found']),
  note: Type.String({ minLength: 1, maxLength: 4000, description: 'What was done' }),
  evidence_ref: Type.Optional(Type.String({ minLength: 1, maxLength: 500, description: 'Where the evidence is kept (a ticket, a document id); never the evidence itself' }))
}, {
  $id: 'CompleteTask',
  additionalProperties: false,
  examples: [{ outcome: 'done', note: 'Phone number corrected in the billing system', evidence_ref: 'TICKET-4711' }]
})
export type CompleteTask = Static<typeof CompleteTaskSchema>

export const RefusalGroundListSchema = Type.Object({
  data: Type.Array(Type.Object({
    ground: GroundSchema,
    title: Type.String(),
    types: Nullable(Type.Array(Type.Enum([...REQUEST_TYPES])), { description: 'The request types it applies to; null for every type' }),
    provisions: Type.Record(Type.String(), Type.String(), { description: `Per regime where it applies (of ${REGIMES.join(', ')}), the provision` })
  }, { additionalProperties: false }))
}, { $id: 'RefusalGroundList', additionalProperties: false })
export type RefusalGroundList = Static<typeof RefusalGroundListSchema>

/** The table of grounds as the API lists it. */
export function refusalGroundList (): RefusalGroundList {
  return {
    data: REFUSAL_GROUND_CODES.map((ground) => {
      const entry: { title: string, types?: readonly string[], provisions: Record<string, string> } = REFUSAL_GROUNDS[ground]
      return { ground, title: entry.title, types: (entry.types ? [...entry.types] : null) as RefusalGroundList['data'][number]['types'], provisions: entry.provisions as RefusalGroundList['data'][number]['provisions'] }
    })
  }
}

export const decisionSchemas = [RefusalSchema, RefuseSchema, ApproveSchema, ManualOutcomeSchema, CompleteTaskSchema, RefusalGroundListSchema] as const
