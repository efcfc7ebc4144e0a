import { Type, type Static } from 'typebox'
import { CALLBACK_STATUSES } from '../domain/statuses.js'
import { Defaulted, Nullable, ref } from './common.js'
import { RequestStatusSchema } from './requests.js'

const dateTime = Type.String({ format: 'date-time' })

export const CallbackAttemptSchema = Type.Object({
  attempt: Type.Integer({ minimum: 1 }),
  started_at: dateTime,
  ended_at: dateTime,
  outcome: Type.Enum(['delivered', 'retry', 'failed']),
  response_status: Nullable(Type.Integer(), { description: "The receiver's HTTP status; null when there was no answer" }),
  error_code: Nullable(Type.String()),
  error_message: Nullable(Type.String())
}, { $id: 'CallbackAttempt', additionalProperties: false })

export const CallbackDeliverySchema = Type.Object({
  id: Type.String({ format: 'uuid', description: 'The delivery id: sent as DSR-Delivery-Id and Idempotency-Key, and as delivery_id in the body, on every attempt' }),
  request_id: Type.String({ format: 'uuid' }),
  event: Type.String({ examples: ['request.status_changed'] }),
  request_status: RequestStatusSchema,
  previous_request_status: Nullable(RequestStatusSchema, { description: 'Null for the request\'s creation' }),
  at: Type.String({ format: 'date-time', description: 'When the status changed' }),
  status: Type.Enum([...CALLBACK_STATUSES], { description: 'pending: due at next_attempt_at; sending; delivered; failed: out of attempts, or refused' }),
  attempts: Type.Integer({ description: 'Attempts made, redeliveries included' }),
  next_attempt_at: Nullable(dateTime),
  response_status: Nullable(Type.Integer({ description: "The receiver's last HTTP status" })),
  last_error_code: Nullable(Type.String()),
  last_error_message: Nullable(Type.String()),
  created_at: dateTime,
  delivered_at: Nullable(dateTime),
  attempt_log: Type.Array(ref(CallbackAttemptSchema), { description: 'Every attempt, oldest first' }),
  links: Type.Object({ redeliver: Type.String(), request: Type.String() }, { additionalProperties: false })
}, { $id: 'CallbackDelivery', additionalProperties: false })
export type CallbackDelivery = Static<typeof CallbackDeliverySchema>

export const CallbackDeliveryListSchema = Type.Object({
  data: Type.Array(ref(CallbackDeliverySchema)),
  next_cursor: Nullable(Type.String(), { description: 'Pass as cursor for the next page; null on the last page' })
}, { $id: 'CallbackDeliveryList', additionalProperties: false })

export const CallbackListQuerySchema = Type.Object({
  limit: Defaulted(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
  cursor: Type.Optional(Type.String({ maxLength: 200, description: 'next_cursor of the previous page' }))
}, { additionalProperties: false })
export type CallbackListQuery = Static<typeof CallbackListQuerySchema>

export const CallbackParamsSchema = Type.Object({
  id: Type.String({ format: 'uuid', description: 'Request id' }),
  deliveryId: Type.String({ format: 'uuid' })
}, { additionalProperties: false })

export const callbackSchemas = [CallbackAttemptSchema, CallbackDeliverySchema, CallbackDeliveryListSchema] as const
