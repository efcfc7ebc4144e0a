import { Type, type Static } from 'typebox'
import { REQUEST_STATUSES } from '../domain/lifecycle.js'
import { CHANNELS, REQUESTER_KINDS, REQUEST_TYPES } from '../domain/requests.js'
import { REGIMES } from '../domain/deadlines.js'
import { Defaulted, Nullable, ref } from './common.js'
import { ArchiveSummarySchema } from './archives.js'
import { ManualOutcomeSchema, RefusalSchema } from './decisions.js'
import { TASK_STATUSES } from '../domain/statuses.js'
import { OPT_OUT_PURPOSES } from '../domain/purposes.js'

const sha256Hex = Type.String({ pattern: '^[a-f0-9]{64}$', description: 'Lower-case hex SHA-256' })
const shortText = (maxLength: number, description?: string) =>
  Type.String({ minLength: 1, maxLength, ...(description ? { description } : {}) })

export const RequestTypeSchema = Type.Enum([...REQUEST_TYPES], { description: 'What the person asks for' })
export const RequestStatusSchema = Type.Enum([...REQUEST_STATUSES])
export const RegimeSchema = Type.Enum([...REGIMES], { description: 'Law under which the request is answered; sets the deadline' })

export const SubjectSchema = Type.Object({
  email: Type.Optional(Type.String({ format: 'email', maxLength: 254 })),
  phone: Type.Optional(Type.String({
    pattern: '^\\+[1-9][0-9 ().-]{5,24}$',
    description: 'International format; spaces, dots, dashes and brackets are removed (stored as E.164)'
  })),
  customer_id: Type.Optional(shortText(256)),
  account_id: Type.Optional(shortText(256)),
  external_ids: Type.Optional(Type.Array(Type.Object({
    system: Type.String({ pattern: '^[a-z0-9][a-z0-9_.-]{0,63}$', description: 'Label of the system the id belongs to' }),
    id: shortText(256)
  }, { additionalProperties: false }), { minItems: 1, maxItems: 20 })),
  email_sha256: Type.Optional({ ...sha256Hex, description: 'SHA-256 of the trimmed, lower-cased e-mail' }),
  phone_sha256: Type.Optional({ ...sha256Hex, description: 'SHA-256 of the E.164 phone number' })
}, {
  $id: 'Subject',
  additionalProperties: false,
  minProperties: 1,
  description: 'Who the request is about: at least one identifier'
})

export const RequesterSchema = Type.Object({
  kind: Defaulted(Type.Enum([...REQUESTER_KINDS], { default: 'subject' })),
  name: Type.Optional(shortText(200)),
  email: Type.Optional(Type.String({ format: 'email', maxLength: 254 })),
  authority_reference: Type.Optional(shortText(200, 'Reference to the evidence of authority (for agents and guardians)'))
}, { $id: 'Requester', additionalProperties: false, description: 'Who made the request: the subject, or someone acting for them' })

export const ChangeSchema = Type.Object({
  field: Type.String({ pattern: '^[A-Za-z0-9_.-]{1,100}$', description: 'Name of the field to correct' }),
  value: Type.Union([Type.String({ maxLength: 2000 }), Type.Number(), Type.Boolean(), Type.Null()])
}, { additionalProperties: false })

export const VERIFICATION_METHODS = ['account_login', 'email_link', 'sms_code', 'document_check', 'knowledge_based', 'in_person', 'other'] as const

export const VerificationSchema = Type.Object({
  method: Type.Enum([...VERIFICATION_METHODS], { description: 'How the identity of the subject (or agent) was verified' }),
  reference: Type.Optional(shortText(200, 'Reference to the evidence, e.g. a ticket or check id'))
}, {
  $id: 'Verification',
  additionalProperties: false,
  examples: [{ method: 'account_login' }]
})

