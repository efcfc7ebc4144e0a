import { Type, type Static } from 'typebox'
import { HOLD_GROUND_CODES } from '../domain/hold-grounds.js'
import { Defaulted, Nullable, ref } from './common.js'
import { SubjectSchema } from './requests.js'

const dateTime = Type.String({ format: 'date-time' })
const connectorId = Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,63}$', description: 'A configured connector id (GET /v1/connectors)' })

export const HoldGroundSchema = Type.Enum([...HOLD_GROUND_CODES], {
  description: 'The legal ground the data is kept on, an exception to erasure under GDPR Art 17(3) (GET /v1/holds/grounds lists them)'
})

export const HoldCoverSchema = Type.Object({
  connector: connectorId,
  streams: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 128 }), {
    minItems: 1, maxItems: 100, uniqueItems: true, description: 'Only these streams of the system; absent: all of it'
  }))
}, { $id: 'HoldCover', additionalProperties: false })

export const CreateHoldSchema = Type.Object({
  subject: ref(SubjectSchema),
  ground: HoldGroundSchema,
  reference: Type.String({ minLength: 1, maxLength: 200, pattern: '\\S', description: 'The case, matter or file number the hold is kept under' }),
  review_at: Type.String({ format: 'date-time', description: 'When the hold is to be reviewed (in the future, at most ten years ahead)' }),
  covers: Defaulted(Type.Array(ref(HoldCoverSchema), {
    maxItems: 100, default: [], description: 'The systems (and streams) the hold keeps; empty or absent: every system'
  })),
  note: Type.Optional(Type.String({ maxLength: 2000, description: 'Why the hold was placed, for the people who review it; never logged' }))
}, { $id: 'CreateHold', additionalProperties: false })
export type CreateHold = Static<typeof CreateHoldSchema>

export const ReleaseHoldSchema = Type.Object({
  reason: Type.String({ minLength: 1, maxLength: 2000, pattern: '\\S', description: 'Why the hold ends (the case closed, say); never logged' })
}, { $id: 'ReleaseHold', additionalProperties: false })
export type ReleaseHold = Static<typeof ReleaseHoldSchema>

export const LegalHoldSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  status: Type.Enum(['active', 'released']),
  ground: HoldGroundSchema,
  article: Type.String({ description: 'The provision the ground rests on', examples: ['GDPR Art 17(3)(e)'] }),
  reference: Type.String(),
  note: Nullable(Type.String()),
  review_at: dateTime,
  review_due: Type.Boolean({ description: 'Active and past its review date' }),
  covers: Type.Array(ref(HoldCoverSchema), { description: 'Empty: every system' }),
  identifiers: Type.Integer({ minimum: 0, description: 'How many identifiers the hold knows the person by (kept as keyed hashes only; never answered)' }),
  created_by: Type.String(),
  created_at: dateTime,
  released_at: Nullable(dateTime),
  released_by: Nullable(Type.String()),
  release_reason: Nullable(Type.String())
}, { $id: 'LegalHold', additionalProperties: false })
export type LegalHold = Static<typeof LegalHoldSchema>

export const LegalHoldListSchema = Type.Object({
  data: Type.Array(ref(LegalHoldSchema))
}, { $id: 'LegalHoldList', additionalProperties: false })

export const HoldListQuerySchema = Type.Object({
  status: Type.Optional(Type.Enum(['active', 'released'])),
  limit: Defaulted(Type.Integer({ minimum: 1, maximum: 500, default: 100 }))
}, { additionalProperties: false })
export type HoldListQuery = Static<typeof HoldListQuerySchema>

export const HoldParamsSchema = Type.Object({
  id: Type.String({ format: 'uuid', description: 'Hold id' })
}, { additionalProperties: false })

export const HoldGroundListSchema = Type.Object({
  data: Type.Array(Type.Object({
    code: HoldGroundSchema,
    article: Type.String(),
    title: Type.String()
  }, { additionalProperties: false }))
}, { $id: 'HoldGroundList', additionalProperties: false })

export const holdSchemas = [HoldCoverSchema, CreateHoldSchema, ReleaseHoldSchema, LegalHoldSchema, LegalHoldListSchema, HoldGroundListSchema] as const
