import type { DbHandle, TxHandle } from '../db/client.js'
import type { RequestRow, RequestsRepository } from '../db/repositories/requests-repository.js'
import type { TaskRow, TasksRepository } from '../db/repositories/tasks-repository.js'
import type { ManualOutcome } from '../db/schema.js'
import { refusalProvision, type Refusal, type RefusalGround } from '../domain/refusal-grounds.js'
import { Errors } from '../errors.js'
import type { ConnectorRegistry } from '../connectors/registry.js'
import type { Finalizer } from '../engine/finalize.js'
import { planRequest } from '../engine/planner.js'
import type { Boss } from '../jobs/queue.js'
import type { IdentityCheckMode } from '../domain/identity.js'

/** The task statuses a system's part may be refused from: not running, and not done (a failed one may still be retried). */
export const OPEN_TASK_TO_REFUSE = ['pending', 'retry_wait', 'waiting', 'manual', 'failed'] as const

export interface RefusalInput { ground: RefusalGround, explanation: string }
export interface ManualCompletion { outcome: ManualOutcome['outcome'], note: string, evidence_ref?: string | undefined }

/**
 * What people decide about a request, each in one transaction with its audit event: approve one
 * that policy held, reject it on a coded legal ground, refuse one system's part of it, and record
 * the outcome of a task done by hand. A refusal or a manual outcome may close the request.
 */
/** What fulfilment and decisions work with: the database, the systems, the task and request repositories, the queue. */
export interface DecisionDeps {
  dbh: DbHandle
  registry: ConnectorRegistry
  tasks: TasksRepository
  requests: RequestsRepository
  boss: Boss
  /** Closes a request whose last open task was skipped, refused or done by hand. */
  finalizer: Finalizer
  /** IDENTITY_CHECK: which requests are checked for whom their identifiers lead to before they are planned. */
  identityCheck?: IdentityCheckMode
}

export function createDecisions (deps: DecisionDeps) {
  const { dbh, registry, tasks, requests, boss, finalizer } = deps

  /** The refusal as recorded: its ground must have a provision for the request's regime and type. */
  function refusalOf (request: Pick<RequestRow, 'regime' | 'type'>, input: RefusalInput, actor: string): Refusal {
    const provision = refusalProvision(input.ground, request.regime, request.type)
    if (provision === null) throw new Errors.RefusalGroundNotApplicable(input.ground, request.type, request.regime)
    return { ground: input.ground, provision, explanation: input.explanation, by: actor, at: new Date().toISOString() }
  }

  /** The request locked, and one of its tasks, for a task decision; 404 when either is missing. */
  async function lockTask (requestId: string, taskId: string, tx: TxHandle): Promise<{ request: RequestRow, task: TaskRow }> {
    const request = await tasks.lockRequest(requestId, {}, tx)
    const task = request ? await tasks.get(taskId, tx) : null
    if (!request || !task || task.requestId !== requestId) throw new Errors.TaskNotFound(taskId)
    return { request, task }
  }

  return {
    /** A request held for approval is approved: it becomes ready and is planned at once. */
    async approve (requestId: string, actor: string, note: string | null): Promise<void> {
      await dbh.transaction(async (tx) => {
        const current = await tasks.lockRequest(requestId, {}, tx)
        if (!current) throw new Errors.RequestNotFound(requestId)
        if (current.status !== 'awaiting_approval') throw new Errors.NotAwaitingApproval(current.status)
        const moved = await requests.transitionFrom(current, 'ready', actor, 'approved', note ? { note } : undefined, tx)
        if (moved.status !== 'moved') throw new Errors.NotAwaitingApproval(current.status)
        await planRequest(moved.row, { registry, tasks, requests, boss, actor, ...(deps.identityCheck ? { identityCheck: deps.identityCheck } : {}) }, tx)
      })
    },

    /**
     * Rejects a request that no system was asked to act on yet, on a coded legal ground with the
     * explanation the person is given. Recorded on the request (`refusal`) and on its trail.
     */
    async reject (requestId: string, actor: string, input: RefusalInput): Promise<void> {
      await dbh.transaction(async (tx) => {
        const current = await tasks.lockRequest(requestId, {}, tx)
        if (!current) throw new Errors.RequestNotFound(requestId)
        const refusal = refusalOf(current, input, actor)
        const moved = await requests.transitionFrom(current, 'rejected', actor, `refused: ${refusal.ground}`, { ground: refusal.ground, provision: refusal.provision }, tx)
        if (moved.status !== 'moved') throw new Errors.IllegalTransition(current.status, 'rejected')
        await requests.setRefusal(requestId, refusal, tx)
      })
    },

    /** Refuses one system's part of a request on a legal ground: its task is skipped with the refusal on record. */
    async refuseTask (requestId: string, taskId: string, actor: string, input: RefusalInput): Promise<TaskRow> {
      return dbh.transaction(async (tx) => {
        const { request, task } = await lockTask(requestId, taskId, tx)
        const refusal = refusalOf(request, input, actor)
        const refused = await tasks.reset(taskId, OPEN_TASK_TO_REFUSE, {
          status: 'skipped', skipReason: `refused (${refusal.ground}, ${refusal.provision})`, result: { ...task.result, refusal }
        }, tx)
        if (!refused) throw new Errors.IllegalTaskAction('refuse', task.status)
        await requests.recordEvent(requestId, actor, 'task_refused', `refused: ${refusal.ground}`, {
          task_id: taskId, connector: task.connectorId, action: task.action, ground: refusal.ground, provision: refusal.provision
        }, tx)
        await finalizer.finalizeIfDone(requestId, actor, {}, tx)
        return refused
      })
    },

    /** Records what a person did for a manual task: it succeeds with their outcome, note and evidence reference. */
    async completeTask (requestId: string, taskId: string, actor: string, input: ManualCompletion): Promise<TaskRow> {
      return dbh.transaction(async (tx) => {
        const { task } = await lockTask(requestId, taskId, tx)
        const manual: ManualOutcome = { outcome: input.outcome, note: input.note, evidence_ref: input.evidence_ref ?? null, by: actor }
        const done = await tasks.reset(taskId, ['manual'], { status: 'succeeded', result: { manual } }, tx)
        if (!done) throw new Errors.IllegalTaskAction('complete', task.status)
        await requests.recordEvent(requestId, actor, 'task_completed_manually', null, {
          task_id: taskId, connector: task.connectorId, action: task.action, outcome: input.outcome, evidence_ref: manual.evidence_ref
        }, tx)
        // A restriction placed by hand is placed all the same: it shows on the request, and is lifted like any other.
        if (task.action === 'restrict' && input.outcome === 'done') await requests.markRestrictionPlaced(requestId, tx)
        await finalizer.finalizeIfDone(requestId, actor, {}, tx)
        return done
      })
    }
  }
}