export const CreateRequestSchema = Type.Object({
  type: RequestTypeSchema,
  subject: ref(SubjectSchema),
  regime: RegimeSchema,
  jurisdiction: Type.Optional(Type.String({ pattern: '^[A-Z]{2}(-[A-Z0-9]{1,3})?$', description: 'ISO 3166 code, e.g. GB, GB-SCT, US-CA' })),
  received_at: Type.Optional(Type.String({ format: 'date-time', description: 'When the company received the request; defaults to now, never in the future' })),
  time_zone: Type.Optional(Type.String({ format: 'iana-time-zone', maxLength: 64, description: 'IANA zone the deadline is counted in; UTC by default' })),
  channel: Defaulted(Type.Enum([...CHANNELS], { default: 'api' })),
  requester: Type.Optional(ref(RequesterSchema)),
  callback_url: Type.Optional(Type.String({
    format: 'uri',
    pattern: '^https?://',
    maxLength: 2048,
    description: 'Where every status change of the request is POSTed, signed (see GET /v1/requests/{id}/callbacks). ' +
      'Its origin must be in CALLBACK_ALLOWLIST, or the request is refused with DSR_CALLBACK_URL_NOT_ALLOWED'
  })),
  changes: Type.Optional(Type.Array(ChangeSchema, { minItems: 1, maxItems: 50, description: 'Required for rectification, refused otherwise' })),
  purposes: Type.Optional(Type.Array(Type.Enum([...OPT_OUT_PURPOSES]), {
    minItems: 1,
    uniqueItems: true,
    description: 'What the person stops (marketing_opt_out, consent_withdrawal and objection only, refused otherwise): ' +
      'marketing, partner_sharing (passing their data to partners for their own use), profiling. ' +
      'Defaults to marketing for a marketing opt-out and an objection, and to all three for a consent withdrawal'
  })),
  notes: Type.Optional(Type.String({ maxLength: 4000 })),
  verification: Type.Optional(ref(VerificationSchema)),
  child: Type.Optional(Type.Boolean({
    description: 'The person is a child: an erasure then needs no approval and reaches every system, and the request is due internally ' +
      'CHILD_DUE_DAYS after receipt and leads the deadline report'
  })),
  age: Type.Optional(Type.Integer({
    minimum: 0,
    maximum: 150,
    description: "The person's age in years, where known: under CHILD_AGE (14 by default) marks a child. Only the mark is kept, never the age"
  }))
}, {
  $id: 'CreateRequest',
  additionalProperties: false,
  examples: [{
    type: 'access',
    subject: { email: 'ada@example.com' },
    regime: 'gdpr',
    jurisdiction: 'DE',
    received_at: '2026-01-31T09:15:00Z',
    channel: 'email'
  }]
})
export type CreateRequest = Static<typeof CreateRequestSchema>

const dateTime = Type.String({ format: 'date-time' })
const nullableDateTime = Nullable(dateTime)

export const TaskSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  connector: Type.String(),
  account: Nullable(Type.String({ description: "The managed customer account whose records this task serves, as its administrator instructed; null: the company's own part" })),
  action: Type.String({ examples: ['collect', 'erase'] }),
  status: Type.Enum([...TASK_STATUSES], { description: 'manual: a person does it, by `instructions`, and records the outcome (links.complete)' }),
  attempts: Type.Integer(),
  max_attempts: Type.Integer(),
  next_attempt_at: nullableDateTime,
  result: Nullable(Type.Object({
    records: Type.Optional(Type.Integer()),
    files: Type.Optional(Type.Integer()),
    bytes: Type.Optional(Type.Integer()),
    streams: Type.Optional(Type.Record(Type.String(), Type.Integer())),
    outcomes: Type.Optional(Type.Array(Type.Object({
      status: Type.String(),
      stream: Type.String(),
      count: Type.Optional(Type.Integer()),
      external_ref: Type.Optional(Type.String({ description: "deferred: the system's reference for the erasure it will carry out" })),
      externalRef: Type.Optional(Type.String({ deprecated: true, description: 'The same as external_ref, under the name first answered; read external_ref' })),
      reason: Type.Optional(Type.String()),
      ground: Type.Optional(Type.String({ description: 'retained: the legal ground code it is kept on (GET /v1/holds/grounds lists them)' })),
      reference: Type.Optional(Type.String({ description: "retained under a legal hold: the hold's reference (a case or matter number)" })),
      review: Type.Optional(Type.String({ description: 'retained: when keeping it is to be reviewed, as an ISO 8601 duration from the erasure' })),
      purposes: Type.Optional(Type.Array(Type.String(), {
        description: 'opt_out: the purposes this stream stopped (opted_out), or cannot stop (not_supported: a person handles them, see reason)'
      }))
    }))),
    manual: Type.Optional(ref(ManualOutcomeSchema)),
    refusal: Type.Optional(ref(RefusalSchema)),
    verification: Type.Optional(Type.Object({
      status: Type.Enum(['verified', 'residue', 'not_verifiable']),
      checked_at: nullableDateTime,
      checks: Type.Integer(),
      reason: Type.Optional(Type.String()),
      retained: Type.Optional(Type.Record(Type.String(), Type.Integer())),
      deferred: Type.Optional(Type.Array(Type.String())),
      residue: Type.Optional(Type.Record(Type.String(), Type.Integer()))
    }, { description: "An erase task's search of the system after it erased: counts per stream of what it still found, never values" })),
    kept: Type.Optional(Type.Object({
      reason: Type.String(),
      restrictions: Type.Array(Type.Object({ request_id: Type.String({ format: 'uuid' }), type: Type.String() }))
    }, { description: "An unrestrict task that left the person's restriction mark in place, because these other requests' restrictions are still in force" }))
  }), { description: 'Counts per stream for collect, outcomes for the other actions (erase, restrict, opt_out…), a manual task\'s outcome, a refusal; never values' }),
  last_error_code: Nullable(Type.String()),
  last_error_message: Nullable(Type.String()),
  skip_reason: Nullable(Type.String()),
  instructions: Nullable(Type.String(), { description: 'A manual task\'s instructions, from the connector file' }),
  waiting_on: Nullable(Type.String(), {
    description: 'While status is waiting: the connector whose health check says down (last_error_message says why). The task resumes by itself when it recovers.'
  }),
  started_at: nullableDateTime,
  finished_at: nullableDateTime,
  links: Type.Object({ retry: Type.String(), skip: Type.String(), refuse: Type.String(), complete: Type.String() }, { additionalProperties: false })
}, { $id: 'Task', additionalProperties: false })

