import { randomUUID } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import type { IntakeEvent, NewRequestRow, RequestRow } from '../db/repositories/requests-repository.js'
import type { TaskRow } from '../db/repositories/tasks-repository.js'
import type { TxHandle } from '../db/client.js'
import type { RequestStatus } from '../domain/lifecycle.js'
import { Errors } from '../errors.js'
import { canDo, checksAccounts, identityCheckEvent, planFor, plannedDetails, planRequest, planTasks, startedReason } from '../engine/planner.js'
import { enqueue, identifyJob, queueTasks, taskWake } from '../jobs/queue.js'
import type { ApprovalPolicy } from '../domain/approval.js'
import { createDecisions, type DecisionDeps } from './decisions.js'
import { DEFAULT_DEADLINE_OPTIONS, type DeadlineOptions } from '../domain/deadlines.js'
import { createVerificationRepository } from '../db/repositories/verification-repository.js'
import { endWaitIn } from '../engine/verification-clock.js'
import type { IdentityCheckMode } from '../domain/identity.js'
import type { SuppressionsService } from './suppressions-service.js'
import { SUPPRESSING_TYPES } from '../domain/suppressions.js'

const HELD_REASON = 'held for approval (APPROVAL_REQUIRED)'

/** A child's erasure reaches every configured system (domain/children.ts). */
const everySystem = (r: { type: string, child?: boolean | undefined }) => r.child === true && r.type === 'erasure'

/**
 * What people and callers ask of a request's fulfilment: verify it (at intake or later), retry or
 * skip a task, lift a restriction. Each is one transaction that writes the change, its audit event
 * and the jobs that follow from it; the workers (src/engine) do the rest.
 */
