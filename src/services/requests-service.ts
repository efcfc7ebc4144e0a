import { randomUUID } from 'node:crypto'
import { computeDeadline, type DeadlineOptions, type Regime } from '../domain/deadlines.js'
import type { RequestStatus } from '../domain/lifecycle.js'
import { Errors } from '../errors.js'
import type { RequestRow, RequestsRepository } from '../db/repositories/requests-repository.js'
import type { TasksRepository } from '../db/repositories/tasks-repository.js'
import type { createItemsRepository } from '../db/repositories/items-repository.js'
import type { FulfilmentService } from './fulfilment-service.js'
import type { ManualCompletion, RefusalInput } from './decisions.js'
import type { CreateRequest, DataSubjectRequest, ItemsQuery, ListRequestsQuery } from '../schemas/requests.js'
import type { ExtensionNotice, LiftRestriction, TakeExtension } from '../schemas/request-actions.js'
import { asksNothingNew, checkNotifiedAt, checkRequest, fingerprint, normaliseSubject, regimeLabel, requestPurposes } from './request-rules.js'
import type { ArchiveSummary } from '../schemas/archives.js'
import type { DbHandle, TxHandle } from '../db/client.js'
import { subjectKeys, type DuplicatePolicy } from '../domain/duplicates.js'
import { childAtIntake, childDueAt, type ChildPolicy } from '../domain/children.js'
import { decodeCursor, encodeCursor, toResource, toTaskResource } from './request-resource.js'

export interface Principal { name: string, scopes: readonly string[] }

/** A created request; `merged` when it was answered with the open request for the same person (DUPLICATE_POLICY merge). */
export interface CreateResult { request: DataSubjectRequest, replayed: boolean, merged?: boolean }

export interface ExtensionOutcome { request: DataSubjectRequest, replayed: boolean }