export const ExtensionSchema = Type.Object({
  taken_at: { ...dateTime, description: 'When the extension was recorded' },
  reason: Type.String({ description: 'Why the request needs more time (complexity, number of requests), as staff wrote it' }),
  by: Type.String({ description: 'Name of the API key that took it' }),
  notified_subject_at: Nullable(dateTime, {
    description: 'When the person was told of the extension and its reasons; null if not recorded'
  })
}, { $id: 'Extension', additionalProperties: false })
export type Extension = Static<typeof ExtensionSchema>

export const RestrictionSchema = Type.Object({
  placed_at: {
    ...dateTime,
    description: "When a system first marked the person's data as restricted (a restrict task succeeded with records restricted)"
  },
  lifted_at: Nullable(dateTime, {
    description: 'When the lift was recorded and its unrestrict tasks planned (POST /v1/requests/{id}/restriction/lift); null while the restriction holds'
  }),
  lifted_by: Nullable(Type.String(), { description: 'Name of the API key that lifted it' }),
  lift_reason: Nullable(Type.String(), { description: 'Why it was lifted, as staff wrote it' }),
  notified_subject_at: Nullable(dateTime, {
    description: 'When the person was told that the restriction would be lifted (GDPR Art 18(3): before it is lifted)'
  })
}, { $id: 'Restriction', additionalProperties: false })
export type Restriction = Static<typeof RestrictionSchema>

