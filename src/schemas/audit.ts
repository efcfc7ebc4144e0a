import { Type, type TSchema } from 'typebox'
import { BREAK_KINDS } from '../audit/chain.js'
import { Nullable, ref } from './common.js'

const dateTime = Type.String({ format: 'date-time' })
const sha256Hex = Type.String({ pattern: '^[a-f0-9]{64}$' })

export const AuditBreakSchema = Type.Object({
  kind: Type.Enum([...BREAK_KINDS], {
    description: 'content_changed: the event no longer hashes as it did when sealed; event_missing: a sealed event is gone; ' +
      'link_missing: a position of the chain has no link; link_changed: a link does not follow from the one before it; ' +
      'head_mismatch: the chain at a signed head is not what was signed; signature_invalid: the latest signed head does not verify'
  }),
  code: Type.String({ description: 'Its code in the error catalogue (DSR_AUDIT_…)' }),
  position: Type.Integer({ minimum: 1, description: 'The chain position where it broke' }),
  source: Nullable(Type.String(), { description: '`request` (request_events) or `system` (system_events); null where no event is known' }),
  event_id: Nullable(Type.Integer({ minimum: 1 })),
  request_id: Nullable(Type.String({ format: 'uuid' })),
  message: Type.String()
}, { $id: 'AuditBreak', additionalProperties: false })

export const AuditReportSchema = Type.Object({
  ok: Type.Boolean({ description: 'Nothing is broken' }),
  request_id: Nullable(Type.String({ format: 'uuid' }), { description: 'The request verified; null for the whole service' }),
  links_checked: Type.Integer({ minimum: 0 }),
  unsealed_events: Type.Integer({ minimum: 0, description: 'Events not sealed yet: nothing protects them until the next seal run' }),
  head: Nullable(Type.Object({
    position: Type.Integer({ minimum: 1 }),
    chain_hash: sha256Hex,
    sealed_at: dateTime
  }, { additionalProperties: false }), { description: 'The last link checked (of the request, for a request)' }),
  signed_head: Nullable(Type.Object({
    position: Type.Integer({ minimum: 1 }),
    chain_hash: sha256Hex,
    signed_at: dateTime,
    kid: Type.String({ description: 'The receipt key it is signed with, in /.well-known/jwks.json' }),
    jws: Type.String({ description: 'Compact JWS (EdDSA) of {position, chain_hash, signed_at}' }),
    verified: Type.Boolean({ description: 'Its signature verifies with the receipt keys' }),
    covers_head: Type.Boolean({ description: '`head` is at or before the signed position: everything checked is under a signature' })
  }, { additionalProperties: false }), { description: 'The latest signed head; null before the first seal run' }),
  first_break: Nullable(ref(AuditBreakSchema))
}, { $id: 'AuditReport', additionalProperties: false })

export const auditSchemas: readonly TSchema[] = [AuditBreakSchema, AuditReportSchema]
