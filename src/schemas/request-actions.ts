import { Type, type Static } from 'typebox'

/** What staff send to act on a request's deadline and restriction: take the extension, record the notice, lift the restriction. */

export const ExtensionNoticeSchema = Type.Object({
  notified_subject_at: Type.String({
    format: 'date-time',
    description: 'When the person was told of the extension and its reasons; not in the future, not before the request was received'
  })
}, {
  $id: 'ExtensionNotice',
  additionalProperties: false,
  examples: [{ notified_subject_at: '2026-02-10T14:30:00Z' }]
})
export type ExtensionNotice = Static<typeof ExtensionNoticeSchema>

export const TakeExtensionSchema = Type.Object({
  reason: Type.String({
    minLength: 1,
    maxLength: 1000,
    pattern: '\\S',
    description: 'Why the request needs more time, e.g. its complexity or the number of requests; kept with the request and in its audit trail, never logged'
  }),
  notified_subject_at: Type.Optional(Type.String({
    format: 'date-time',
    description: 'When the person was told of the extension and its reasons; not in the future, not before the request was received'
  }))
}, {
  $id: 'TakeExtension',
  additionalProperties: false,
  examples: [{
    reason: 'Complex request: records held in six systems, two of them archived off-site',
    notified_subject_at: '2026-02-20T10:30:00Z'
  }]
})
export type TakeExtension = Static<typeof TakeExtensionSchema>

export const LiftRestrictionSchema = Type.Object({
  reason: Type.String({
    minLength: 1,
    maxLength: 1000,
    pattern: '\\S',
    description: 'Why the restriction ends, e.g. the accuracy of the data was verified, or the objection was weighed; ' +
      'kept with the request and in its audit trail, never logged'
  }),
  notified_subject_at: Type.String({
    format: 'date-time',
    description: 'When the person was told that the restriction will be lifted (GDPR Art 18(3) requires it before the lift); ' +
      'not in the future, not before the request was received'
  })
}, {
  $id: 'LiftRestriction',
  additionalProperties: false,
  examples: [{
    reason: 'Accuracy verified: the address on record was confirmed by the customer',
    notified_subject_at: '2026-03-02T09:00:00Z'
  }]
})
export type LiftRestriction = Static<typeof LiftRestrictionSchema>

export const requestActionSchemas = [TakeExtensionSchema, ExtensionNoticeSchema, LiftRestrictionSchema] as const