export function createRequestsService (deps: {
  repo: RequestsRepository
  tasks: TasksRepository
  items: ReturnType<typeof createItemsRepository>
  /** Transactions, for intake under a duplicate policy that acts on what it finds (merge, refuse). */
  dbh: Pick<DbHandle, 'transaction'>
  duplicates: DuplicatePolicy
  children: ChildPolicy
  fulfilment: Pick<FulfilmentService, 'createVerified' | 'verify' | 'retryTask' | 'skipTask' | 'liftRestriction' | 'approve' | 'reject' | 'refuseTask' | 'completeTask'>
  deadlines: DeadlineOptions
  /** The request's archive, shown when one request is read. */
  archiveOf?: (requestId: string) => Promise<ArchiveSummary | null>
  /** Why a callback_url can never be called here (callbacks/settings.ts callbackUrlRefusal), or null. */
  callbackRefusal: (callbackUrl: string) => string | null
  /** The earliest `received_at` accepted at a given time (config.ts earliestReceivedAt); none when not given. */
  earliestReceivedAt?: (now: Date) => Date
  now?: () => Date
}) {
  const { repo } = deps
  const now = deps.now ?? (() => new Date())

  return {
    async create (input: CreateRequest, principal: Principal, idempotencyKey?: string): Promise<CreateResult> {
      const at = now()
      const receivedAt = input.received_at ? new Date(input.received_at) : at
      const subject = normaliseSubject(input.subject)
      const { child, problem } = childAtIntake(input, deps.children)
      checkRequest(input, subject, receivedAt, at, deps.earliestReceivedAt?.(at), problem)
      // Accepted means called: a callback_url the configuration would never call is refused, not stored.
      const refusal = input.callback_url !== undefined ? deps.callbackRefusal(input.callback_url) : null
      if (refusal) throw new Errors.CallbackUrlNotAllowed(refusal)

      const deadline = computeDeadline({
        regime: input.regime as Regime,
        receivedAt,
        ...(input.time_zone ? { timeZone: input.time_zone } : {}),
        ...(input.jurisdiction ? { jurisdiction: input.jurisdiction } : {})
      }, deps.deadlines)

      const row = {
        id: randomUUID(),
        type: input.type,
        status: 'received' as const,
        regime: input.regime,
        jurisdiction: input.jurisdiction ?? null,
        subject,
        requester: input.requester ?? { kind: 'subject' },
        channel: input.channel,
        callbackUrl: input.callback_url ?? null,
        changes: input.changes ?? null,
        optOutPurposes: requestPurposes(input),
        notes: input.notes ?? null,
        timeZone: deadline.timeZone,
        receivedAt,
        dueAt: deadline.dueAt,
        acknowledgeBy: deadline.acknowledgeBy,
        extendedDueAt: deadline.extendedDueAt,
        deadlineRule: deadline.rule,
        createdBy: principal.name,
        idempotencyKey: idempotencyKey ?? null,
        requestHash: idempotencyKey ? fingerprint(input) : null,
        subjectKeys: subjectKeys(subject),
        child,
        internalDueAt: child ? childDueAt(receivedAt, deadline.dueAt, deps.children) : null,
        createdAt: at,
        updatedAt: at
      }
      let result: CreateResult
      const policy = deps.duplicates.for(input.type)
      // Verified by the caller (a logged-in account, say): stored, planned and queued in one statement.
      const store = async (tx?: TxHandle): Promise<{ duplicateOf: string | null, verified: Awaited<ReturnType<FulfilmentService['createVerified']>> } | null> => {
        if (input.verification) {
          const verified = await deps.fulfilment.createVerified(row, principal.name, input.verification.method, tx)
          return verified ? { duplicateOf: verified.duplicateOf, verified } : null
        }
        const stored = tx ? await repo.insertIn(row, principal.name, tx) : await repo.insert(row, principal.name)
        return stored ? { duplicateOf: stored.duplicateOf, verified: null } : null
      }
      // A policy that acts on a duplicate looks for one and stores under the person's lock, so that
      // two requests arriving together cannot both miss each other; `link` needs no lock (intake
      // links the new request in the statement that stores it).
      const outcome = policy === 'link'
        ? await store()
        : await deps.dbh.transaction(async (tx) => {
          await repo.lockSubject(row.type, row.subjectKeys, tx)
          const open = await repo.findOpenDuplicate(row.type, row.subjectKeys, tx)
          // The open request's id rides on the error too, for callers that follow it (the privacy centre).
          if (open && policy === 'refuse') throw Object.assign(new Errors.DuplicateRequest(open.type, open.id), { openRequestId: open.id })
          if (open && asksNothingNew(input, open)) {
            await repo.recordEvent(open.id, principal.name, 'duplicate_merged', 'a request for the same person and type arrived and was answered with this one (DUPLICATE_POLICY merge)',
              { channel: input.channel }, tx)
            return { merged: open.id }
          }
          return store(tx)
        })
      if (outcome && 'merged' in outcome) return { request: await this.get(outcome.merged), replayed: false, merged: true }
      const verified = outcome?.verified ?? null
      if (outcome) {
        // One object literal, not `{ ...row, <13 more fields> }`: adding that many properties after
        // a spread drops V8 into dictionary mode, which made building and reading this row the
        // dearest JS on the intake path (the profile put it above the deadline computation).
        const stored: RequestRow = {
          id: row.id,
          seq: 0,
          type: row.type,
          status: verified?.status ?? row.status,
          heldFrom: null,
          regime: row.regime,
          jurisdiction: row.jurisdiction,
          subject: row.subject,
          requester: row.requester,
          channel: row.channel,
          callbackUrl: row.callbackUrl,
          refusal: null,
          changes: row.changes,
          optOutPurposes: row.optOutPurposes,
          notes: row.notes,
          timeZone: row.timeZone,
          receivedAt: row.receivedAt,
          dueAt: row.dueAt,
          acknowledgeBy: row.acknowledgeBy,
          extendedDueAt: row.extendedDueAt,
          deadlineRule: row.deadlineRule,
          extensionTakenAt: null,
          extensionTakenBy: null,
          extensionReason: null,
          extensionNotifiedSubjectAt: null,
          effectiveDueAt: row.dueAt,
          restrictionPlacedAt: null,
          restrictionLiftedAt: null,
          restrictionLiftedBy: null,
          restrictionLiftReason: null,
          restrictionNotifiedSubjectAt: null,
          verifyingSince: null,
          clockPausedSince: null,
          clockPausedDays: 0,
          createdBy: row.createdBy,
          identifiersRedactedAt: null,
          subjectKeys: row.subjectKeys,
          duplicateOf: outcome.duplicateOf,
          child: row.child,
          internalDueAt: row.internalDueAt,
          idempotencyKey: row.idempotencyKey,
          requestHash: row.requestHash,
          createdAt: row.createdAt,
          updatedAt: row.updatedAt
        }
        const tasks = (verified?.tasks ?? []).slice().sort((a, b) => a.connectorId.localeCompare(b.connectorId) || a.action.localeCompare(b.action))
        result = { request: { ...toResource(stored), tasks: tasks.map(toTaskResource), archive: null }, replayed: false }
        return result
      } else {
        // The key was used before by this client: same body → same request; otherwise refuse.
        const existing = await repo.findByIdempotencyKey(principal.name, idempotencyKey!)
        if (!existing || existing.requestHash !== row.requestHash) throw new Errors.IdempotencyKeyReused()
        result = { request: await this.get(existing.id), replayed: true }
      }
      // A replayed verified request that is still waiting for verification (stored unverified, then
      // the call was retried with verification) starts fulfilment now.
      if (input.verification && result.request.status === 'received') {
        await deps.fulfilment.verify(result.request.id, principal.name, input.verification.method)
        return { ...result, request: await this.get(result.request.id) }
      }
      return result
    },

    async get (id: string): Promise<DataSubjectRequest> {
      const row = await repo.findById(id)
      if (!row) throw new Errors.RequestNotFound(id)
      const [tasks, archive] = await Promise.all([deps.tasks.forRequest(id), deps.archiveOf?.(id) ?? null])
      return { ...toResource(row), tasks: tasks.map(toTaskResource), archive }
    },

    /** What was collected for the request, page by page (collection order). */
    async items (id: string, q: ItemsQuery) {
      if (!(await repo.findById(id))) throw new Errors.RequestNotFound(id)
      const rows = await deps.items.page(id, {
        ...(q.connector ? { connector: q.connector } : {}),
        ...(q.stream ? { stream: q.stream } : {}),
        ...(q.cursor ? { afterId: decodeCursor(q.cursor) } : {}),
        limit: q.limit + 1
      })
      const page = rows.slice(0, q.limit)
      const last = page[page.length - 1]
      return {
        data: page.map((r) => ({
          connector: r.connectorId,
          stream: r.stream,
          key: r.itemKey,
          kind: r.kind as 'record' | 'file',
          data: r.data ?? null,
          file: r.file ? { name: r.file.name, content_type: r.file.contentType, size: r.file.size, sha256: r.file.sha256 } : null,
          collected_at: r.collectedAt.toISOString()
        })),
        next_cursor: rows.length > q.limit && last ? encodeCursor(last.id) : null
      }
    },

    async verify (id: string, principal: Principal, method: string): Promise<DataSubjectRequest> {
      await deps.fulfilment.verify(id, principal.name, method)
      return this.get(id)
    },

    async retryTask (id: string, taskId: string, principal: Principal): Promise<DataSubjectRequest> {
      await deps.fulfilment.retryTask(id, taskId, principal.name)
      return this.get(id)
    },

    async skipTask (id: string, taskId: string, principal: Principal, reason: string): Promise<DataSubjectRequest> {
      await deps.fulfilment.skipTask(id, taskId, principal.name, reason)
      return this.get(id)
    },

    async approve (id: string, principal: Principal, note: string | null): Promise<DataSubjectRequest> {
      await deps.fulfilment.approve(id, principal.name, note)
      return this.get(id)
    },

    async reject (id: string, principal: Principal, input: RefusalInput): Promise<DataSubjectRequest> {
      await deps.fulfilment.reject(id, principal.name, input)
      return this.get(id)
    },

    async refuseTask (id: string, taskId: string, principal: Principal, input: RefusalInput): Promise<DataSubjectRequest> {
      await deps.fulfilment.refuseTask(id, taskId, principal.name, input)
      return this.get(id)
    },

    async completeTask (id: string, taskId: string, principal: Principal, input: ManualCompletion): Promise<DataSubjectRequest> {
      await deps.fulfilment.completeTask(id, taskId, principal.name, input)
      return this.get(id)
    },

    async list (q: ListRequestsQuery): Promise<{ data: DataSubjectRequest[], next_cursor: string | null }> {
      const rows = await repo.list({
        ...(q.status ? { status: q.status } : {}),
        ...(q.type ? { type: q.type } : {}),
        ...(q.regime ? { regime: q.regime } : {}),
        ...(q.due_before ? { dueBefore: new Date(q.due_before) } : {}),
        ...(q.due_after ? { dueAfter: new Date(q.due_after) } : {}),
        ...(q.overdue !== undefined ? { overdue: q.overdue } : {}),
        ...(q.cursor ? { afterSeq: decodeCursor(q.cursor) } : {}),
        now: now(),
        limit: q.limit + 1
      })
      const page = rows.slice(0, q.limit)
      const last = page[page.length - 1]
      return {
        data: page.map(toResource),
        next_cursor: rows.length > q.limit && last ? encodeCursor(last.seq) : null
      }
    },

    async events (id: string) {
      const rows = await repo.events(id)
      if (rows.length === 0 && !(await repo.findById(id))) throw new Errors.RequestNotFound(id)
      return rows.map((e) => ({
        id: e.id,
        at: e.at.toISOString(),
        actor: e.actor,
        action: e.action,
        from_status: e.fromStatus,
        to_status: e.toStatus,
        reason: e.reason,
        details: e.details
      }))
    },

    /**
     * Takes the statutory extension (GDPR/UK GDPR Art 12(3), CCPA, PIPEDA s.8(4)): once per request,
     * while it is open, before its statutory due_at. A call repeating exactly the one that took it
     * (same API key, reason and notified_subject_at) is a replay: the request as it stands, nothing
     * written. Any other second attempt is refused with DSR_EXTENSION_ALREADY_TAKEN.
     * The reason is personal data as far as this service knows: it is never put in an error or a log.
     */
    async extend (id: string, input: TakeExtension, principal: Principal): Promise<ExtensionOutcome> {
      const at = now()
      const notifiedSubjectAt = input.notified_subject_at === undefined ? null : new Date(input.notified_subject_at)
      const existing = await repo.findById(id)
      if (!existing) throw new Errors.RequestNotFound(id)
      if (notifiedSubjectAt !== null) checkNotifiedAt(notifiedSubjectAt, existing.receivedAt, at)

      const result = await repo.extend(id, { actor: principal.name, reason: input.reason, notifiedSubjectAt, now: at })
      switch (result.status) {
        case 'not_found': throw new Errors.RequestNotFound(id)
        case 'not_available': throw new Errors.ExtensionNotAvailable(regimeLabel(result.row.regime))
        case 'closed': throw new Errors.ExtensionRequestClosed(result.row.status)
        case 'too_late': throw new Errors.ExtensionTooLate(result.row.dueAt.toISOString())
        case 'already_taken': {
          const r = result.row
          const replay = r.extensionTakenBy === principal.name && r.extensionReason === input.reason &&
            (r.extensionNotifiedSubjectAt?.getTime() ?? null) === (notifiedSubjectAt?.getTime() ?? null)
          if (!replay) throw new Errors.ExtensionAlreadyTaken()
          return { request: await this.get(id), replayed: true }
        }
        case 'extended': return { request: await this.get(id), replayed: false }
      }
    },

    /**
     * Records when the person was told of an extension that was taken without that date: once (a
     * second, identical call is a replay; a different date is refused), not in the future, not before
     * the request was received.
     */
    async recordExtensionNotice (id: string, input: ExtensionNotice, principal: Principal): Promise<ExtensionOutcome> {
      const at = now()
      const notifiedSubjectAt = new Date(input.notified_subject_at)
      const existing = await repo.findById(id)
      if (!existing) throw new Errors.RequestNotFound(id)
      checkNotifiedAt(notifiedSubjectAt, existing.receivedAt, at)
      const result = await repo.recordExtensionNotice(id, { actor: principal.name, notifiedSubjectAt, now: at })
      switch (result.status) {
        case 'not_found': throw new Errors.RequestNotFound(id)
        case 'not_taken': throw new Errors.ExtensionNotTaken()
        case 'already_recorded':
          if (result.row.extensionNotifiedSubjectAt?.getTime() !== notifiedSubjectAt.getTime()) throw new Errors.ExtensionNoticeRecorded()
          return { request: await this.get(id), replayed: true }
        case 'recorded': return { request: await this.get(id), replayed: false }
      }
    },

    /**
     * Lifts the restriction a completed restriction or objection request placed, once, after the
     * person was told (GDPR Art 18(3): `notified_subject_at` is required, not in the future, not
     * before the request was received). Plans the unrestrict tasks; see fulfilment-service liftRestriction.
     * The reason is personal data as far as this service knows: never put in an error or a log.
     */
    async liftRestriction (id: string, input: LiftRestriction, principal: Principal): Promise<DataSubjectRequest> {
      const at = now()
      const notifiedSubjectAt = new Date(input.notified_subject_at)
      const existing = await repo.findById(id)
      if (!existing) throw new Errors.RequestNotFound(id)
      checkNotifiedAt(notifiedSubjectAt, existing.receivedAt, at, ': the person is told before the restriction is lifted')
      await deps.fulfilment.liftRestriction(id, principal.name, { reason: input.reason, notifiedSubjectAt, now: at })
      return this.get(id)
    },

    async transition (id: string, to: RequestStatus, principal: Principal, reason?: string): Promise<DataSubjectRequest> {
      const result = await repo.transition(id, to, principal.name, reason)
      if (result.status === 'not_found') throw new Errors.RequestNotFound(id)
      if (result.status === 'illegal') throw new Errors.IllegalTransition(result.from, to)
      return toResource(result.row)
    }
  }
}

export type RequestsService = ReturnType<typeof createRequestsService>