export const DataSubjectRequestSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  type: RequestTypeSchema,
  status: RequestStatusSchema,
  held_from: Nullable(RequestStatusSchema),
  regime: RegimeSchema,
  jurisdiction: Nullable(Type.String()),
  subject: ref(SubjectSchema),
  requester: ref(RequesterSchema),
  channel: Type.Enum([...CHANNELS]),
  callback_url: Nullable(Type.String()),
  refusal: Nullable(ref(RefusalSchema), { description: 'Why the request was rejected: the legal ground, its provision and what the person is told; null unless rejected' }),
  changes: Nullable(Type.Array(ChangeSchema)),
  purposes: Nullable(Type.Array(Type.Enum([...OPT_OUT_PURPOSES])), {
    description: 'What an opt-out request (marketing_opt_out, consent_withdrawal, objection) stops: those asked for, or its default; null for other types'
  }),
  notes: Nullable(Type.String()),
  received_at: dateTime,
  due_at: { ...dateTime, description: 'The statutory deadline, without extension (the same as deadline.due_at)' },
  effective_due_at: {
    ...dateTime,
    description: 'The deadline the request is judged by: deadline.extended_due_at once the extension is taken, due_at otherwise. ' +
      'Overdue filters, deadline warnings and metrics use it.'
  },
  extension: Nullable(ref(ExtensionSchema), {
    description: 'The statutory extension, once taken (POST /v1/requests/{id}/extension); null until then'
  }),
  deadline: Type.Object({
    due_at: dateTime,
    due_date: Type.String({ format: 'date', description: 'The due day in time_zone' }),
    time_zone: Type.String(),
    acknowledge_by: nullableDateTime,
    extended_due_at: Nullable(dateTime, {
      description: 'Latest date if extended: the deadline with the statutory extension, null where the law has none. ' +
        'Only a possibility until the extension is taken (see extension and effective_due_at).'
    }),
    rule: Type.String(),
    clock: Type.Object({
      waiting_on_subject_since: Nullable(dateTime, { description: 'Since when the request waits in verifying on the person (a verification e-mail was sent); null otherwise' }),
      paused_since: Nullable(dateTime, { description: 'Since when the deadline is paused while waiting (UK GDPR Art 12A only); null when it runs' }),
      paused_days: Type.Integer({ minimum: 0, description: 'Whole days the deadline was paused so far: due_at and extended_due_at moved by them' })
    }, { additionalProperties: false })
  }, { additionalProperties: false }),
  child: Type.Boolean({ description: 'The request is about a child (marked at intake by `child` or `age`)' }),
  internal_due_at: Nullable(dateTime, {
    description: "A child's request: the date the company holds itself to, CHILD_DUE_DAYS after receipt (never after the legal deadline); null otherwise"
  }),
  duplicate_of: Nullable(Type.String({ format: 'uuid' }), {
    description: 'The open request for the same person and type this one arrived after (DUPLICATE_POLICY link, or merge of a request that asked more); null if none'
  }),
  restriction: Nullable(ref(RestrictionSchema), {
    description: "Restriction of processing (restriction and objection requests): placed once a system marked the person's data, " +
      'then lifted explicitly. The unrestrict tasks of a lift are listed with the other tasks. Null for other types and until placed.'
  }),
  identifiers_redacted_at: Nullable(dateTime, {
    description: 'When the personal data of this closed request was removed (REQUEST_IDENTIFIERS_RETENTION_DAYS after it closed): ' +
      'subject is then empty, requester keeps only its kind, callback_url and notes are null, changes keep their field names only, ' +
      'and free-text reasons read "[redacted]". What was asked, when, and what each system did stay.'
  }),
  created_at: dateTime,
  updated_at: dateTime,
  tasks: Type.Optional(Type.Array(ref(TaskSchema), { description: 'One per connector and action; included when a single request is read' })),
  archive: Type.Optional(Nullable(ref(ArchiveSummarySchema), {
    description: 'The portability archive (access and portability requests, once completed); included when a single request is read'
  })),
  links: Type.Object({
    self: Type.String(),
    events: Type.String(),
    cancel: Type.String(),
    verify: Type.String(),
    items: Type.String(),
    extension: Type.String()
  }, { additionalProperties: false })
}, {
  $id: 'DataSubjectRequest',
  additionalProperties: false,
  examples: [{
    id: '0b6f3a52-4a8e-4d3c-9c0e-2f1e8a7b5c11',
    type: 'access',
    status: 'received',
    held_from: null,
    regime: 'gdpr',
    jurisdiction: 'DE',
    subject: { email: 'ada@example.com' },
    requester: { kind: 'subject' },
    channel: 'email',
    callback_url: null,
    refusal: null,
    changes: null,
    purposes: null,
    notes: null,
    received_at: '2026-01-31T09:15:00.000Z',
    due_at: '2026-02-28T23:59:59.999Z',
    effective_due_at: '2026-02-28T23:59:59.999Z',
    extension: null,
    restriction: null,
    child: false,
    internal_due_at: null,
    duplicate_of: null,
    identifiers_redacted_at: null,
    deadline: {
      due_at: '2026-02-28T23:59:59.999Z',
      due_date: '2026-02-28',
      time_zone: 'UTC',
      acknowledge_by: null,
      extended_due_at: '2026-04-30T23:59:59.999Z',
      rule: 'GDPR Art 12(3): one month from receipt',
      clock: { waiting_on_subject_since: null, paused_since: null, paused_days: 0 }
    },
    created_at: '2026-01-31T09:20:11.402Z',
    updated_at: '2026-01-31T09:20:11.402Z',
    links: {
      self: '/v1/requests/0b6f3a52-4a8e-4d3c-9c0e-2f1e8a7b5c11',
      events: '/v1/requests/0b6f3a52-4a8e-4d3c-9c0e-2f1e8a7b5c11/events',
      cancel: '/v1/requests/0b6f3a52-4a8e-4d3c-9c0e-2f1e8a7b5c11/cancel',
      verify: '/v1/requests/0b6f3a52-4a8e-4d3c-9c0e-2f1e8a7b5c11/verify',
      items: '/v1/requests/0b6f3a52-4a8e-4d3c-9c0e-2f1e8a7b5c11/items',
      extension: '/v1/requests/0b6f3a52-4a8e-4d3c-9c0e-2f1e8a7b5c11/extension'
    }
  }]
})
export type DataSubjectRequest = Static<typeof DataSubjectRequestSchema>

