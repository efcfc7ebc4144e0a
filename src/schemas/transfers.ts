import { Type, type Static, type TSchema } from 'typebox'
import { TRANSFER_STATUSES } from '../domain/statuses.js'
import { Nullable, ref } from './common.js'

const dateTime = Type.String({ format: 'date-time' })
const nullable = <T extends TSchema>(schema: T) => Nullable(schema)

export const CreateTransferSchema = Type.Object({
  destination: Type.String({
    format: 'uri',
    pattern: '^https?://',
    maxLength: 2048,
    description: 'Where to POST the archive: an https URL whose origin is in TRANSFER_ALLOWLIST (no credentials in the URL)'
  }),
  authorization: Type.Optional(Type.String({
    minLength: 1,
    maxLength: 4096,
    pattern: '^[\\x21-\\x7e][\\x20-\\x7e]*$',
    writeOnly: true,
    description: 'The Authorization header value the receiver expects, e.g. "Bearer …". Kept encrypted until the transfer ' +
      'ends, then erased; never returned or logged. Needs TRANSFER_SECRET_KEY.'
  })),
  notes: Type.Optional(Type.String({ maxLength: 4000 }))
}, {
  $id: 'CreateTransfer',
  additionalProperties: false,
  examples: [{ destination: 'https://import.receiver.example/v1/portability', authorization: 'Bearer 3q2-example-token', notes: 'Art 20(2) request by e-mail' }]
})
export type CreateTransfer = Static<typeof CreateTransferSchema>

export const TransferAttemptSchema = Type.Object({
  attempt: Type.Integer({ minimum: 1 }),
  started_at: dateTime,
  ended_at: nullable(dateTime),
  outcome: nullable(Type.String({ examples: ['delivered', 'retry', 'failed', 'lease_expired'] })),
  response_status: nullable(Type.Integer()),
  response_excerpt: nullable(Type.String({ description: "The first 2 KB of the receiver's answer" })),
  error_code: nullable(Type.String()),
  bytes_sent: nullable(Type.Integer())
}, { $id: 'TransferAttempt', additionalProperties: false })

export const TransferSchema = Type.Object({
  id: Type.String({ format: 'uuid', description: 'Also sent as the Idempotency-Key, so the receiver can drop a repeat' }),
  request_id: Type.String({ format: 'uuid' }),
  destination: Type.String(),
  has_authorization: Type.Boolean({ description: 'An authorization is stored (encrypted); false once the transfer has ended' }),
  status: Type.Enum([...TRANSFER_STATUSES]),
  attempts: Type.Integer(),
  max_attempts: Type.Integer(),
  next_attempt_at: nullable(dateTime),
  response_status: nullable(Type.Integer({ description: "The receiver's last HTTP status" })),
  response_excerpt: nullable(Type.String({ description: "The first 2 KB of the receiver's last answer (its receipt or error)" })),
  delivered_sha256: nullable(Type.String({ pattern: '^[a-f0-9]{64}$', description: 'SHA-256 of the bytes delivered' })),
  last_error_code: nullable(Type.String()),
  last_error_message: nullable(Type.String()),
  notes: nullable(Type.String()),
  created_by: Type.String(),
  created_at: dateTime,
  updated_at: dateTime,
  delivered_at: nullable(dateTime),
  finished_at: nullable(dateTime),
  attempt_log: Type.Array(ref(TransferAttemptSchema), { description: 'Every attempt, oldest first' }),
  links: Type.Object({ self: Type.String(), request: Type.String() }, { additionalProperties: false })
}, { $id: 'Transfer', additionalProperties: false })
export type Transfer = Static<typeof TransferSchema>

export const TransferListSchema = Type.Object({
  data: Type.Array(ref(TransferSchema))
}, { $id: 'TransferList', additionalProperties: false })

export const TransferParamsSchema = Type.Object({
  id: Type.String({ format: 'uuid', description: 'Request id' }),
  transferId: Type.String({ format: 'uuid' })
}, { additionalProperties: false })

export const transferSchemas = [CreateTransferSchema, TransferAttemptSchema, TransferSchema, TransferListSchema] as const
