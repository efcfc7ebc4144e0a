import { Type, type Static } from 'typebox'
import { Nullable } from './common.js'

/** The identity check of a request (IDENTITY_CHECK) as a reviewer sees it: people found, masked, with counts and systems. */

export const IdentityCandidateSchema = Type.Object({
  index: Type.Integer({ minimum: 0, description: 'What to send as `candidate` to choose this person' }),
  email: Nullable(Type.String(), { description: 'Their e-mail address, masked (a***@e******.com)' }),
  phone: Nullable(Type.String(), { description: 'Their phone number, masked (its last two digits)' }),
  names: Type.Array(Type.String(), { description: 'The names their records give, as initials' }),
  systems: Type.Array(Type.String(), { description: 'The connectors holding records of them' }),
  records: Type.Integer({ minimum: 0, description: 'Records of them found' })
}, { additionalProperties: false })

export const IdentityReviewSchema = Type.Object({
  status: Type.Enum(['not_checked', 'resolved', 'conflict', 'failed', 'chosen'], {
    description: 'not_checked: no check ran (IDENTITY_CHECK); resolved: one person (or none) found, the request was planned; ' +
      'conflict: several people found, the request is on hold; failed: a system could not be searched, the request is on hold; chosen: a reviewer decided'
  }),
  people: Type.Integer({ minimum: 0, description: 'People the identifiers led to' }),
  candidates: Type.Array(IdentityCandidateSchema),
  chosen_by: Nullable(Type.String(), { description: 'The API key that chose the person' }),
  chosen_at: Nullable(Type.String({ format: 'date-time' }))
}, { $id: 'IdentityReview', additionalProperties: false })
export type IdentityReview = Static<typeof IdentityReviewSchema>

export const ChooseIdentitySchema = Type.Object({
  candidate: Type.Optional(Type.Integer({ minimum: 0, description: 'The index of the right person in GET /v1/requests/{id}/identity' })),
  email: Type.Optional(Type.String({ format: 'email', maxLength: 320, description: "The right person's e-mail address, e.g. as the person confirmed it; never logged" }))
}, {
  $id: 'ChooseIdentity',
  additionalProperties: false,
  minProperties: 1,
  maxProperties: 1,
  examples: [{ candidate: 0 }, { email: 'ada@example.com' }]
})
export type ChooseIdentity = Static<typeof ChooseIdentitySchema>

export const identitySchemas = [IdentityReviewSchema, ChooseIdentitySchema]
