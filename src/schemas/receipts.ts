import { Type, type Static } from 'typebox'
import { Nullable } from './common.js'

/**
 * The signed erasure receipt and the key set that verifies it. Inline schemas (no $id): the OpenAPI
 * components are the shared schemas app.ts registers, and these are used by one route each.
 */

const dateTime = Type.String({ format: 'date-time' })
const uuid = Type.String({ format: 'uuid' })

export const ReceiptOutcomeSchema = Type.Object({
  stream: Type.String(),
  status: Type.Enum(['erased', 'not_found', 'deferred', 'retained'], {
    description: 'erased: `count` records removed; not_found: nothing held; deferred: the system accepted the erasure ' +
      'and will carry it out (`external_ref` is its reference); retained: kept, for the `reason` given (a legal obligation, say)'
  }),
  count: Type.Optional(Type.Integer({ minimum: 0 })),
  external_ref: Type.Optional(Type.String()),
  reason: Type.Optional(Type.String()),
  ground: Type.Optional(Type.String({ description: 'retained: the code of the legal ground it is kept on (GDPR Art 17(3)); see GET /v1/holds/grounds' })),
  reference: Type.Optional(Type.String({ description: "retained under a legal hold: the hold's reference (a case or matter number)" })),
  review: Type.Optional(Type.String({ description: 'retained: when keeping it is to be reviewed, as an ISO 8601 duration from the erasure' }))
}, { additionalProperties: false })

export const ReceiptBackupsSchema = Type.Object({
  kept_until: Type.String({ format: 'date-time', description: 'When the last backup that can hold the erased data is deleted' }),
  retention_days: Type.Integer({ minimum: 0 }),
  treatment: Type.Literal('beyond_use', {
    description: 'Until then the data in backups is kept beyond use: not restored into use without being erased again, ' +
      'not used for any decision, not given to anyone'
  })
}, { additionalProperties: false })

const Counts = Type.Record(Type.String(), Type.Integer({ minimum: 0 }))

export const ReceiptVerificationSchema = Type.Object({
  status: Type.Enum(['verified', 'residue', 'not_verifiable', 'not_checked'], {
    description: 'verified: the system was searched again after it erased and held nothing beyond what it retained (with its reason) or deferred; ' +
      'residue: it still held records (the task failed, DSR_ERASURE_RESIDUE); not_verifiable: the system cannot be searched again (`reason`); ' +
      'not_checked: the task did not erase (skipped), or ended before erasures were checked'
  }),
  checked_at: Nullable(dateTime, { description: 'When the last search after the erasure ended' }),
  checks: Type.Integer({ minimum: 0, description: 'Searches made: more than one when the system was given time to settle (a lagging search index)' }),
  reason: Nullable(Type.String(), { description: 'Why the system was not verifiable or not checked' }),
  retained: Type.Optional({ ...Counts, description: 'Records found in streams the erasure retained or deferred, per stream' }),
  residue: Type.Optional({ ...Counts, description: 'Records found that the erasure did not account for, per stream (counts, never values)' })
}, { additionalProperties: false })

export const ReceiptConnectorSchema = Type.Object({
  connector: Type.String({ description: 'Connector id' }),
  name: Type.String({ description: 'The system, as the connector file names it' }),
  action: Type.String(),
  status: Type.Enum(['succeeded', 'failed', 'skipped']),
  attempts: Type.Integer({ minimum: 0 }),
  first_attempt_at: Nullable(dateTime),
  finished_at: Nullable(dateTime),
  outcomes: Type.Array(ReceiptOutcomeSchema),
  error_code: Nullable(Type.String(), { description: 'Why a failed task failed (a code, never a message)' }),
  backups: Nullable(ReceiptBackupsSchema, {
    description: 'Null where the system erased nothing (its backups hold nothing this erasure removed)'
  }),
  verification: Type.Optional({ ...ReceiptVerificationSchema, description: 'Whether the system was searched again after it erased, when, and what it still held (absent on receipts issued before erasures were checked)' })
}, { additionalProperties: false })

export const ErasureReceiptPayloadSchema = Type.Object({
  type: Type.Literal('erasure_receipt'),
  version: Type.Literal(1),
  receipt_id: uuid,
  issuer: Type.String(),
  issued_at: dateTime,
  request_id: uuid,
  regime: Type.String(),
  status: Type.Enum(['completed', 'partially_completed']),
  received_at: dateTime,
  completed_at: Type.String({ format: 'date-time', description: 'When the request reached the status this receipt attests' }),
  child: Type.Optional(Type.Object({
    statement: Type.String(),
    internal_due_at: Nullable(dateTime, { description: 'The internal due date the company held itself to (CHILD_DUE_DAYS after receipt)' }),
    on_time: Type.Boolean({ description: 'Whether the erasure completed by the internal due date' })
  }, { additionalProperties: false, description: "Present when the erasure was a child's: it needed no approval and reached every configured system" })),
  subject: Type.Object({
    algorithm: Type.Literal('HMAC-SHA256'),
    key_id: Type.String({ description: 'Fingerprint of the service secret the identifiers were hashed with' }),
    input: Type.String({ description: 'What each hash is computed over' }),
    identifiers: Type.Array(Type.Object({
      kind: Type.String({ description: 'email, phone, customer_id, account_id, email_sha256, phone_sha256 or external_id:<system>' }),
      hmac: Type.String({ pattern: '^[0-9a-f]{64}$' })
    }, { additionalProperties: false }))
  }, { additionalProperties: false }),
  connectors: Type.Array(ReceiptConnectorSchema, { description: 'Every system the request was carried out in' }),
  not_in_scope: Type.Array(Type.Object({
    connector: Type.String(),
    name: Type.String(),
    reason: Type.String()
  }, { additionalProperties: false }), { description: 'Systems configured when the receipt was issued that this request did not reach, and why' }),
  restore: Nullable(Type.Object({
    restore_id: uuid,
    original_request_id: uuid,
    backup_taken_at: dateTime
  }, { additionalProperties: false }), { description: 'Set on an erasure made again after a system was restored from a backup' })
}, { additionalProperties: false })

