import { Type, type TSchema } from 'typebox'
import { CHALLENGE_STATUSES, CODE_PATTERN, TOKEN_PATTERN } from '../domain/verification-codes.js'

const dateTime = Type.String({ format: 'date-time' })

/** A verification the service sent (never its code or token). */
export const VerificationChallengeSchema = Type.Object({
  request_id: Type.String({ format: 'uuid' }),
  challenge_id: Type.String({ format: 'uuid' }),
  channel: Type.Literal('email', { description: 'A one-time code and a one-time link, in one e-mail to the subject\'s address' }),
  status: Type.Enum([...CHALLENGE_STATUSES], {
    description: 'open until confirmed, locked (VERIFICATION_MAX_ATTEMPTS wrong codes), superseded by a new one, or timed_out (the request was rejected)'
  }),
  expires_at: dateTime,
  attempts: Type.Integer({ minimum: 0, description: 'Wrong codes entered so far' }),
  max_attempts: Type.Integer({ minimum: 1 })
}, { $id: 'VerificationChallenge', additionalProperties: false })

export const ConfirmCodeSchema = Type.Object({
  code: Type.String({ pattern: CODE_PATTERN, description: 'The 6-digit code from the e-mail, as the person gives it' })
}, { $id: 'ConfirmCode', additionalProperties: false, examples: [{ code: '042917' }] })

export const VerificationConfirmedSchema = Type.Object({
  request_id: Type.String({ format: 'uuid' }),
  status: Type.Literal('confirmed')
}, { $id: 'VerificationConfirmed', additionalProperties: false })

export const VerificationLinkQuerySchema = Type.Object({
  token: Type.Optional(Type.String({ pattern: TOKEN_PATTERN, description: 'The one-time token of the e-mailed link' }))
}, { additionalProperties: false })

export const verificationSchemas: readonly TSchema[] = [VerificationChallengeSchema, ConfirmCodeSchema, VerificationConfirmedSchema]