export function createFulfilmentService (deps: DecisionDeps & {
  /** Which verified requests wait for a person's approval (APPROVAL_REQUIRED). */
  approval: ApprovalPolicy
  log: FastifyBaseLogger
  /** How deadlines are counted (PIPL's days), for the one recomputed when a paused clock resumes. */
  deadlines?: DeadlineOptions
  /** IDENTITY_CHECK: which requests are checked for whom their identifiers lead to before they are planned. */
  identityCheck?: IdentityCheckMode
  /** The suppression list: a verified opt-out, withdrawal, objection or restriction puts the person on it. */
  suppressions: Pick<SuppressionsService, 'startIn' | 'liftIn' | 'otherRestrictionsIn'>
}) {
  const { dbh, registry, tasks, requests, boss, finalizer, approval, log } = deps
  /** APPROVAL_REQUIRED, except for a child's erasure: the privacy policy promises it, and nothing may hold it up. */
  const heldForApproval = (r: Pick<RequestRow, 'type' | 'regime'> & { child?: boolean | undefined }) => approval.requires(r.type, r.regime) && !everySystem(r)
  const waits = createVerificationRepository(dbh)

  /**
   * verify, in the caller's transaction: the request becomes ready (ending its wait in `verifying`,
   * which resumes a paused clock, see verification-clock.ts) and is planned, or held for approval.
   */
  async function verifyIn (requestId: string, actor: string, method: string, tx: TxHandle, at: Date = new Date()): Promise<void> {
    const moved = await requests.transitionIn(requestId, 'ready', actor, `identity verified (${method})`, { method }, tx)
    if (moved.status === 'not_found') throw new Errors.RequestNotFound(requestId)
    if (moved.status === 'illegal') throw new Errors.IllegalTransition(moved.from, 'ready')
    const row = await endWaitIn(moved.row, at, actor, deps.deadlines ?? DEFAULT_DEADLINE_OPTIONS, waits, tx)
    await deps.suppressions.startIn(row, at, tx)
    if (heldForApproval(row)) {
      await requests.transitionFrom(row, 'awaiting_approval', actor, HELD_REASON, undefined, tx)
      return
    }
    await planRequest(row, { registry, tasks, requests, boss, actor, ...(deps.identityCheck ? { identityCheck: deps.identityCheck } : {}) }, tx)
  }

  return {
    /**
     * A request whose identity was verified at intake, stored in one statement with everything
     * that follows from it: the row (in_progress, or ready when no connector can serve it), its
     * audit events (created, verified, planned, started) and its tasks, which wake their workers
     * as it commits. Null when the idempotency key was used before (nothing written). The tasks
     * are returned as stored.
     */
    async createVerified (row: NewRequestRow, actor: string, method: string, tx?: TxHandle): Promise<{ status: RequestStatus, tasks: TaskRow[], duplicateOf: string | null } | null> {
      const at = row.createdAt
      const held = heldForApproval(row)
      // IDENTITY_CHECK: planned once the check knows whom the identifiers lead to (engine/identify.ts).
      const check = held || !deps.identityCheck ? null : identityCheckEvent(row.subject, registry, deps.identityCheck, await checksAccounts(registry, deps.identityCheck, tx ?? dbh))
      const planned: TaskRow[] = held || check
        ? []
        : planFor(registry, row.type, { everySystem: everySystem(row) }).map(({ action, connector, instructions }) => ({
          id: randomUUID(),
          requestId: row.id,
          connectorId: connector.id,
          action,
          status: instructions ? 'manual' as const : 'pending' as const,
          attempts: 0,
          maxAttempts: connector.maxAttempts,
          nextAttemptAt: null,
          leaseOwner: null,
          leaseExpiresAt: null,
          result: null,
          lastErrorCode: null,
          lastErrorMessage: null,
          skipReason: null,
          instructions,
          accountId: null,
          excludedAccounts: null,
          startedAt: null,
          finishedAt: null,
          createdAt: at,
          updatedAt: at
        }))
      const status: RequestStatus = held ? 'awaiting_approval' : planned.length > 0 ? 'in_progress' : 'ready'
      const events: IntakeEvent[] = [
        { action: 'created', to: 'received' },
        { action: 'transition', from: 'received', to: 'ready', reason: `identity verified (${method})`, details: { method } },
        ...(held
          ? [{ action: 'transition', from: 'ready' as const, to: 'awaiting_approval' as const, reason: HELD_REASON }]
          : check
            ? [{ action: 'identity_check_started', reason: check.reason, details: check.details }]
            : [
                { action: 'planned', details: plannedDetails(row.type, planned, registry) },
                ...(planned.length > 0 ? [{ action: 'transition', from: 'ready' as const, to: 'in_progress' as const, reason: startedReason(planned.length) }] : [])
              ])
      ]
      // The check's job is queued, and the person goes on the suppression list, with the row that verified them, in one transaction.
      const store = async (t?: TxHandle) => {
        const stored = await requests.insertPlanned({ ...row, status }, actor, events, planned, taskWake(planned.filter((p) => p.status === 'pending')), t)
        if (stored && t) {
          if (check) await enqueue(boss, [identifyJob(row.id)], t)
          await deps.suppressions.startIn(row, at, t)
        }
        return stored
      }
      const inserted = tx !== undefined || (!check && !SUPPRESSING_TYPES.includes(row.type)) ? await store(tx) : await dbh.transaction(store)
      return inserted ? { status, tasks: planned, duplicateOf: inserted.duplicateOf } : null
    },

    /** Identity verified: the request becomes ready and its tasks are planned, or it waits for approval where policy says so, atomically. */
    async verify (requestId: string, actor: string, method: string): Promise<void> {
      await dbh.transaction((tx) => verifyIn(requestId, actor, method, tx))
    },

    verifyIn,

    ...createDecisions(deps),

    /**
     * Lifts a completed request's restriction (GDPR Art 18(3): the person was told first, at
     * `notifiedSubjectAt`). In one transaction: the lift is recorded on the request with its
     * `restriction_lifted` event, and an `unrestrict` task (with its job) is planned for every
     * connector that placed the restriction. The request stays completed: the lift is a later act on
     * a fulfilled request, not a reopening of it, so its deadline, overdue state and metrics are not
     * disturbed (see lifecycle.ts); the unrestrict tasks show the lift's progress, and a failed one
     * is retried or skipped like any other.
     */
    async liftRestriction (requestId: string, actor: string, input: { reason: string, notifiedSubjectAt: Date, now: Date }): Promise<RequestRow> {
      return dbh.transaction(async (tx) => {
        if (!await tasks.lockRequest(requestId, {}, tx)) throw new Errors.RequestNotFound(requestId)
        const restricted = await tasks.restrictedConnectors(requestId, tx)
        // Lifted by the connector where it can; by a person (a manual unrestrict task) where the
        // system is configured but its connector cannot, or a person placed the restriction there.
        const automatic = restricted.filter((id) => { const c = registry.get(id); return c !== undefined && !c.manual?.only && canDo(c, 'unrestrict') })
        const byHand = restricted.filter((id) => !automatic.includes(id) && registry.get(id) !== undefined)
        const configured = [...automatic, ...byHand]
        const notConfigured = restricted.filter((id) => registry.get(id) === undefined)
        const lifted = await requests.liftRestrictionIn(requestId, { actor, ...input, connectors: configured, notConfigured }, tx)
        switch (lifted.status) {
          case 'not_found': throw new Errors.RequestNotFound(requestId)
          case 'not_applicable': throw new Errors.RestrictionNotPlaced(`a ${lifted.row.type} request places none`)
          case 'not_placed': throw new Errors.RestrictionNotPlaced("no system marked the person's data as restricted")
          case 'not_completed': throw new Errors.RestrictionNotCompleted(lifted.row.status)
          case 'already_lifted': throw new Errors.RestrictionAlreadyLifted()
          case 'redacted': throw new Errors.RestrictionSubjectRedacted()
        }
        // This request's restriction ends on the suppression list; another of the same person's stays.
        await deps.suppressions.liftIn(requestId, input.now, tx)
        // A person lifting by hand is told when the mark must stay (the engine keeps it itself: runner.ts).
        const others = byHand.length > 0 ? await deps.suppressions.otherRestrictionsIn(requestId, tx) : []
        const keep = others.length > 0
          ? ` Another restriction of this person is still in force (request ${others.map((o) => o.requestId).join(', ')}): leave the mark in place and record this task as done, saying so.`
          : ''
        if (notConfigured.length > 0) {
          log.warn({ requestId, connectors: notConfigured }, 'restriction lifted: connectors that placed it are not configured here, their mark stays')
        }
        await planTasks(requestId, 'unrestrict', automatic, { registry, tasks, boss }, tx)
        await tasks.plan(requestId, 'unrestrict', byHand.map((id) => {
          const c = registry.get(id)!
          return {
            id,
            maxAttempts: c.maxAttempts,
            instructions: (c.manual?.instructions.unrestrict ??
              `Lift the restriction of processing placed on the person's records in ${c.displayName} (remove the mark or tag), then record the outcome on this task.`) + keep
          }
        }), tx)
        return lifted.row
      })
    },

    /** Runs a failed task again from scratch, reopening the request if it had closed. */
    async retryTask (requestId: string, taskId: string, actor: string): Promise<TaskRow> {
      return dbh.transaction(async (tx) => {
        const request = await tasks.lockRequest(requestId, {}, tx)
        const task = request ? await tasks.get(taskId, tx) : null
        if (!request || !task || task.requestId !== requestId) throw new Errors.TaskNotFound(taskId)
        const reset = await tasks.reset(taskId, ['failed'], { status: 'pending' }, tx)
        if (!reset) throw new Errors.IllegalTaskAction('retry', task.status)
        if (request.status === 'failed' || request.status === 'partially_completed') {
          await requests.transitionIn(requestId, 'in_progress', actor, `task ${task.connectorId}/${task.action} retried`, undefined, tx)
        }
        await requests.recordEvent(requestId, actor, 'task_retried', null, { task_id: taskId, connector: task.connectorId, action: task.action }, tx)
        await queueTasks([task], tx)
        return reset
      })
    },

    /** Marks a task as deliberately not done, with the reason on record; may close the request. */
    async skipTask (requestId: string, taskId: string, actor: string, reason: string): Promise<TaskRow> {
      return dbh.transaction(async (tx) => {
        const request = await tasks.lockRequest(requestId, {}, tx)
        const task = request ? await tasks.get(taskId, tx) : null
        if (!request || !task || task.requestId !== requestId) throw new Errors.TaskNotFound(taskId)
        const skipped = await tasks.reset(taskId, ['failed', 'pending', 'retry_wait', 'waiting', 'manual'], { status: 'skipped', skipReason: reason }, tx)
        if (!skipped) throw new Errors.IllegalTaskAction('skip', task.status)
        if (request.status === 'failed' || request.status === 'partially_completed') {
          await requests.transitionIn(requestId, 'in_progress', actor, `task ${task.connectorId}/${task.action} skipped`, undefined, tx)
        }
        await requests.recordEvent(requestId, actor, 'task_skipped', reason, { task_id: taskId, connector: task.connectorId, action: task.action }, tx)
        await finalizer.finalizeIfDone(requestId, actor, {}, tx)
        return skipped
      })
    }
  }
}

export type FulfilmentService = ReturnType<typeof createFulfilmentService>