export type ErasureReceiptPayload = Static<typeof ErasureReceiptPayloadSchema>

export const ErasureReceiptResponseSchema = Type.Object({
  receipt: ErasureReceiptPayloadSchema,
  jws: Type.String({ description: 'The receipt as a compact JWS (EdDSA, Ed25519); its payload is the receipt above, byte for byte as signed' }),
  kid: Type.String({ description: 'The signing key, in /.well-known/jwks.json' }),
  payload_sha256: Type.String({ pattern: '^[0-9a-f]{64}$', description: 'SHA-256 of the signed payload bytes' }),
  jwks_uri: Type.String()
}, {
  additionalProperties: false,
  examples: [{
    receipt: {
      type: 'erasure_receipt',
      version: 1,
      receipt_id: '7c0d2b9e-31f4-4e8a-b6d5-0a9f8e7d6c5b',
      issuer: 'dsar-service',
      issued_at: '2026-02-04T08:30:12.004Z',
      request_id: '2a4c6e80-1b3d-4f57-9a8c-7e6d5c4b3a21',
      regime: 'gdpr',
      status: 'completed',
      received_at: '2026-02-01T14:05:00.000Z',
      completed_at: '2026-02-04T08:30:11.871Z',
      subject: {
        algorithm: 'HMAC-SHA256',
        key_id: 'k1-5f3a9c',
        input: 'the identifier, trimmed and lower-cased for e-mail addresses',
        identifiers: [{ kind: 'email', hmac: '4e1f0c9b2a7d8e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f' }]
      },
      connectors: [{
        connector: 'crm',
        name: 'CRM',
        action: 'erase',
        status: 'succeeded',
        attempts: 1,
        first_attempt_at: '2026-02-04T08:30:02.310Z',
        finished_at: '2026-02-04T08:30:03.954Z',
        outcomes: [{ stream: 'contacts', status: 'erased', count: 1 }],
        error_code: null,
        backups: { kept_until: '2026-03-06T08:30:03.954Z', retention_days: 30, treatment: 'beyond_use' }
      }],
      not_in_scope: [],
      restore: null
    },
    jws: 'eyJhbGciOiJFZERTQSIsImtpZCI6ImsxIiwidHlwIjoiZHNyLXJlY2VpcHQrand0In0.eyJ0eXBlIjoiZXJhc3VyZV9yZWNlaXB0In0.c2lnbmF0dXJl',
    kid: 'k1',
    payload_sha256: 'b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9',
    jwks_uri: '/.well-known/jwks.json'
  }]
})

export const JwksSchema = Type.Object({
  keys: Type.Array(Type.Object({
    kty: Type.String(),
    crv: Type.String(),
    x: Type.String(),
    kid: Type.String(),
    alg: Type.String(),
    use: Type.String()
  }, { additionalProperties: false }))
}, { additionalProperties: false })

const PreviewCountsSchema = Type.Object({
  erase: Type.Integer({ minimum: 0, description: 'Records that would be deleted' }),
  mask: Type.Integer({ minimum: 0, description: 'Records that would be kept with their personal columns blanked, set or hashed' }),
  retain: Type.Integer({ minimum: 0, description: 'Records that would be kept (whole or in part) for the reasons given' })
}, { additionalProperties: false })

/** The dry run of an erasure (POST /v1/requests/{id}/erasure-preview): counts only, nothing changed. */
export const ErasurePreviewSchema = Type.Object({
  request_id: uuid,
  dry_run: Type.Literal(true, { description: 'Always true: nothing was erased (as with a retention sweep\'s dry_run)' }),
  generated_at: dateTime,
  connectors: Type.Array(Type.Object({
    connector: Type.String(),
    name: Type.String(),
    status: Type.Enum(['previewed', 'failed', 'not_previewable'], {
      description: 'failed: the system could not be asked (`error_code`); not_previewable: a person erases there (`reason`)'
    }),
    method: Type.Enum(['rolled_back', 'collected', 'none'], {
      description: 'rolled_back: the erasure ran in a database transaction that was rolled back; collected: what the system holds was ' +
        'counted and its erasure policy applied (an HTTP system); none: not asked'
    }),
    streams: Type.Array(Type.Object({
      stream: Type.String(),
      ...PreviewCountsSchema.properties,
      reasons: Type.Array(Type.String(), { description: 'Why records are retained' })
    }, { additionalProperties: false })),
    totals: PreviewCountsSchema,
    error_code: Nullable(Type.String()),
    reason: Nullable(Type.String())
  }, { additionalProperties: false }))
}, { additionalProperties: false })
export type ErasurePreviewReport = Static<typeof ErasurePreviewSchema>
