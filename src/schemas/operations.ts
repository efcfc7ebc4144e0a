import { Type, type TSchema } from 'typebox'
import { Nullable, ref } from './common.js'

const dateTime = Type.String({ format: 'date-time' })
const HealthStatus = Type.Enum(['ok', 'down', 'unknown'], { description: 'unknown: never checked yet' })

export const ConnectorHealthSchema = Type.Object({
  connector: Type.String(),
  status: HealthStatus,
  latency_ms: Nullable(Type.Integer()),
  checked_at: Nullable(dateTime),
  message: Nullable(Type.String(), { description: 'Why it is down (never data)' })
}, { $id: 'ConnectorHealth', additionalProperties: false })

export const ConnectorSchema = Type.Object({
  id: Type.String(),
  driver: Type.String(),
  display_name: Type.String(),
  capabilities: Type.Array(Type.String()),
  streams: Type.Array(Type.Object({
    name: Type.String(), description: Type.String(), categories: Type.Array(Type.String())
  }, { additionalProperties: false })),
  required: Type.Boolean({ description: 'When down, /health/ready answers 503' }),
  health_check_seconds: Type.Integer(),
  health: ref(ConnectorHealthSchema)
}, { $id: 'Connector', additionalProperties: false })

export const ConnectorListSchema = Type.Object({
  data: Type.Array(ref(ConnectorSchema))
}, { $id: 'ConnectorList', additionalProperties: false })

export const ConnectorHealthSummarySchema = Type.Object({
  counts: Type.Object({ ok: Type.Integer(), down: Type.Integer(), unknown: Type.Integer() }, { additionalProperties: false }),
  connectors: Type.Array(ref(ConnectorHealthSchema))
}, { $id: 'ConnectorHealthSummary', additionalProperties: false })

export const RetentionSweepSchema = Type.Object({
  connector: Type.String(),
  dry_run: Type.Boolean(),
  total: Type.Integer({ description: 'Rows deleted or blanked (or, in a dry run, that would be)' }),
  tables: Type.Record(Type.String(), Type.Object({
    action: Type.Enum(['delete', 'null_columns']),
    rows: Type.Integer(),
    cutoff: dateTime
  }, { additionalProperties: false }))
}, { $id: 'RetentionSweep', additionalProperties: false })

const DeadlineEntrySchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  type: Type.String(),
  regime: Type.String(),
  status: Type.String(),
  due_at: { ...dateTime, description: 'The deadline the request is judged by (its effective_due_at: the extended date once the extension is taken)' },
  hours_left: Type.Number({ description: 'Hours until due, to one decimal; negative when overdue (at most -0.1)' }),
  child: Type.Boolean({ description: "About a child: children's requests lead each list" }),
  internal_due_at: Nullable(dateTime, {
    description: "A child's internal due date (CHILD_DUE_DAYS after receipt); a child's request is listed once it falls within the window, even if its legal deadline does not"
  }),
  waiting_on_subject_since: Type.Optional({
    ...dateTime,
    description: 'Present while the request waits in verifying on the person (a verification e-mail was sent) and its clock keeps running ' +
      '(every regime but UK GDPR): since when. A UK GDPR request whose clock is paused is not listed until it resumes.'
  })
}, { additionalProperties: false })

const AccountPartDueSchema = Type.Object({
  request_id: Type.String({ format: 'uuid' }),
  type: Type.String(),
  account: Type.String({ description: 'The managed account whose administrator has not decided yet' }),
  due_at: { ...dateTime, description: "When the company's assistance to the controller is due (GDPR Art 28(3)(e)): the account's assistance days after routing" },
  hours_left: Type.Number({ description: 'Hours until due, to one decimal; negative when overdue' })
}, { additionalProperties: false })

export const DeadlineReportSchema = Type.Object({
  generated_at: dateTime,
  window_hours: Type.Integer(),
  due_soon: Type.Array(DeadlineEntrySchema),
  overdue: Type.Array(DeadlineEntrySchema),
  account_parts: Type.Array(AccountPartDueSchema, {
    description: "Parts of requests that wait for a managed account's administrator and are due within the window or overdue, earliest first"
  })
}, { $id: 'DeadlineReport', additionalProperties: false })

export const operationsSchemas: readonly TSchema[] = [
  ConnectorHealthSchema, ConnectorSchema, ConnectorListSchema, ConnectorHealthSummarySchema, RetentionSweepSchema, DeadlineReportSchema
]
