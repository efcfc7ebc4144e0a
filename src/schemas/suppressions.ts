import { Type, type Static, type TSchema } from 'typebox'
import { CHECK_PURPOSES } from '../domain/purposes.js'
import { Nullable, ref } from './common.js'
import { SubjectSchema } from './requests.js'

const dateTime = Type.String({ format: 'date-time' })

export const CheckPurposeSchema = Type.Enum([...CHECK_PURPOSES], {
  $id: 'CheckPurpose',
  description: 'What the caller means to do with the person\'s data: `marketing`, `partner_sharing`, `profiling`, ' +
    '`transactional` (messages the service needs: a receipt, a password reset), or `processing` (any other use). ' +
    'A restriction of processing, and an objection while it is weighed, suppress every purpose.'
})

export const SuppressionCheckSchema = Type.Object({
  subject: ref(SubjectSchema),
  purpose: ref(CheckPurposeSchema)
}, {
  $id: 'SuppressionCheck',
  additionalProperties: false,
  examples: [{ subject: { email: 'ada@example.com' }, purpose: 'marketing' }]
})
export type SuppressionCheck = Static<typeof SuppressionCheckSchema>

export const SuppressionReasonSchema = Type.Object({
  request_id: Type.String({ format: 'uuid' }),
  type: Type.String({ description: 'The request\'s type: restriction, objection, consent_withdrawal or marketing_opt_out' }),
  purposes: Type.Array(Type.String(), { description: 'Every purpose the request stops, in force now' }),
  since: dateTime
}, { $id: 'SuppressionReason', additionalProperties: false })

export const SuppressionAnswerSchema = Type.Object({
  purpose: ref(CheckPurposeSchema),
  result: Type.Enum(['allowed', 'suppressed']),
  entries: Type.Array(ref(SuppressionReasonSchema), { description: 'The requests whose entries suppress the purpose, oldest first; empty when allowed. Never identifiers.' })
}, {
  $id: 'SuppressionAnswer',
  additionalProperties: false,
  examples: [{
    purpose: 'marketing',
    result: 'suppressed',
    entries: [{ request_id: '3f9c2a4e-8b1d-4c6f-9a2e-5d7b1c0e4f21', type: 'marketing_opt_out', purposes: ['marketing'], since: '2026-03-02T09:30:00.000Z' }]
  }]
})

export const RequestSuppressionsSchema = Type.Object({
  request_id: Type.String({ format: 'uuid' }),
  in_force: Type.Boolean({ description: 'At least one of its entries is in force' }),
  entries: Type.Array(Type.Object({
    purpose: Type.String(),
    since: dateTime,
    in_force: Type.Boolean(),
    ended_at: Nullable(dateTime),
    end_reason: Nullable(Type.String(), { description: '`lifted` (the restriction was lifted), `rejected` or `cancelled` (the request was); null while in force' })
  }, { additionalProperties: false }), { description: 'One per purpose the request stops; empty for a request that suppresses nothing or was not verified' })
}, { $id: 'RequestSuppressions', additionalProperties: false })

export const suppressionSchemas: readonly TSchema[] = [CheckPurposeSchema, SuppressionCheckSchema, SuppressionReasonSchema, SuppressionAnswerSchema, RequestSuppressionsSchema]
