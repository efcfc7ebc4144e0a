import type { RequestRow } from '../db/repositories/requests-repository.js'
import type { TaskRow } from '../db/repositories/tasks-repository.js'
import { Errors } from '../errors.js'
import type { DataSubjectRequest } from '../schemas/requests.js'
import { stopsPurposes, type OptOutPurpose } from '../domain/purposes.js'

/** How requests and their tasks are shown over the API, and the list cursors. */

export function encodeCursor (seq: number): string {
  return Buffer.from(`v1:${seq}`).toString('base64url')
}

export function decodeCursor (cursor: string): number {
  const match = /^v1:(\d{1,15})$/.exec(Buffer.from(cursor, 'base64url').toString())
  if (!match) throw new Errors.InvalidCursor()
  return Number(match[1])
}

export function toResource (r: RequestRow): DataSubjectRequest {
  const self = `/v1/requests/${r.id}`
  const dueAt = r.dueAt.toISOString()
  return {
    id: r.id,
    type: r.type,
    status: r.status,
    held_from: r.heldFrom,
    regime: r.regime,
    jurisdiction: r.jurisdiction,
    subject: r.subject,
    requester: r.requester as DataSubjectRequest['requester'],
    channel: r.channel,
    callback_url: r.callbackUrl,
    refusal: r.refusal ?? null,
    changes: r.changes as DataSubjectRequest['changes'],
    purposes: stopsPurposes(r.type) ? r.optOutPurposes as OptOutPurpose[] : null,
    notes: r.notes,
    received_at: r.receivedAt.toISOString(),
    due_at: dueAt,
    effective_due_at: r.effectiveDueAt.toISOString(),
    extension: r.extensionTakenAt === null
      ? null
      : {
          taken_at: r.extensionTakenAt.toISOString(),
          reason: r.extensionReason ?? '',
          by: r.extensionTakenBy ?? '',
          notified_subject_at: r.extensionNotifiedSubjectAt?.toISOString() ?? null
        },
    deadline: {
      due_at: dueAt,
      due_date: dueDateIn(r.dueAt, r.timeZone),
      time_zone: r.timeZone,
      acknowledge_by: r.acknowledgeBy?.toISOString() ?? null,
      extended_due_at: r.extendedDueAt?.toISOString() ?? null,
      rule: r.deadlineRule,
      clock: {
        waiting_on_subject_since: r.verifyingSince?.toISOString() ?? null,
        paused_since: r.clockPausedSince?.toISOString() ?? null,
        paused_days: r.clockPausedDays
      }
    },
    child: r.child,
    internal_due_at: r.internalDueAt?.toISOString() ?? null,
    duplicate_of: r.duplicateOf,
    restriction: (r.type === 'restriction' || r.type === 'objection') && r.restrictionPlacedAt !== null
      ? {
          placed_at: r.restrictionPlacedAt.toISOString(),
          lifted_at: r.restrictionLiftedAt?.toISOString() ?? null,
          lifted_by: r.restrictionLiftedBy,
          lift_reason: r.restrictionLiftReason,
          notified_subject_at: r.restrictionNotifiedSubjectAt?.toISOString() ?? null
        }
      : null,
    identifiers_redacted_at: r.identifiersRedactedAt?.toISOString() ?? null,
    created_at: r.createdAt.toISOString(),
    updated_at: r.updatedAt.toISOString(),
    links: {
      self, events: `${self}/events`, cancel: `${self}/cancel`, verify: `${self}/verify`, items: `${self}/items`, extension: `${self}/extension`
    }
  }
}

/** 'uk_gdpr' → 'UK GDPR', for messages. */

/**
 * A deferred outcome's reference as `external_ref`, the API's (and the receipt's) casing, and still as
 * `externalRef`, the connector contract's name under which it was first answered, for callers that read it.
 */
function withExternalRef (result: NonNullable<TaskRow['result']>): NonNullable<TaskRow['result']> & { outcomes?: Array<{ external_ref?: string }> } {
  if (!result.outcomes) return result
  return { ...result, outcomes: result.outcomes.map((o) => (o.externalRef === undefined ? o : { ...o, external_ref: o.externalRef })) }
}

export function toTaskResource (t: TaskRow) {
  const self = `/v1/requests/${t.requestId}/tasks/${t.id}`
  return {
    id: t.id,
    connector: t.connectorId,
    account: t.accountId,
    action: t.action,
    status: t.status,
    attempts: t.attempts,
    max_attempts: t.maxAttempts,
    next_attempt_at: t.nextAttemptAt?.toISOString() ?? null,
    result: t.result ? withExternalRef(t.result) : null,
    last_error_code: t.lastErrorCode,
    last_error_message: t.lastErrorMessage,
    skip_reason: t.skipReason,
    instructions: t.instructions,
    waiting_on: t.status === 'waiting' ? t.connectorId : null,
    started_at: t.startedAt?.toISOString() ?? null,
    finished_at: t.finishedAt?.toISOString() ?? null,
    links: { retry: `${self}/retry`, skip: `${self}/skip`, refuse: `${self}/refuse`, complete: `${self}/complete` }
  }
}

// One formatter per zone: building an Intl.DateTimeFormat is far dearer than using one.
const dayFormats = new Map<string, Intl.DateTimeFormat>()

function dueDateIn (dueAt: Date, timeZone: string): string {
  if (timeZone === 'UTC') return dueAt.toISOString().slice(0, 10)
  let format = dayFormats.get(timeZone)
  if (!format) {
    // en-CA formats as YYYY-MM-DD. Zones stored on requests were validated, so the map stays small.
    format = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' })
    dayFormats.set(timeZone, format)
  }
  return format.format(dueAt)
}