export const ListRequestsQuerySchema = Type.Object({
  status: Type.Optional(Type.Array(RequestStatusSchema, { maxItems: 10, description: 'Repeat to match any of several' })),
  type: Type.Optional(Type.Array(RequestTypeSchema, { maxItems: 10 })),
  regime: Type.Optional(Type.Array(RegimeSchema, { maxItems: 10 })),
  due_before: Type.Optional(Type.String({ format: 'date-time', description: 'Requests whose effective_due_at is before this instant' })),
  due_after: Type.Optional(Type.String({ format: 'date-time', description: 'Requests whose effective_due_at is at or after this instant' })),
  overdue: Type.Optional(Type.Boolean({ description: 'true: open requests past their effective_due_at; false: the rest' })),
  limit: Defaulted(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
  cursor: Type.Optional(Type.String({ maxLength: 200, description: 'next_cursor of the previous page' }))
}, { additionalProperties: false })
export type ListRequestsQuery = Static<typeof ListRequestsQuerySchema>

export const RequestListSchema = Type.Object({
  data: Type.Array(ref(DataSubjectRequestSchema)),
  next_cursor: Nullable(Type.String(), { description: 'Pass as cursor for the next page; null on the last page' })
}, {
  $id: 'RequestList',
  additionalProperties: false,
  examples: [{ data: (DataSubjectRequestSchema as { examples?: unknown[] }).examples, next_cursor: null }]
})

export const CancelRequestSchema = Type.Object({
  reason: Type.String({ minLength: 1, maxLength: 1000 })
}, { $id: 'CancelRequest', additionalProperties: false, examples: [{ reason: 'Withdrawn by the requester by e-mail' }] })

export const RequestEventSchema = Type.Object({
  id: Type.Integer(),
  at: dateTime,
  actor: Type.String({ description: 'Name of the API key or component that acted' }),
  action: Type.String({ examples: ['created', 'transition'] }),
  from_status: Nullable(RequestStatusSchema),
  to_status: Nullable(RequestStatusSchema),
  reason: Nullable(Type.String()),
  details: Nullable(Type.Object({}, { additionalProperties: true }))
}, { $id: 'RequestEvent', additionalProperties: false })

export const RequestEventListSchema = Type.Object({
  data: Type.Array(ref(RequestEventSchema))
}, { $id: 'RequestEventList', additionalProperties: false })

export const SkipTaskSchema = Type.Object({
  reason: Type.String({ minLength: 1, maxLength: 1000 })
}, { $id: 'SkipTask', additionalProperties: false, examples: [{ reason: 'Confirmed by the CRM owner that the person has no account' }] })

export const TaskParamsSchema = Type.Object({
  id: Type.String({ format: 'uuid', description: 'Request id' }),
  taskId: Type.String({ format: 'uuid' })
}, { additionalProperties: false })

export const ItemsQuerySchema = Type.Object({
  connector: Type.Optional(Type.String({ maxLength: 40 })),
  stream: Type.Optional(Type.String({ maxLength: 64 })),
  limit: Defaulted(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  cursor: Type.Optional(Type.String({ maxLength: 200 }))
}, { additionalProperties: false })
export type ItemsQuery = Static<typeof ItemsQuerySchema>

export const CollectedItemSchema = Type.Object({
  connector: Type.String(),
  stream: Type.String(),
  key: Type.String(),
  kind: Type.Enum(['record', 'file']),
  data: Nullable(Type.Record(Type.String(), Type.Unknown())),
  file: Nullable(Type.Object({
    name: Type.String(), content_type: Type.String(), size: Type.Integer(), sha256: Type.String()
  })),
  collected_at: dateTime
}, { $id: 'CollectedItem', additionalProperties: false })

export const CollectedItemListSchema = Type.Object({
  data: Type.Array(ref(CollectedItemSchema)),
  next_cursor: Nullable(Type.String())
}, { $id: 'CollectedItemList', additionalProperties: false })

export const requestSchemas = [
  VerificationSchema, TaskSchema, SkipTaskSchema, CollectedItemSchema, CollectedItemListSchema, ExtensionSchema,
  RestrictionSchema,
  SubjectSchema, RequesterSchema, CreateRequestSchema, DataSubjectRequestSchema, RequestListSchema,
  CancelRequestSchema, RequestEventSchema, RequestEventListSchema
] as const
